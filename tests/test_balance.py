"""--balance and "= step" balance the whole load (latency + the pipeline's own work) against
the train step, so the pipeline's own work is not counted twice."""
import pytest

from pipeviz.core.bench import Balance


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
