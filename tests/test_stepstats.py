"""One set of step statistics: the accounting on a fake clock, and the parts adding up."""
import numpy as np
import pytest

from pipeviz.core.events import StepEvent
from pipeviz.core.stepstats import Rolling, StepAccount, StepStats, input_verdict
from pipeviz.core.trainer import step_timing


def call_rows(t0: float, steps: int, wait: float, compute: float, host: float = 0.0,
              ready_after: float | None = None) -> dict[str, np.ndarray]:
    """In-graph stamps of one call on a fake clock: each step asks `host` after the last
    one ended, its batch exists `ready_after` seconds after asking (default: when taken)."""
    asked, taken, trained, enqueued = [], [], [], []
    t = t0
    for _ in range(steps):
        a = t + host
        asked.append(a)
        taken.append(a + wait)
        enqueued.append(a + (wait if ready_after is None else ready_after))
        trained.append(a + wait + compute)
        t = trained[-1]
    return {"t_requested": np.array(asked), "t_taken": np.array(taken),
            "t_trained": np.array(trained), "t_enqueued": np.array(enqueued)}


def test_a_stall_between_epochs_lowers_images_per_second():
    """Two epochs of 10 steps (4 ms compute, 1 ms wait), then the same with a 1 s stall
    between them: the stall is booked as `between`, and images/s is images / clock."""
    account, clean = StepAccount(), StepAccount()
    for stall, acc in ((0.0, clean), (1.0, account)):
        done = 100.0
        for epoch in range(2):
            gap = stall if epoch == 1 else 0.0
            rows = call_rows(done + gap, 10, wait=0.001, compute=0.004)
            timing = step_timing(rows, done + gap, between_s=gap)
            acc.add_steps(np.full(10, 32), timing)
            done = float(rows["t_trained"][-1])
        clock = done - 100.0
        assert acc.stats().wall_s == pytest.approx(clock)
        assert acc.stats().images_per_s == pytest.approx(640 / clock)
    assert account.stats().between_s == pytest.approx(1.0)
    assert account.stats().images_per_s < 0.1 * clean.stats().images_per_s
    assert account.stats().input_wait_fraction < clean.stats().input_wait_fraction


def test_a_batch_ready_before_it_was_asked_for_waits_nothing():
    """Handing over a batch that sat in the buffer (get_next's dispatch) is host time."""
    rows = call_rows(10.0, 4, wait=0.0003, compute=0.004, host=0.0001, ready_after=-0.002)
    timing = step_timing(rows, 10.0)
    assert np.allclose(timing["input_wait_s"], 0.0)
    assert np.allclose(timing["host_s"], 0.0004)
    late = step_timing(call_rows(10.0, 4, wait=0.003, compute=0.004, ready_after=0.0028), 10.0)
    assert np.allclose(late["input_wait_s"], 0.0028) and np.allclose(late["host_s"], 0.0002)
    for t in (timing, late):
        assert np.allclose(t["wall_s"], t["host_s"] + t["input_wait_s"] + t["compute_s"] + t["between_s"])


def test_without_stage_stamps_the_whole_get_next_is_wait():
    rows = call_rows(10.0, 3, wait=0.002, compute=0.004)
    rows["t_enqueued"] = np.zeros(3)
    assert np.allclose(step_timing(rows, 10.0)["input_wait_s"], 0.002)


def event(n, wait=0.001, compute=0.004, host=0.0005, between=0.0):
    return StepEvent(step=n, epoch=0, batch_size=32, loss=1.0, accuracy=0.5, input_wait_s=wait,
                     compute_s=compute, host_s=host, wall_s=wait + compute + host + between,
                     t_loaded=0, t_normalized=0, t_enqueued=0, t_requested=0, t_taken=0,
                     t_trained=0, between_s=between)


def test_stats_parts_add_up_and_fractions_sum_to_one():
    steps = [event(n, wait=0.001 * (n % 4), between=0.3 if n == 7 else 0.0) for n in range(40)]
    s = StepStats.of(steps)
    assert s.wall_s == pytest.approx(sum(e.wall_s for e in steps))
    assert (s.input_wait_fraction + s.host_fraction + s.between_fraction + s.compute_fraction
            == pytest.approx(1.0))
    assert s.idle_fraction == pytest.approx(1 - s.compute_fraction)
    parts = sum(s.ms_per_step(p) for p in ("input_wait_s", "host_s", "between_s", "compute_s"))
    assert parts == pytest.approx(s.ms_per_step())


def test_rolling_equals_the_stats_of_the_same_window():
    steps = [event(n, wait=0.0001 * (n % 7), between=0.05 if n % 25 == 0 else 0.0) for n in range(120)]
    rolling = Rolling(50)
    values = [rolling.add(e) for e in steps]
    for i in (10, 49, 50, 119):
        expected = StepStats.of(steps[max(0, i - 49): i + 1])
        assert values[i].steps == expected.steps
        assert values[i].idle_fraction == pytest.approx(expected.idle_fraction)
        assert values[i].images_per_s == pytest.approx(expected.images_per_s)


@pytest.mark.parametrize("wait, verdict", [(0.0, "not input-bound"), (0.049, "not input-bound"),
                                           (0.05, "moderately input-bound"),
                                           (0.199, "moderately input-bound"),
                                           (0.2, "highly input-bound")])
def test_tensorboard_thresholds(wait, verdict):
    assert input_verdict(wait) == verdict
