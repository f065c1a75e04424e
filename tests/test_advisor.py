"""The bottleneck advisor: verdicts and predictions from measured steps."""
import pytest

from conftest import wait_until

from pipeviz.core.advisor import COMPUTE, HOST, INPUT, Trial, advise
from pipeviz.core.config import AUTOTUNE, PipelineConfig, TrainerConfig, preset
from pipeviz.core.events import EventChannel, StepEvent


def step(n, wait, compute, host=0.0, read=None, normalize=0.0002, t=100.0):
    """A step whose stage stamps agree with its breakdown (read defaults to the wait)."""
    read = wait if read is None else read
    t_requested = t + host
    t_taken = t_requested + wait
    t_loaded = t_taken - normalize
    return StepEvent(step=n, epoch=0, batch_size=32, loss=1.0, accuracy=0.5,
                     input_wait_s=wait, compute_s=compute, host_s=host, wall_s=host + wait + compute,
                     t_loaded=t_loaded, t_normalized=t_taken, t_enqueued=t_taken,
                     t_requested=t_requested, t_taken=t_taken, t_trained=t_taken + compute,
                     t_started=t_loaded - read)


def test_prefetch_off_and_waiting_predicts_max_of_load_and_compute():
    steps = [step(n, wait=0.006, compute=0.004) for n in range(50)]
    advice = advise(steps, preset("naive"))
    assert advice.bound == INPUT and advice.share == pytest.approx(0.6)
    assert advice.changes == {"prefetch": AUTOTUNE}
    assert advice.current.wall_ms == pytest.approx(10.0)
    assert advice.predicted_wall_ms == pytest.approx(6.0)   # max(6, 4), not 6 + 4
    assert advice.predicted_speedup == pytest.approx(10 / 6)
    assert "60%" in advice.headline


def test_with_prefetch_on_parallel_reads_then_cache_are_next():
    steps = [step(n, wait=0.006, compute=0.004, read=0.008) for n in range(50)]
    advice = advise(steps, preset("prefetch"))
    assert advice.changes == {"parallel_reads": 4}
    # the producer makes a batch per 10 ms step, 8 of them reading; reading 4 files at once
    # takes 2: 10 - 8 + 2 = 4 ms to produce, as long as compute, so the step becomes 4 ms
    assert advice.predicted_wall_ms == pytest.approx(4.0)
    slower_read = [step(n, wait=0.006, compute=0.002, read=0.016) for n in range(50)]
    # a read (16 ms) longer than the step: 16 / 4 + 0.2 normalize bounds the step
    assert advise(slower_read, preset("prefetch")).predicted_wall_ms == pytest.approx(4.2)
    advice = advise(steps, preset("prefetch").replace(parallel_reads=4))
    assert advice.changes == {"cache": True} and advice.predicted_wall_ms == pytest.approx(4.0)
    assert advise(steps, preset("all")).changes == {}


def test_a_slow_inline_augment_is_made_parallel_first():
    """With prefetch on and Augment inline taking most of the producer's time, the advice is
    the parallel map (the tf.data guide's parallel-map lesson)."""
    from dataclasses import replace as with_fields
    steps = [with_fields(s, t_augmented=s.t_normalized + 0.008)
             for s in (step(n, wait=0.006, compute=0.004, read=0.001) for n in range(50))]
    config = preset("prefetch").replace(augment=True, parallel_augment=1)
    advice = advise(steps, config)
    assert advice.changes == {"parallel_augment": AUTOTUNE}
    assert advice.current.augment_ms == pytest.approx(8.0)
    assert "augmenting takes 8.0 ms" in advice.reason
    assert advice.predicted_wall_ms < advice.current.wall_ms
    # already parallel: the next knob (parallel reads) comes up instead
    assert advise(steps, config.replace(parallel_augment=AUTOTUNE)).changes == {"parallel_reads": 4}


def test_compute_and_host_bound_offer_no_pipeline_change():
    assert advise([step(n, wait=0.0002, compute=0.004) for n in range(20)], preset("naive")).bound == COMPUTE
    host = advise([step(n, wait=0.0002, compute=0.004, host=0.003) for n in range(20)], preset("naive"))
    assert host.bound == HOST and host.changes == {}
    assert advise([], preset("naive")) is None


def test_a_stall_counts_as_the_clock_saw_it():
    """Sums, not medians: one long wait is part of the window's wall time, as it was."""
    steps = [step(n, wait=0.0002, compute=0.004) for n in range(20)]
    steps[5] = step(5, wait=0.5, compute=0.004)
    advice = advise(steps, preset("naive"))
    assert advice.bound == INPUT
    assert advice.current.wall_ms == pytest.approx(1e3 * (0.5 + 19 * 0.0002 + 20 * 0.004) / 20)


def test_parts_add_up_to_the_step_shown():
    steps = [step(n, wait=0.001 * (n % 3), compute=0.004, host=0.0005) for n in range(30)]
    p = advise(steps, preset("prefetch")).current
    assert p.wait_ms + p.host_ms + p.between_ms + p.compute_ms == pytest.approx(p.wall_ms)
    assert "mean of the last 30 steps" in p.parts()


def test_trial_measures_after_the_change_and_reports_both():
    before = [step(n, wait=0.006, compute=0.004) for n in range(50)]
    advice = advise(before, preset("naive"))
    trial = Trial(advice, first_step=100, needed=20, settle=5)
    assert not trial.add([step(n, wait=0.006, compute=0.004) for n in range(100, 105)])
    assert trial.progress == 0, "settling steps are not measured"
    assert trial.add([step(n, wait=0.0015, compute=0.004) for n in range(105, 140)])
    assert trial.measured.wall_ms == pytest.approx(5.5)
    text = trial.summary()
    assert "predicted 6.0 ms" in text and "measured 5.5 ms" in text and "1.82x" in text


def test_real_training_input_bound_with_latency_compute_bound_without(small_shards, step_loop):
    """One real run: slow naive storage first, then (live) every feature and no latency."""
    from pipeviz.core.trainer import Trainer
    # a small shuffle buffer, so each batch of the small data set pulls fresh reads
    slow = preset("naive", PipelineConfig(storage_latency_ms=25, shuffle_buffer=64))
    fast = preset("all", slow.replace(storage_latency_ms=0))
    channel = EventChannel(lossy_capacity=10_000)
    trainer = Trainer(small_shards, slow, TrainerConfig(epochs=1000), channel, loop=step_loop)
    trainer.start()
    try:
        assert wait_until(lambda: trainer.global_step >= 50, 120)
        trainer.reconfigure(fast)
        assert wait_until(lambda: trainer.pipeline_config == fast, 30)
        switched = trainer.global_step
        assert wait_until(lambda: trainer.global_step >= switched + 50, 120)
    finally:
        trainer.stop()
        assert trainer.join(30)
    steps = [e for e in channel.drain() if isinstance(e, StepEvent)]
    before = [e for e in steps if 20 <= e.step <= 50]
    advice = advise(before, slow)
    assert advice.bound == INPUT and advice.changes == {"prefetch": AUTOTUNE}
    assert advice.current.read_ms >= 20, "the read stage holds the storage latency"
    after = [e for e in steps if e.step > switched + 10]
    assert advise(after, fast).bound == COMPUTE
