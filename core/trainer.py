"""The training worker: a thread running a custom, instrumented step loop over tf.data.

Not `model.fit`: the loop runs several steps per `tf.function` call (as Keras's
`steps_per_execution` does) so Python stays out of the step: as many as fit in
`TrainerConfig.call_budget_ms` at the recent step time, so commands still apply within
about a frame. It records `tf.timestamp()`s in the graph around each
step's `get_next` and compute, and between calls obeys commands: pause, resume, stop and
live reconfiguration of any pipeline knob.

Exactly once per epoch, even across reconfigurations: every batch carries its example ids;
the worker counts what it trained, and a rebuilt pipeline reads only the examples not yet
trained this epoch (batches that were waiting in the old pipeline's buffers are discarded,
never trained, so they are read again).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import ConfigError, PipelineConfig, TrainerConfig
from .events import (ConfigApplied, EpochSummary, ErrorEvent, EventChannel, ProfileCaptured,
                     StateChanged, StepEvent)
from .shards import ShardSet
from .tfsetup import configure_tensorflow

tf = configure_tensorflow()
import keras  # noqa: E402  (after the thread set-up)

from .pipeline import TrainPipeline, steps_in, validation_dataset  # noqa: E402
from .steploop import STEP_FIELDS, StepLoop  # noqa: E402
from .tboard import ScalarLog  # noqa: E402

log = logging.getLogger(__name__)

IDLE, RUNNING, PAUSED, STOPPED, FINISHED, ERROR = "idle", "running", "paused", "stopped", "finished", "error"


def step_timing(out: dict[str, np.ndarray], prev_done: float) -> dict[str, np.ndarray]:
    """Per-step time breakdown from the in-graph stamps of one call. Host overhead is the gap
    from the previous step's end to this step asking for data; wall is the sum of the three
    parts, so the breakdown adds up exactly."""
    previous = np.concatenate([[prev_done], out["t_trained"][:-1]])
    host = np.maximum(0.0, out["t_requested"] - previous)
    wait = out["t_taken"] - out["t_requested"]
    compute = out["t_trained"] - out["t_taken"]
    return {"host_s": host, "input_wait_s": wait, "compute_s": compute,
            "wall_s": host + wait + compute}


@dataclass
class StepTotals:
    """Sums over the measured steps (after `TrainerConfig.measure_after_step`), kept whether
    or not step events are recorded, so the cost of the event hooks can be measured."""

    steps: int = 0
    images: int = 0
    wall_s: float = 0.0
    input_wait_s: float = 0.0
    host_s: float = 0.0
    compute_s: float = 0.0

    def add(self, sizes: np.ndarray, timing: dict[str, np.ndarray]) -> None:
        self.steps += len(sizes)
        self.images += int(sizes.sum())
        for name in ("wall_s", "input_wait_s", "host_s", "compute_s"):
            setattr(self, name, getattr(self, name) + float(timing[name].sum()))


class _Stop(Exception):
    """Raised inside the worker when a stop command arrives."""


@dataclass
class _Segment:
    """One pipeline build within an epoch: its iterator, and the steps it still owes."""

    config: PipelineConfig
    iterator: Any
    enqueued: Any
    steps_left: int
    taken: int = 0
    reads_cache_from_start: bool = False


class Trainer:
    """Trains `model` on the shards in a worker thread, reporting through `channel`.

    All public methods are safe to call from any thread and return at once; the worker
    applies them between `tf.function` calls (see `TrainerConfig.call_budget_ms`).
    """

    def __init__(self, shards: ShardSet, pipeline_config: PipelineConfig | None = None,
                 config: TrainerConfig | None = None, channel: EventChannel | None = None,
                 model: keras.Model | None = None, loop: StepLoop | None = None):
        """`loop` reuses traced functions and trains its model from wherever it stands (with
        the loop's own seed and learning rate; `reset()` it first for a fresh model);
        otherwise a new one is made for `model`, or for a new model from the config's seed."""
        self.shards = shards
        self.config = config or TrainerConfig()
        self.channel = channel if channel is not None else EventChannel()
        self.loop = loop or StepLoop(model, self.config.seed, self.config.learning_rate)
        self.model = self.loop.model
        self.schedule = self.loop.schedule
        self._pipeline = TrainPipeline(shards, self.config.seed)
        self._pipeline_config = pipeline_config or PipelineConfig()
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = IDLE
        self._stop_requested = threading.Event()
        self.target_epochs = self.config.epochs
        """How many epochs to train; `set_epochs` changes it live."""
        self._replan()
        self.global_step = 0
        self.epoch = 0
        self.epoch_coverage = np.zeros(shards.train_count, dtype=np.int32)
        """How many times each example id was trained in the current (or last) epoch."""
        self.history: list[EpochSummary] = []
        self.totals = StepTotals()
        self.calls = 0
        """Step-loop calls made: `global_step / calls` is the mean steps per call."""
        self.recent_calls: deque[tuple[int, int]] = deque(maxlen=256)
        """(first step, steps) of the latest calls (read it once the worker has ended)."""
        self._step_s: float | None = None  # the last call's median step in the graph; None: unknown
        self._scalars: ScalarLog | None = None
        self._profile: tuple[str, int] | None = None  # (logdir, steps to take) while capturing
        self._profiled_steps = 0

    @property
    def traces(self) -> int:
        """How often the step loop was traced: once, whatever is reconfigured (tested)."""
        return self.loop.traces

    # ----- steering, from any thread -------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def pipeline_config(self) -> PipelineConfig:
        return self._pipeline_config

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("this Trainer was already started; make a new one to train again")
        self._thread = threading.Thread(target=self._run, name="pipeviz-trainer", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def stop(self) -> None:
        self._stop_requested.set()
        self._send("stop")

    def capture_profile(self, logdir: str, steps: int = 20) -> None:
        """Record the next `steps` steps with the TensorFlow profiler into `logdir` (for
        TensorBoard's profile tab and its input-pipeline analyzer); reports ProfileCaptured."""
        if steps < 1:
            raise ConfigError(f"steps={steps} is out of range: profile 1 or more steps.")
        self._send("profile", (str(logdir), steps))

    def set_epochs(self, epochs: int) -> None:
        """Train `epochs` in all (live: the run ends after that epoch, or goes on)."""
        if epochs < 1:
            raise ConfigError(f"epochs={epochs} is out of range: use 1 or more.")
        self.target_epochs = epochs
        self._replan()

    def _replan(self, config: PipelineConfig | None = None) -> None:
        """Point the learning-rate decay at the end of the run as now planned."""
        config = config or self._pipeline_config
        per_epoch = steps_in(self.shards.train_count, config.batch_size)
        self.schedule.replan(self.target_epochs * per_epoch)

    def reconfigure(self, config: PipelineConfig | None = None, **changes: Any) -> PipelineConfig:
        """Change pipeline knobs; they apply from the next step call. Returns the new config
        (validated here, so a bad value raises ConfigError in the caller's thread)."""
        new = (config or self._pipeline_config).replace(**changes)
        self._send("reconfigure", new)
        return new

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to end; True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _send(self, command: str, payload: Any = None) -> None:
        self._commands.put((command, payload))
        self._wake.set()

    def _set_state(self, state: str, detail: str = "") -> None:
        self._state = state
        self.channel.put(StateChanged(state, detail))

    # ----- the worker ----------------------------------------------------------------
    def _run(self) -> None:
        state, detail = FINISHED, ""
        try:
            if self.config.summary_dir:
                self._scalars = ScalarLog(self.config.summary_dir, self.config.summary_every)
            self._set_state(RUNNING)
            epoch = 0
            while epoch < self.target_epochs:
                self.epoch = epoch
                if not self._train_epoch(epoch):
                    break
                epoch += 1
            if not self._budget_left():
                state, detail = STOPPED, f"step budget of {self.config.max_steps} reached"
        except _Stop:
            state = STOPPED
        except Exception as exc:  # report, never die silently in a thread
            log.exception("training failed")
            self.channel.put(ErrorEvent(f"Training failed: {exc}"))
            state, detail = ERROR, str(exc)
        self._close_outputs()
        self._set_state(state, detail)  # last: observers of the state see finished outputs

    def _close_outputs(self) -> None:
        try:
            self._end_profile()
            if self._scalars is not None:
                self._scalars.close(self.global_step)
        except Exception:
            log.exception("closing the TensorBoard outputs failed")

    def _budget_left(self) -> bool:
        return self.config.max_steps is None or self.global_step < self.config.max_steps

    def _new_segment(self, config: PipelineConfig, epoch: int, rebuild: int) -> _Segment:
        untrained = self.epoch_coverage == 0
        resuming = not bool(untrained.all())
        dataset, enqueued = self._pipeline.dataset(
            config, epoch, untrained if resuming else None, rebuild, self.config.record_events)
        return _Segment(config, iter(dataset), enqueued,
                        steps_in(int(untrained.sum()), config.batch_size),
                        reads_cache_from_start=self._pipeline.uses_cache(config, resuming) and not resuming)

    def _train_epoch(self, epoch: int) -> bool:
        """Train one epoch; False if it ended early (step budget). Raises _Stop on stop."""
        self.epoch_coverage = np.zeros(self.shards.train_count, dtype=np.int32)
        started, rebuild = time.time(), 0
        totals = np.zeros(5)  # examples, loss*n, hits*n, compute_s, wall_s
        prev_done = time.time()
        segment = self._new_segment(self._pipeline_config, epoch, rebuild)
        while segment.steps_left > 0:
            if not self._budget_left():
                return False
            prev_done, new_config = self._obey_commands(prev_done)
            if new_config is not None:
                rebuild += 1
                changed = new_config.changed_fields(self._pipeline_config)
                self._replan(new_config)  # before publishing it: observers see a consistent pair
                self._pipeline_config = new_config
                self._step_s = None  # the step time may change with the knobs
                segment = self._new_segment(new_config, epoch, rebuild)
                self.channel.put(ConfigApplied(self.global_step + 1, time.time(), new_config, changed))
                continue
            prev_done = self._run_chunk(segment, epoch, prev_done, totals)
        self._finish_pass(segment)
        self._end_epoch(epoch, started, totals)
        return True

    def _obey_commands(self, prev_done: float) -> tuple[float, PipelineConfig | None]:
        """Apply queued commands; blocks while paused. Returns the (maybe reset) end time of
        the last step, and a new pipeline config if one was asked for."""
        new_config, paused = None, False
        while True:
            try:
                command, payload = self._commands.get_nowait()
            except queue.Empty:
                if not paused:
                    break
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            if command == "stop":
                raise _Stop
            if command == "pause" and not paused:
                paused = True
                self._set_state(PAUSED)
            elif command == "resume" and paused:
                paused = False
                self._set_state(RUNNING)
                prev_done = time.time()  # time spent paused is not host overhead
            elif command == "reconfigure":
                new_config = payload
            elif command == "profile":
                self._start_profile(*payload)
        if new_config is not None and new_config == self._pipeline_config:
            new_config = None
        return prev_done, new_config

    def _start_profile(self, logdir: str, steps: int) -> None:
        if self._profile is not None:
            self.channel.put(ProfileCaptured(logdir, 0, "a profile is already being captured"))
            return
        try:
            tf.profiler.experimental.start(logdir)
        except Exception as exc:  # e.g. another profiler session in this process
            self.channel.put(ProfileCaptured(logdir, 0, f"the profiler did not start: {exc}"))
            return
        self._profile = (logdir, steps)
        self._profiled_steps = 0

    def _count_profiled(self, steps: int) -> None:
        if self._profile is not None:
            self._profiled_steps += steps
            if self._profiled_steps >= self._profile[1]:
                self._end_profile()

    def _end_profile(self) -> None:
        """Stop a running capture (also when training ends before it has all its steps)."""
        if self._profile is None:
            return
        logdir, self._profile = self._profile[0], None
        try:
            tf.profiler.experimental.stop()
        except Exception as exc:
            self.channel.put(ProfileCaptured(logdir, self._profiled_steps, f"the profiler failed: {exc}"))
            return
        self.channel.put(ProfileCaptured(logdir, self._profiled_steps))

    def _steps_for_call(self) -> int:
        """As many steps as fit the call budget at the recent step time, at most
        `steps_per_execution`; one while that time is unknown (first call, new knobs), so a
        slow new pipeline cannot hold a command back for many of its steps."""
        most, budget = self.config.steps_per_execution, self.config.call_budget_ms
        if budget is None:
            return most
        if self._step_s is None:
            return 1
        return max(1, min(most, int(budget / 1e3 / max(self._step_s, 1e-6))))

    def _learn_step_time(self, timing: dict[str, np.ndarray]) -> None:
        """The last call's median time in the graph per step (input wait + compute; the host
        time before a call is not part of it): a stall in one step of a long call moves it
        little, and after a slow call of one step (a shuffle fill) the next call is short
        and sets it right again."""
        self._step_s = float(np.median(timing["input_wait_s"] + timing["compute_s"]))

    def _run_chunk(self, segment: _Segment, epoch: int, prev_done: float, totals: np.ndarray) -> float:
        steps = min(self._steps_for_call(), segment.steps_left)
        if self.config.max_steps is not None:
            steps = min(steps, self.config.max_steps - self.global_step)
        rows, ids = self.loop.train_chunk(segment.iterator, tf.constant(steps), segment.enqueued,
                                          tf.constant(segment.taken, tf.int64))
        out = dict(zip(STEP_FIELDS, rows.numpy().T))
        self.calls += 1
        self.recent_calls.append((self.global_step + 1, steps))
        segment.steps_left -= steps
        segment.taken += steps
        np.add.at(self.epoch_coverage, ids.numpy(), 1)
        timing = step_timing(out, prev_done)
        self._learn_step_time(timing)
        first_step = self.global_step + 1
        self.global_step += steps
        sizes = out["batch_size"]
        totals += (sizes.sum(), (out["loss"] * sizes).sum(), (out["accuracy"] * sizes).sum(),
                   timing["compute_s"].sum(), timing["wall_s"].sum())
        measured = slice(max(0, self.config.measure_after_step - first_step + 1), steps)
        self.totals.add(sizes[measured], {k: v[measured] for k, v in timing.items()})
        if self._scalars is not None:
            self._scalars.add_steps(self.global_step, sizes, out["loss"], out["accuracy"], timing)
        self._count_profiled(steps)
        if self.config.record_events:
            for i in range(steps):
                self.channel.put(self._step_event(out, timing, i, first_step + i, epoch))
        return float(out["t_trained"][-1])

    @staticmethod
    def _step_event(out: dict[str, np.ndarray], timing: dict[str, np.ndarray], i: int,
                    step: int, epoch: int) -> StepEvent:
        return StepEvent(
            step=step, epoch=epoch, batch_size=int(out["batch_size"][i]),
            loss=float(out["loss"][i]), accuracy=float(out["accuracy"][i]),
            input_wait_s=float(timing["input_wait_s"][i]), compute_s=float(timing["compute_s"][i]),
            host_s=float(timing["host_s"][i]), wall_s=float(timing["wall_s"][i]),
            t_loaded=float(out["t_loaded"][i]), t_normalized=float(out["t_normalized"][i]),
            t_enqueued=float(out["t_enqueued"][i]), t_requested=float(out["t_requested"][i]),
            t_taken=float(out["t_taken"][i]), t_trained=float(out["t_trained"][i]),
            buffer_after_take=int(out["buffered"][i]), t_started=float(out["t_started"][i]),
            t_augmented=float(out["t_augmented"][i]))

    def _finish_pass(self, segment: _Segment) -> None:
        """Read the iterator to its end: it must be empty (exactly once), and a cache that
        was filled from the start is only kept by tf.data once its iterator hits the end."""
        leftover = segment.iterator.get_next_as_optional()
        if leftover.has_value():
            raise RuntimeError("the pipeline held more batches than the epoch has examples")
        if segment.reads_cache_from_start:
            self._pipeline.mark_pass_complete(segment.config)
        if not np.all(self.epoch_coverage == 1):
            raise RuntimeError(f"epoch coverage broken: {int((self.epoch_coverage == 0).sum())} "
                               f"examples missed, {int((self.epoch_coverage > 1).sum())} repeated")

    def _end_epoch(self, epoch: int, started: float, totals: np.ndarray) -> None:
        examples, loss_sum, hit_sum, compute, wall = totals
        val_loss, val_accuracy = self.evaluate()
        summary = EpochSummary(
            epoch=epoch, steps=self.global_step,
            train_loss=loss_sum / max(examples, 1), train_accuracy=hit_sum / max(examples, 1),
            val_loss=val_loss, val_accuracy=val_accuracy, seconds=time.time() - started,
            idle_fraction=1.0 - compute / wall if wall > 0 else 0.0,
            images_per_s=examples / wall if wall > 0 else 0.0)
        self.history.append(summary)
        if self._scalars is not None:
            self._scalars.add_epoch(summary)
        self.channel.put(summary)

    def evaluate(self) -> tuple[float, float]:
        """Loss and accuracy on the validation shards."""
        loss_sum = hits = count = 0.0
        for batch in validation_dataset(self.shards):
            if self._stop_requested.is_set():
                raise _Stop
            loss, correct = self.loop.evaluate_batch(batch["image"], batch["label"])
            loss_sum, hits = loss_sum + float(loss), hits + float(correct)
            count += int(batch["label"].shape[0])
        return loss_sum / max(count, 1), hits / max(count, 1)
