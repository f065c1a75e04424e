"""--balance and "= step" balance the whole load (latency + the pipeline's own work) against
the train step, so the pipeline's own work is not counted twice."""
import pytest

from pipeviz.core.bench import Balance


def test_latency_is_the_step_minus_the_pipelines_own_time():
    assert Balance(compute_ms=12.0, pipeline_ms=4.5).latency_ms == pytest.approx(7.5)
    assert Balance(compute_ms=3.0, pipeline_ms=4.5).latency_ms == 0.0, "never negative"


def test_measured_on_real_steps(small_shards, step_loop):
    from pipeviz.core.bench import measure_balance
    from pipeviz.core.config import PipelineConfig
    plain = measure_balance(small_shards, 32, steps=40, loop=step_loop,
                            base=PipelineConfig(augment=False))
    augmented = measure_balance(small_shards, 32, steps=40, loop=step_loop)
    assert plain.compute_ms > 0 and 0 < plain.pipeline_ms < augmented.pipeline_ms, (plain, augmented)
    assert augmented.latency_ms < augmented.compute_ms
