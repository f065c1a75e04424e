"""--balance and "= step" balance the whole load (latency + the pipeline's own work) against
the train step, so the pipeline's own work is not counted twice."""
import pytest

from pipeviz.core.balance import Balance


def test_latency_is_the_step_minus_the_pipelines_own_time():
    assert Balance(compute_ms=12.0, pipeline_ms=4.5).latency_ms == pytest.approx(7.5)
    assert Balance(compute_ms=3.0, pipeline_ms=4.5).latency_ms == 0.0, "never negative"


def test_measured_on_real_steps(small_shards, step_loop):
    """Both parts come from real steps of the naive config at no latency (no timing is
    compared: this machine's noise is larger than Augment's share of a small batch)."""
    from pipeviz.core.bench import measure_balance
    measured = measure_balance(small_shards, 32, steps=40, loop=step_loop)
    assert measured.compute_ms > 0 and measured.pipeline_ms > 0, measured
    assert measured.latency_ms == pytest.approx(max(0.0, measured.compute_ms - measured.pipeline_ms))


def step(n: int, compute_ms: float, normalize_ms: float, augment_ms: float, read_ms: float = 0.0):
    from pipeviz.core.events import StepEvent
    t = 100.0 + n
    t_norm = t + normalize_ms / 1e3
    t_aug = t_norm + augment_ms / 1e3
    return StepEvent(step=n, epoch=0, batch_size=32, loss=1.0, accuracy=0.5, input_wait_s=0.0,
                     compute_s=compute_ms / 1e3, host_s=0.0, wall_s=compute_ms / 1e3,
                     t_loaded=t, t_normalized=t_norm, t_augmented=t_aug, t_enqueued=t_aug,
                     t_requested=t_aug, t_taken=t_aug, t_trained=t_aug + compute_ms / 1e3,
                     t_started=t - read_ms / 1e3)


def test_from_live_steps_takes_medians_of_compute_and_the_work_after_the_read():
    from pipeviz.core.balance import Balance
    steps = [step(n, 12.0, 1.0, 3.0) for n in range(9)] + [step(9, 500.0, 90.0, 90.0)]  # a stall
    balance = Balance.from_steps(steps)
    assert balance.compute_ms == pytest.approx(12.0) and balance.pipeline_ms == pytest.approx(4.0)
    assert balance.latency_ms == pytest.approx(8.0)
    assert Balance.from_steps([]) is None


def test_start_balancer_matches_once_after_the_warm_up_and_again_after_restart():
    from pipeviz.core.balance import StartBalancer
    balancer = StartBalancer(warmup=5, steps=10, share=1.0)
    slow_warmup = [step(n, 200.0, 1.0, 1.0) for n in range(5)]  # tracing: left out
    assert balancer.feed(slow_warmup) is None
    assert balancer.feed([step(n, 10.0, 1.0, 2.0) for n in range(5, 14)]) is None  # 9 of 10
    assert balancer.feed([step(14, 10.0, 1.0, 2.0), step(15, 10.0, 1.0, 2.0)]) == pytest.approx(7.0)
    assert balancer.done and balancer.feed([step(16, 30.0, 1.0, 2.0)] * 20) is None, "once per run"
    balancer.restart()
    assert not balancer.done
    assert balancer.feed([step(n, 30.0, 1.0, 2.0) for n in range(15)]) == pytest.approx(27.0)


def test_the_automatic_match_leaves_loading_a_margin_below_the_step():
    from pipeviz.core.balance import MATCH_SHARE, Balance, StartBalancer
    assert 0.5 < MATCH_SHARE < 1.0
    assert Balance(20.0, 4.0).latency_for(MATCH_SHARE) == pytest.approx(20.0 * MATCH_SHARE - 4.0)
    balancer = StartBalancer(warmup=0, steps=3)
    assert balancer.feed([step(n, 20.0, 1.0, 3.0) for n in range(3)]) == pytest.approx(20.0 * MATCH_SHARE - 4.0)


def test_the_reads_own_work_counts_but_not_the_latency_being_set():
    """A read span of 15 ms under a 10 ms latency is 5 ms of the pipeline's own work
    (records, shuffle, batch), which loading pays whatever latency is set."""
    from pipeviz.core.balance import Balance, StartBalancer
    steps = [step(n, 30.0, 1.0, 3.0, read_ms=15.0) for n in range(5)]
    assert Balance.from_steps(steps, latency_ms=10.0).pipeline_ms == pytest.approx(9.0)
    assert Balance.from_steps(steps, latency_ms=20.0).pipeline_ms == pytest.approx(4.0), "never below 0"
    balancer = StartBalancer(warmup=0, steps=5, share=1.0)
    balancer.restart(latency_ms=10.0)
    assert balancer.feed(steps) == pytest.approx(21.0)
