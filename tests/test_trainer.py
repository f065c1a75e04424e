import random

import numpy as np
import time

import pytest

from conftest import wait_until
from pipeviz.core.config import ConfigError, PipelineConfig, TrainerConfig, preset
from pipeviz.core.events import ConfigApplied, EpochSummary, EventChannel, StateChanged, StepEvent
from pipeviz.core.state import WorkerState


def make_trainer(shards, pipeline=None, loop=None, **config):
    """A trainer on `loop` (reset here: each trainer starts from the same initial weights)."""
    from pipeviz.core.trainer import Trainer
    if loop is not None:
        loop.reset()
    channel = EventChannel(lossy_capacity=100_000)
    return Trainer(shards, pipeline or PipelineConfig(), TrainerConfig(**config), channel, loop=loop), channel


def steps_of(events):
    return [e for e in events if isinstance(e, StepEvent)]


def test_start_pause_resume_stop(small_shards, step_loop):
    trainer, channel = make_trainer(small_shards, loop=step_loop, epochs=1000)
    trainer.start()
    try:
        assert wait_until(lambda: trainer.global_step > 5, 60)
        trainer.pause()
        assert wait_until(lambda: trainer.state == WorkerState.PAUSED)
        paused_at = trainer.global_step
        assert not wait_until(lambda: trainer.global_step != paused_at, 0.5), "trained while paused"
        trainer.resume()
        assert wait_until(lambda: trainer.global_step > paused_at + 5)
    finally:
        trainer.stop()
        assert trainer.join(10), "worker did not stop"
    assert trainer.state == WorkerState.STOPPED
    states = [e.state for e in channel.drain() if isinstance(e, StateChanged)]
    assert states == [WorkerState.RUNNING, WorkerState.PAUSED, WorkerState.RUNNING, WorkerState.STOPPED]


