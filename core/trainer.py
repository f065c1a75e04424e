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
import math
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import ConfigError, PipelineConfig, TrainerConfig, check_batch_fits
from .events import (ConfigApplied, EpochSummary, ErrorEvent, EventChannel, ProfileCaptured,
                     StateChanged, StepEvent)
from .priority import lower_this_thread
from .safeio import log_failure, short_reason
from .shards import ShardSet, invalidate
from .state import WorkerState
from .stepstats import StepAccount
from .tfsetup import configure_tensorflow

tf = configure_tensorflow()
import keras  # noqa: E402  (after the thread set-up)

from .pipeline import (StaleCache, TrainPipeline, retire_iterator, steps_in,  # noqa: E402
                       validation_dataset)
from .steploop import STEP_FIELDS, StepLoop  # noqa: E402
from .tboard import ScalarLog, discard_failed_profile  # noqa: E402

log = logging.getLogger(__name__)

IDLE, RUNNING, PAUSED = WorkerState.IDLE, WorkerState.RUNNING, WorkerState.PAUSED
STOPPED, FINISHED, ERROR = WorkerState.STOPPED, WorkerState.FINISHED, WorkerState.ERROR


def step_timing(out: dict[str, np.ndarray], prev_done: float, between_s: float = 0.0) -> dict[str, np.ndarray]:
    """Per-step time breakdown from the in-graph stamps of one call.

    Input wait is from the step asking for its batch until the batch existed (it entered the
    prefetch buffer, or, without one, came out of the pipeline's last stage: `t_enqueued`);
    handing an already-made batch over (`get_next`'s dispatch, ~0.2 ms here) is host time,
    as is the gap from the previous step's end (or the end of the work between steps,
    `prev_done`) to asking. So a batch that sat ready in memory waits 0. Without stage stamps
    (`t_enqueued` 0) the whole `get_next` counts as wait. `between_s`, the time in no step
    since the previous step (see core/stepstats.py), goes to the call's first step. Wall is
    the sum of the four parts, so the breakdown adds up exactly."""
    previous = np.concatenate([[prev_done], out["t_trained"][:-1]])
    asked, taken = out["t_requested"], out["t_taken"]
    ready = np.where(out["t_enqueued"] > 0, np.clip(out["t_enqueued"], asked, taken), taken)
    wait = ready - asked
    host = np.maximum(0.0, asked - previous) + (taken - ready)
    compute = out["t_trained"] - taken
    between = np.zeros_like(host)
    between[0] = between_s
    return {"host_s": host, "input_wait_s": wait, "compute_s": compute, "between_s": between,
            "wall_s": host + wait + compute + between}


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

    def retire(self) -> None:
        """Let go of the iterator: it is destroyed off the training thread."""
        if self.iterator is None:
            return
        box, self.iterator = [self.iterator], None
        retire_iterator(box)


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
        check_batch_fits(self._pipeline_config.batch_size, shards.train_count)
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
        self.totals = StepAccount()
        """The measured steps (after `TrainerConfig.measure_after_step`), kept whether or not
        step events are recorded, so the cost of the event hooks can be measured."""
        self.startup_s = 0.0
        """From the start of the run to its first step asking for data (the thread's start,
        the first pipeline, tracing the step loop the first time): counted in the first
        epoch's seconds, but in no step, so the live figures start with the steps."""
        self.error = ""
        """Why training failed (state "error"), else empty."""
        self.paused_s = 0.0
        """Time spent paused: left out of every figure (see `_obey_commands`)."""
        self._prev_done = 0.0  # end of the last step, or of the last work between steps
        self._between_s = 0.0  # time in no step since the last step, for the next step's event
        self._prebuilt = None  # (config, epoch, thread, [segment]) of the next epoch, see _prebuild
        self._validation: list | None = None  # the validation batches, see evaluate
        self.calls = 0
        """Step-loop calls made: `global_step / calls` is the mean steps per call."""
        self.recent_calls: deque[tuple[int, int]] = deque(maxlen=256)
        """(first step, steps) of the latest calls (read it once the worker has ended)."""
        self._step_s: float | None = None  # the last call's median step in the graph; None: unknown
        self._scalars: ScalarLog | None = None
        self._profile: tuple[str, int] | None = None  # (logdir, steps to take) while capturing
        self._profiled_steps = 0
        self._profile_started = 0.0

    @property
    def traces(self) -> int:
        """How often the step loop was traced: once, whatever is reconfigured (tested)."""
        return self.loop.traces

    # ----- steering, from any thread -------------------------------------------------
    @property
    def state(self) -> WorkerState:
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
        check_batch_fits(new.batch_size, self.shards.train_count)
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

    def _set_state(self, state: WorkerState, detail: str = "") -> None:
        self._state = state
        self.channel.put(StateChanged(state, detail))

    # ----- the worker ----------------------------------------------------------------
    def _run(self) -> None:
        lower_this_thread()  # the GUI thread runs first (core/priority.py)
        state, detail = FINISHED, ""
        self._prev_done = time.time()  # start-up counts from here (see startup_s)
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
            log_failure(log, "training failed", exc, logging.INFO)
            self.error = short_reason(exc)
            self.channel.put(ErrorEvent(self._failure_message(exc)))
            state, detail = ERROR, str(exc)
        self._close_outputs()  # first: the last scalar point is stamped when the steps end
        self._take_prebuilt(None, -1)  # lets go of a next epoch that will not train
        self._set_state(state, detail)  # last: observers of the state see finished outputs

    def _failure_message(self, exc: Exception) -> str:
        """The cause without TensorFlow's graph trace; a damaged shard also marks the cache
        for rebuilding (it changed after it was checked at start-up)."""
        if isinstance(exc, tf.errors.DataLossError):
            invalidate(self.shards)
            return (f"Training failed: a shard file in {self.shards.folder} is damaged "
                    f"({short_reason(exc)}); open the data again (or restart) to rebuild the cache.")
        return f"Training failed: {short_reason(exc)}"

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
        if not resuming and rebuild == 0:
            prebuilt = self._take_prebuilt(config, epoch)
            if prebuilt is not None:
                return prebuilt
        return self._build_segment(config, epoch, untrained if resuming else None, rebuild)

    def _build_segment(self, config: PipelineConfig, epoch: int, remaining: np.ndarray | None,
                       rebuild: int, ahead: bool = False) -> _Segment:
        """A pipeline over the examples still `remaining` this epoch (None: all of them)."""
        dataset, enqueued = self._pipeline.dataset(config, epoch, remaining, rebuild,
                                                   self.config.record_events, ahead)
        count = self.shards.train_count if remaining is None else int(remaining.sum())
        resuming = remaining is not None
        return _Segment(config, iter(dataset), enqueued, steps_in(count, config.batch_size),
                        reads_cache_from_start=self._pipeline.uses_cache(config, resuming) and not resuming)

    def _prebuild(self, config: PipelineConfig, epoch: int) -> None:
        """Build the next epoch's pipeline and iterator on a thread of its own while this
        epoch trains, so the epoch boundary only swaps iterators (building one costs
        0.1-0.2 s of Python here, all of it time between steps). Not while an in-memory
        cache is still filling: an iterator made then would read the disk again."""
        if epoch >= self.target_epochs or (config.cache and not self._pipeline.cache_ready_for(config)):
            return
        box: list[_Segment] = []

        def build() -> None:
            try:
                box.append(self._build_segment(config, epoch, None, 0, ahead=True))
            except StaleCache:  # the knobs changed meanwhile: the boundary builds it
                pass
            except Exception as exc:  # the epoch boundary builds it again, and reports
                log.warning("building the next epoch's pipeline ahead failed: %s", exc)
        thread = threading.Thread(target=build, name="pipeviz-prebuild", daemon=True)
        self._prebuilt = (config, epoch, thread, box)
        thread.start()

    def _take_prebuilt(self, config: PipelineConfig, epoch: int) -> _Segment | None:
        """The prebuilt segment for (config, epoch), if that is what was built; any other
        is let go."""
        if self._prebuilt is None:
            return None
        built_config, built_epoch, thread, box = self._prebuilt
        self._prebuilt = None
        thread.join()
        if not box:  # building failed (logged by the thread): build it here
            return None
        if (built_config, built_epoch) == (config, epoch):
            return box.pop()
        box.pop().retire()
        return None

    def _train_epoch(self, epoch: int) -> bool:
        """Train one epoch; False if it ended early (step budget). Raises _Stop on stop."""
        self.epoch_coverage = np.zeros(self.shards.train_count, dtype=np.int32)
        rebuild = 0
        account = StepAccount()  # this epoch's steps and the time between them
        quality = np.zeros(2)  # loss*n, hits*n
        segment = self._new_segment(self._pipeline_config, epoch, rebuild)
        account.add_between(self._book_between())
        self._prebuild(self._pipeline_config, epoch + 1)
        try:  # however the epoch ends, its iterator is destroyed off this thread
            while segment.steps_left > 0:
                if not self._budget_left():
                    return False
                new_config = self._obey_commands()
                if new_config is not None:
                    rebuild += 1
                    changed = new_config.changed_fields(self._pipeline_config)
                    self._replan(new_config)  # before publishing it: observers see a consistent pair
                    self._pipeline_config = new_config
                    self._step_s = None  # the step time may change with the knobs
                    segment.retire()
                    segment = self._new_segment(new_config, epoch, rebuild)
                    self._take_prebuilt(None, -1)  # built for the old knobs
                    self._prebuild(new_config, epoch + 1)
                    account.add_between(self._book_between())
                    self.channel.put(ConfigApplied(self.global_step + 1, time.time(), new_config, changed))
                    continue
                self._run_chunk(segment, epoch, account, quality)
            self._finish_pass(segment)
        finally:
            segment.retire()
        self._end_epoch(epoch, account, quality)
        return True

    def _book_between(self) -> float:
        """Book the time since the last step (or the last booking) as time between steps: it
        goes to the next step's event, and the caller adds it to its epoch. Returns it."""
        now = time.time()
        gap = max(0.0, now - self._prev_done)
        self._between_s += gap
        self._prev_done = now
        return gap

    def _obey_commands(self) -> PipelineConfig | None:
        """Apply queued commands; blocks while paused (that time is left out of every figure:
        the clock of the last step's end moves on by the pause). Returns a new pipeline config
        if one was asked for."""
        new_config, paused, paused_at = None, False, 0.0
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
                paused, paused_at = True, time.time()
                self._set_state(PAUSED)
            elif command == "resume" and paused:
                paused = False
                self._set_state(RUNNING)
                pause = time.time() - paused_at
                self.paused_s += pause
                self._prev_done += pause
            elif command == "reconfigure":
                new_config = payload
            elif command == "profile":
                self._start_profile(*payload)
        if new_config is not None and new_config == self._pipeline_config:
            new_config = None
        return new_config

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
        self._profile_started = time.time()

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
            discard_failed_profile(logdir, self._profile_started, failed=True)
            self.channel.put(ProfileCaptured(logdir, self._profiled_steps, f"the profiler failed: {exc}"))
            return
        if discard_failed_profile(logdir, self._profile_started):  # e.g. a full disk
            self.channel.put(ProfileCaptured(logdir, self._profiled_steps,
                                             f"the capture could not be written to {logdir}"))
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

    def _run_chunk(self, segment: _Segment, epoch: int, account: StepAccount,
                   quality: np.ndarray) -> None:
        steps = min(self._steps_for_call(), segment.steps_left)
        if self.config.max_steps is not None:
            steps = min(steps, self.config.max_steps - self.global_step)
        traces = self.loop.traces
        rows, ids = self.loop.train_chunk(segment.iterator, tf.constant(steps), segment.enqueued,
                                          tf.constant(segment.taken, tf.int64))
        out = dict(zip(STEP_FIELDS, rows.numpy().T))
        self.calls += 1
        self.recent_calls.append((self.global_step + 1, steps))
        segment.steps_left -= steps
        segment.taken += steps
        np.add.at(self.epoch_coverage, ids.numpy(), 1)
        timing = step_timing(out, self._prev_done, self._between_s)
        if self.loop.traces != traces:  # tracing ran before the first step: not host time
            timing["between_s"][0] += timing["host_s"][0]
            account.add_between(timing["host_s"][0])
            timing["host_s"][0] = 0.0
        if self.global_step == 0:  # the run's start-up: in the epoch's time, not in a step's
            self.startup_s = float(timing["between_s"][0])
            timing["between_s"][0] = 0.0
            timing["wall_s"][0] = timing["host_s"][0] + timing["input_wait_s"][0] + timing["compute_s"][0]
        self._between_s, self._prev_done = 0.0, float(out["t_trained"][-1])
        self._learn_step_time(timing)
        first_step = self.global_step + 1
        self.global_step += steps
        sizes = out["batch_size"]
        account.add_steps(sizes, timing, with_between=False)  # the epoch booked its own
        quality += ((out["loss"] * sizes).sum(), (out["accuracy"] * sizes).sum())
        measured = slice(max(0, self.config.measure_after_step - first_step + 1), steps)
        self.totals.add_steps(sizes[measured], {k: v[measured] for k, v in timing.items()})
        if self._scalars is not None:
            self._scalars.add_steps(self.global_step, sizes, out["loss"], out["accuracy"], timing)
        self._count_profiled(steps)
        if self.config.record_events:
            for event in self._step_events(out, timing, first_step, epoch):
                self.channel.put(event)

    @staticmethod
    def _step_events(out: dict[str, np.ndarray], timing: dict[str, np.ndarray], first_step: int,
                     epoch: int) -> list[StepEvent]:
        """One StepEvent per step of a call (columns turned into Python floats at once: this
        runs on the worker between calls, so it is host time of the next step)."""
        col = {k: v.tolist() for k, v in (*out.items(), *timing.items())}
        return [StepEvent(
            step=first_step + i, epoch=epoch, batch_size=int(col["batch_size"][i]),
            loss=col["loss"][i], accuracy=col["accuracy"][i],
            input_wait_s=col["input_wait_s"][i], compute_s=col["compute_s"][i],
            host_s=col["host_s"][i], wall_s=col["wall_s"][i], between_s=col["between_s"][i],
            t_loaded=col["t_loaded"][i], t_normalized=col["t_normalized"][i],
            t_enqueued=col["t_enqueued"][i], t_requested=col["t_requested"][i],
            t_taken=col["t_taken"][i], t_trained=col["t_trained"][i],
            buffer_after_take=int(col["buffered"][i]), t_started=col["t_started"][i],
            t_augmented=col["t_augmented"][i])
            for i in range(len(col["loss"]))]

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

    def _end_epoch(self, epoch: int, account: StepAccount, quality: np.ndarray) -> None:
        """Validate, then summarize the epoch: its steps and all the time between them,
        this epoch's end (reading the iterator to its end, validation) included."""
        val_loss, val_accuracy = self.evaluate() if self.config.validate else (math.nan, math.nan)
        account.add_between(self._book_between())
        stats = account.stats()
        summary = EpochSummary(
            epoch=epoch, steps=self.global_step,
            train_loss=quality[0] / max(stats.images, 1), train_accuracy=quality[1] / max(stats.images, 1),
            val_loss=val_loss, val_accuracy=val_accuracy, seconds=stats.wall_s,
            idle_fraction=stats.idle_fraction, images_per_s=stats.images_per_s,
            input_wait_fraction=stats.input_wait_fraction, between_s=stats.between_s,
            verdict=stats.verdict)
        self.history.append(summary)
        if self._scalars is not None:
            self._scalars.add_epoch(summary)
        self.channel.put(summary)

    def evaluate(self) -> tuple[float, float]:
        """Loss and accuracy on the validation shards (read and decoded once per run, then
        kept in memory: rebuilding the dataset each epoch doubled the time between epochs)."""
        if self._validation is None:
            self._validation = [(batch["image"], batch["label"])
                                for batch in validation_dataset(self.shards)]
        loss_sum = hits = count = 0.0
        for image, label in self._validation:
            if self._stop_requested.is_set():
                raise _Stop
            loss, correct = self.loop.evaluate_batch(image, label)
            loss_sum, hits = loss_sum + float(loss), hits + float(correct)
            count += int(label.shape[0])
        return loss_sum / max(count, 1), hits / max(count, 1)
