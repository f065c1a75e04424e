"""One set of steps fed to each panel that shows a figure about them: the idle plot (its
newest point and the figures above it), the advisor, bench's summary and the Learn panel's
evidence read the same numbers (core/stepstats.py), and the parts add up to the step."""
import numpy as np
import pytest

from pipeviz.core.advisor import advise
from pipeviz.core.config import PipelineConfig
from pipeviz.core.events import ConfigApplied, StepEvent
from pipeviz.core.learn import KnobEvidence
from pipeviz.core.measure import summarize
from pipeviz.core.stepstats import PARTS, WINDOW_STEPS, StepAccount

RNG = np.random.default_rng(3)


def steps(first: int, count: int, wait_ms: float) -> list[StepEvent]:
    """Steps with varied parts, one in 40 carrying a long pause between steps."""
    out = []
    for n in range(first, first + count):
        wait = RNG.uniform(0, 2 * wait_ms) / 1e3
        host = RNG.uniform(0.0001, 0.0008)
        compute = RNG.uniform(0.004, 0.006)
        between = 0.4 if n % 40 == 0 else 0.0
        t = 1000.0 + n * 0.02
        out.append(StepEvent(step=n, epoch=0, batch_size=32, loss=1.0, accuracy=0.5,
                             input_wait_s=wait, compute_s=compute, host_s=host,
                             wall_s=wait + compute + host + between, t_loaded=t, t_normalized=t,
                             t_enqueued=t, t_requested=t, t_taken=t + wait, t_trained=t + wait + compute,
                             t_started=t, between_s=between))
    return out


def bench_result(window: list[StepEvent]):
    """What `pipeviz bench` reports for these steps: the trainer's account of them."""
    account = StepAccount()
    account.add_steps(np.array([e.batch_size for e in window]),
                      {p: np.array([getattr(e, p) for e in window]) for p in PARTS})
    return summarize("custom", PipelineConfig(), account.stats(), window[0].step)


def test_idle_plot_advisor_bench_and_evidence_agree_on_the_same_steps(qtbot):
    from pipeviz.gui.plots import LivePlots
    window = steps(1, WINDOW_STEPS, wait_ms=1.5)
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.add_steps(window)
    plots.refresh()
    advice = advise(window, PipelineConfig())
    bench = bench_result(window)
    plot_idle = plots.idle_total.getData()[1][-1]
    plot_wait = plots.idle_wait.getData()[1][-1]
    plot_host = plots.idle_host.getData()[1][-1] - plot_wait
    p = advice.current
    for name, plot_value, advisor_value, bench_value in (
            ("idle", plot_idle, 100 * (1 - p.share(p.compute_ms)), 100 * bench.idle_fraction),
            ("wait", plot_wait, 100 * p.share(p.wait_ms), 100 * bench.input_wait_fraction),
            ("host", plot_host, 100 * p.share(p.host_ms), 100 * bench.host_fraction)):
        assert abs(plot_value - advisor_value) <= 2 and abs(plot_value - bench_value) <= 2, name
    # the same numbers, not just close: one statistic
    assert plots.latest.idle_fraction == pytest.approx(bench.idle_fraction)
    assert plots.latest.images_per_s == pytest.approx(bench.images_per_s)
    assert p.images_per_s == pytest.approx(bench.images_per_s)
    assert p.wait_ms + p.host_ms + p.between_ms + p.compute_ms == pytest.approx(p.wall_ms)
    assert f"{100 * bench.idle_fraction:.0f}%" in plots.idle_figures.text()
    assert bench.verdict in advice.reason and bench.verdict in plots.idle_figures.text()


def test_learn_evidence_reads_the_same_statistic():
    knobs = KnobEvidence(window=WINDOW_STEPS, settle=0)
    before, after = steps(1, WINDOW_STEPS, 6.0), steps(WINDOW_STEPS + 1, WINDOW_STEPS, 0.1)
    knobs.add_steps(before + after)
    knobs.add_change(ConfigApplied(WINDOW_STEPS + 1, 0.0, PipelineConfig(prefetch=-1), ("prefetch",)))
    text = knobs.effect("prefetch")
    for side in (before, after):
        assert f"{bench_result(side).idle_fraction:.0%}" in text
        assert f"{bench_result(side).images_per_s:,.0f}" in text