def test_step_breakdown_adds_up_and_training_learns(small_shards, step_loop):
    trainer, channel = make_trainer(small_shards, loop=step_loop, pipeline=PipelineConfig(storage_latency_ms=1),
                                    epochs=2)
    started = time.time()
    trainer.start()
    assert trainer.join(120) and trainer.state == WorkerState.FINISHED
    ended = time.time()
    events = channel.drain()
    steps = steps_of(events)
    assert [e.step for e in steps] == list(range(1, len(steps) + 1))
    assert len(steps) == 2 * (-(-1200 // 32))
    for e in steps:
        assert e.wall_s == pytest.approx(e.host_s + e.input_wait_s + e.compute_s + e.between_s, abs=1e-9)
        assert e.input_wait_s >= 0 and e.compute_s > 0 and e.host_s >= 0 and e.between_s >= 0
        assert e.t_loaded <= e.t_normalized <= e.t_enqueued <= e.t_taken <= e.t_trained
        assert e.t_requested <= e.t_taken
    # Every second is accounted for: the steps' walls tile the clock from the end of the
    # run's start-up to the last step (epoch ends and starts included); the epochs add the
    # start-up and their own ends (validation).
    run_start = steps[-1].t_trained - sum(e.wall_s for e in steps)
    assert run_start == pytest.approx(started + trainer.startup_s, abs=0.3)
    assert steps[len(steps) // 2].between_s > 0, "the first step of epoch 2 carries epoch 1's end"
    epochs_wall = sum(e.seconds for e in events if isinstance(e, EpochSummary))
    assert sum(e.wall_s for e in steps) + trainer.startup_s < epochs_wall <= ended - started
    epochs = [e for e in events if isinstance(e, EpochSummary)]
    assert [e.epoch for e in epochs] == [0, 1]
    assert epochs[1].train_loss < epochs[0].train_loss
    assert epochs[1].val_accuracy > 0.6, "synthetic digits are easy; the model must learn them"
    compute = sum(e.compute_s for e in steps[: len(steps) // 2])
    assert epochs[0].idle_fraction == pytest.approx(1 - compute / epochs[0].seconds, rel=1e-6)
    images = sum(e.batch_size for e in steps[: len(steps) // 2])
    assert epochs[0].images_per_s == pytest.approx(images / epochs[0].seconds, rel=1e-6)


def test_prefetch_hides_a_balanced_storage_latency(small_shards, step_loop):
    """The seed's claim, measured: latency ~ one train step; off, each step waits about the
    latency; on, the next batch is already in the buffer and the wait is near zero."""
    # Augment off: its few ms per batch would add to the input side and unbalance it.
    calibrate, channel = make_trainer(small_shards, preset("naive").replace(augment=False),
                                      loop=step_loop, max_steps=40)
    calibrate.start()
    calibrate.join(60)
    step_ms = float(np.median([e.compute_s for e in steps_of(channel.drain())[10:]])) * 1e3
    latency = round(0.8 * step_ms, 2)
    # A small shuffle buffer: a big one reads far ahead when it fills, hiding the latency.
    base = PipelineConfig(storage_latency_ms=latency, shuffle_buffer=32)
    waits = {}
    for name in ("naive", "prefetch"):
        config = preset(name, base).replace(augment=False)
        trainer, channel = make_trainer(small_shards, config, loop=step_loop, max_steps=80)
        trainer.start()
        assert trainer.join(60)
        steps = steps_of(channel.drain())[20:]
        waits[name] = float(np.median([e.input_wait_s for e in steps])) * 1e3
        if name == "prefetch":
            assert max(e.buffer_after_take for e in steps) >= 1, "the buffer never held a batch"
    assert waits["naive"] >= 0.7 * latency, (waits, latency)
    assert waits["prefetch"] <= 0.25 * latency, (waits, latency)


def test_exactly_once_under_random_live_reconfiguration(small_shards, step_loop):
    """200 random live reconfigurations of every knob, sent 2-30 ms apart (those that arrive
    during a rebuild merge into the latest; every 15th waits until it is in force): no crash, every epoch trains every
    example exactly once (the trainer checks each epoch by example id and fails otherwise),
    steps stay continuous, and the step loop is never traced again."""
    rng = random.Random(7)
    trainer, channel = make_trainer(small_shards, loop=step_loop, epochs=1000, steps_per_execution=2)
    trainer.start()
    assert wait_until(lambda: trainer.global_step > 0, 60), "no first step (tracing)"
    traced = trainer.traces
    config, changes, events = trainer.pipeline_config, 0, []
    for _ in range(200):
        assert trainer.is_alive(), [e for e in channel.drain() if not isinstance(e, StepEvent)]
        previous = config
        config = config.replace(
            prefetch=rng.choice([0, 1, 3, -1]), parallel_reads=rng.choice([1, 2, 4]),
            parallel_map=rng.choice([1, 2, -1]), cache=rng.choice([False, True]),
            batch_size=rng.choice([16, 32, 50]), storage_latency_ms=rng.choice([0, 0.5, 2]),
            augment=rng.choice([False, True]), parallel_augment=rng.choice([1, 2, -1]))
        trainer.reconfigure(config)
        changes += config != previous
        if changes % 15 == 0:  # now and then let a rebuild finish, however slow the machine
            wait_until(lambda: trainer.pipeline_config == config, 30)
        wait_until(lambda: False, rng.uniform(0.002, 0.03))
        events += channel.drain()  # as the window does each frame (undrained ConfigApplied coalesce)
    trainer.set_epochs(trainer.epoch + 1)  # finish the running epoch, then stop
    assert trainer.join(120), "training did not finish"
    assert trainer.state == WorkerState.FINISHED, [e for e in channel.drain() if not isinstance(e, StepEvent)]
    events += channel.drain()
    applied = [e for e in events if isinstance(e, ConfigApplied)]
    # commands that arrive while a rebuild is under way merge into the latest one
    assert 13 <= len(applied) <= changes, (len(applied), changes)
    assert applied[-1].config == config, "the last reconfiguration is the one in force"
    assert all(e.changed for e in applied)
    epochs = len(trainer.history)
    assert epochs >= 1 and np.all(trainer.epoch_coverage == 1)
    steps = steps_of(events)
    assert [e.step for e in steps] == list(range(1, len(steps) + 1))
    assert sum(e.batch_size for e in steps) == epochs * small_shards.train_count
    assert trainer.traces == traced, "reconfiguring must not retrace the step loop"


def test_calls_fit_their_budget_and_a_change_of_knobs_starts_short(small_shards, step_loop):
    """Steps per call follow the step time: many fast steps share a call (and its ~2 ms of
    host time), while a slow pipeline runs one step per call so commands are not held back.
    The first call, and the first after a reconfiguration, is one step: the step time is
    not known yet."""
    fast, channel = make_trainer(small_shards, loop=step_loop, epochs=1000, steps_per_execution=8,
                                 call_budget_ms=1000)
    fast.start()
    try:
        assert wait_until(lambda: fast.global_step >= 33, 60)
        fast.reconfigure(prefetch=0)
        assert wait_until(lambda: fast.pipeline_config.prefetch == 0 and fast.global_step >= 70, 60)
    finally:
        fast.stop()
        assert fast.join(10)
    calls = list(fast.recent_calls)
    applied = next(e.step for e in channel.drain() if isinstance(e, ConfigApplied))
    before = [size for first, size in calls if first < applied]
    after = [size for first, size in calls if first >= applied]
    # (a slow first step, e.g. the shuffle buffer filling, keeps the next call short too)
    assert before[0] == 1 and before.count(8) >= 3, calls
    assert after[0] == 1 and 8 in after, calls
    assert fast.calls == len(calls) and sum(size for _, size in calls) == fast.global_step

    slow, _ = make_trainer(small_shards, preset("naive", PipelineConfig(storage_latency_ms=40, shuffle_buffer=32)),
                           loop=step_loop, max_steps=12, steps_per_execution=8, call_budget_ms=20)
    slow.start()
    assert slow.join(60) and slow.global_step == 12
    # (a small shuffle buffer: each batch waits for its own read)
    assert [size for _, size in slow.recent_calls] == [1] * 12, "a step over the budget runs alone"

    fixed, _ = make_trainer(small_shards, loop=step_loop, max_steps=12, steps_per_execution=4,
                            call_budget_ms=None)
    fixed.start()
    assert fixed.join(60) and [size for _, size in fixed.recent_calls] == [4, 4, 4]


def test_a_consumer_that_never_reads_does_not_block_training(small_shards, step_loop):
    from pipeviz.core.trainer import Trainer
    channel = EventChannel(lossy_capacity=16, reliable_capacity=8)
    trainer = Trainer(small_shards, PipelineConfig(), TrainerConfig(epochs=1), channel, loop=step_loop)
    trainer.start()
    assert trainer.join(60) and trainer.state == WorkerState.FINISHED
    assert len(channel) <= 16 + 8 and channel.dropped > 0


def test_bad_reconfiguration_is_refused_in_the_callers_thread(small_shards, step_loop):
    trainer, _ = make_trainer(small_shards, loop=step_loop)
    with pytest.raises(ConfigError, match="batch_size=0"):
        trainer.reconfigure(batch_size=0)
    with pytest.raises(RuntimeError, match="already started"):
        trainer.start()
        trainer.start()
    trainer.stop()
    assert trainer.join(10)


def test_epochs_can_change_live(small_shards, step_loop):
    trainer, channel = make_trainer(small_shards, loop=step_loop, epochs=100)
    trainer.start()
    assert wait_until(lambda: trainer.global_step > 3, 60)
    trainer.set_epochs(1)
    assert trainer.join(60) and trainer.state == WorkerState.FINISHED
    assert len(trainer.history) == 1
    with pytest.raises(ConfigError, match="epochs=0"):
        trainer.set_epochs(0)


def test_learning_rate_decays_over_the_planned_run_and_replans_live(small_shards, step_loop):
    from pipeviz.core.schedule import FLOOR
    trainer, _ = make_trainer(small_shards, loop=step_loop, epochs=2, learning_rate=0.002)
    schedule = trainer.schedule
    planned = 2 * -(-small_shards.train_count // 32)
    assert float(schedule.planned_steps.numpy()) == planned
    assert float(schedule(0)) == pytest.approx(0.002)
    assert float(schedule(planned // 2)) == pytest.approx(0.002 * (FLOOR + (1 - FLOOR) * 0.5), rel=1e-3)
    assert float(schedule(planned)) == pytest.approx(0.002 * FLOOR)
    assert float(schedule(10 * planned)) == pytest.approx(0.002 * FLOOR), "never below the floor"
    trainer.set_epochs(4)
    assert float(schedule.planned_steps.numpy()) == 2 * planned
    trainer.start()
    try:
        assert wait_until(lambda: trainer.global_step > 2, 60)
        trainer.reconfigure(batch_size=64)  # live: the plan follows the new steps per epoch
        assert wait_until(lambda: trainer.pipeline_config.batch_size == 64, 30)
        assert float(schedule.planned_steps.numpy()) == 4 * -(-small_shards.train_count // 64)
    finally:
        trainer.stop()
        assert trainer.join(10)


def test_a_reset_loop_trains_like_a_fresh_model_without_tracing_again(small_shards, step_loop):
    """Sweeps reuse one traced loop: after `reset()` a run repeats the first one exactly
    (same initial weights, fresh optimizer state, same batches) and nothing is traced."""
    def run_losses() -> list[float]:
        trainer, channel = make_trainer(small_shards, preset("naive"), loop=step_loop, max_steps=12)
        trainer.start()
        assert trainer.join(60) and trainer.state == WorkerState.STOPPED
        return [e.loss for e in steps_of(channel.drain())]

    first = run_losses()
    traced = step_loop.traces
    again = run_losses()
    assert len(first) == 12 and first == pytest.approx(again, rel=1e-5)
    assert first[-1] < first[0], "it trained"
    assert step_loop.traces == traced, "the second run reused the traced step loop"


def test_a_stall_between_epochs_is_booked_between_steps_and_a_pause_is_left_out(
        small_shards, step_loop, monkeypatch):
    """A real run with 0.6 s injected after epoch 1 (in the validation pass) and a 0.8 s
    user pause at the start of epoch 2: the stall is `between` time on epoch 2's first step
    and in the epoch's seconds; the pause is in no figure; the steps' walls tile the clock
    otherwise."""
    from pipeviz.core.trainer import Trainer
    evaluate = Trainer.evaluate

    def slow_evaluate(self):
        time.sleep(0.6)
        if self.epoch == 0:
            self.pause()  # obeyed before epoch 2's first step
        return evaluate(self)
    monkeypatch.setattr(Trainer, "evaluate", slow_evaluate)
    trainer, channel = make_trainer(small_shards, loop=step_loop, epochs=2)
    per_epoch = -(-1200 // 32)
    started = time.time()
    trainer.start()
    assert wait_until(lambda: trainer.state == WorkerState.PAUSED, 60)
    time.sleep(0.8)
    trainer.resume()
    assert trainer.join(60) and trainer.state == WorkerState.FINISHED
    ended = time.time()
    events = channel.drain()
    steps = steps_of(events)
    first_of_epoch2 = steps[per_epoch]
    assert first_of_epoch2.epoch == 1 and first_of_epoch2.between_s >= 0.6
    assert max(e.between_s for e in steps[per_epoch + 1:]) < 0.5, "the pause is not between time"
    assert trainer.paused_s >= 0.75
    accounted = sum(e.wall_s for e in steps)
    clock = steps[-1].t_trained - started
    assert accounted == pytest.approx(clock - trainer.paused_s - trainer.startup_s, abs=0.3)
    assert accounted < clock - 0.7
    epochs = [e for e in events if isinstance(e, EpochSummary)]
    assert epochs[0].between_s >= 0.6 and epochs[0].seconds <= ended - started
    images = sum(e.batch_size for e in steps[:per_epoch])
    assert epochs[0].images_per_s == pytest.approx(images / epochs[0].seconds)


def test_the_end_stamp_follows_the_weight_update(small_shards, step_loop):
    """If `t_trained` were stamped before the optimizer's writes, the update would show up as
    the next step's host time: with data in memory, compute must dwarf host per step."""
    trainer, channel = make_trainer(small_shards, preset("all"), loop=step_loop, max_steps=60,
                                    validate=False)
    trainer.start()
    assert trainer.join(60) and trainer.state == WorkerState.STOPPED
    steps = steps_of(channel.drain())[20:]
    assert np.median([e.host_s for e in steps]) < 0.25 * np.median([e.compute_s for e in steps])
