"""Plain events from the training worker, and the bounded channel that carries them.

The worker never waits for its consumer: `EventChannel.put` is O(1), never blocks, and the
channel holds at most a fixed number of events. Per-step events are *lossy* (when the GUI
falls behind, the oldest are dropped and counted), while the rare events that the GUI must
never miss (state changes, epoch summaries, config changes, errors) go in a separate lane.
"""
from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Union

from .config import PipelineConfig
from .state import SessionAction, WorkerState


@dataclass(frozen=True, slots=True)
class StepEvent:
    """One training step, with the timeline of the batch it trained on.

    All times are seconds on the same wall clock as `time.time()` (`tf.timestamp()` inside
    the graph). `wall_s == between_s + host_s + input_wait_s + compute_s` exactly, by
    construction: the time since the previous step ended, pauses left out.
    """

    step: int
    epoch: int
    batch_size: int
    loss: float
    accuracy: float
    input_wait_s: float
    compute_s: float
    host_s: float
    wall_s: float
    t_loaded: float
    t_normalized: float
    t_enqueued: float
    t_requested: float
    t_taken: float
    t_trained: float
    buffer_after_take: int = 0
    """Batches still waiting in the prefetch buffer right after this step took its batch,
    counted by the pipeline itself (a counter bumped as each batch enters the buffer)."""
    t_started: float = 0.0
    """When the pipeline asked for this batch (its read began); 0 if not recorded."""
    between_s: float = 0.0
    """Time in no step since the previous step ended (an epoch's end and validation, a
    pipeline rebuild, tracing), pauses left out; part of `wall_s` (see core/stepstats.py)."""
    t_augmented: float = 0.0
    """When the Augment stage finished this batch (= t_normalized with augment off); 0 if
    not recorded."""

    @property
    def read_start(self) -> float:
        """Start of the batch's read: `t_started` when recorded, else `t_loaded`."""
        return self.t_started if 0 < self.t_started <= self.t_loaded else self.t_loaded

    @property
    def t_augmented_or_normalized(self) -> float:
        """The end of the Augment stage; t_normalized when it was not recorded."""
        return self.t_augmented if self.t_augmented >= self.t_normalized else self.t_normalized

    @property
    def buffer_wait_s(self) -> float:
        """How long the batch sat ready in the prefetch buffer before a step took it."""
        return max(0.0, self.t_taken - self.t_enqueued)


@dataclass(frozen=True, slots=True)
class EpochSummary:
    epoch: int
    steps: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    """Wall time of the epoch: its steps, its start and its end (validation), no pauses."""
    idle_fraction: float
    images_per_s: float
    input_wait_fraction: float = 0.0
    between_s: float = 0.0
    verdict: str = ""
    """TensorBoard's input-bound verdict for the epoch's steps (core/stepstats.py)."""


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The worker's lifecycle (`WorkerState`: preparing, ready, running, paused, stopped,
    finished, error)."""

    state: WorkerState
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ConfigApplied:
    """A reconfiguration took effect before `step` (the first step trained under it)."""

    step: int
    t: float
    config: PipelineConfig
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Progress:
    """Long preparation work (writing shards), so a UI can show a progress bar."""

    what: str
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class SweepProgress:
    """The experiment sweep is at step `done_steps` of `total_steps` of config `index`."""

    run_id: int
    index: int
    total: int
    name: str
    done_steps: int
    total_steps: int


@dataclass(frozen=True, slots=True)
class ProfileCaptured:
    """A profiler capture ended: `steps` steps traced into `logdir` (or `error` says why not)."""

    logdir: str
    steps: int
    error: str = ""


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    message: str


@dataclass(frozen=True, slots=True)
class ActionDone:
    """A `Session` action that ran off the caller's thread has ended (it waited for a worker
    to stop, or read or wrote a file): `what` it was (`SessionAction`), a `detail` for a
    status line (e.g. the file), or the `error` that stopped it."""

    what: SessionAction
    detail: str = ""
    error: str = ""


Event = Union[StepEvent, EpochSummary, StateChanged, ConfigApplied, Progress, SweepProgress,
              ProfileCaptured, ErrorEvent, ActionDone]
LOSSY_TYPES = (StepEvent, Progress, SweepProgress)


@dataclass
class EventChannel:
    """Bounded, thread-safe, never-blocking multi-producer channel of events.

    Two lanes: lossy events (steps, progress) in a ring of `lossy_capacity`
    where the oldest are dropped, and reliable events in a ring of `reliable_capacity`
    (they come at most a few per epoch, so in practice none is lost). A reconfiguration
    storm could still fill it while the GUI thread is busy, so a `ConfigApplied` replaces
    one not yet drained (only the latest config matters; its `changed` keeps every knob
    changed in between) instead of taking a place. `drain()` returns both lanes merged in
    the order they were put.
    """

    lossy_capacity: int = 4096
    reliable_capacity: int = 1024
    dropped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _lossy: deque = field(init=False, repr=False)
    _reliable: deque = field(init=False, repr=False)
    _seq: Any = field(default_factory=itertools.count, repr=False)

    def __post_init__(self) -> None:
        self._lossy = deque(maxlen=self.lossy_capacity)
        self._reliable = deque(maxlen=self.reliable_capacity)

    def put(self, event: Event) -> None:
        lane = self._lossy if isinstance(event, LOSSY_TYPES) else self._reliable
        with self._lock:
            if isinstance(event, ConfigApplied):
                event = self._coalesce(event)
            if len(lane) == lane.maxlen:
                self.dropped += 1
            lane.append((next(self._seq), event))

    def _coalesce(self, event: ConfigApplied) -> ConfigApplied:
        """Take a waiting ConfigApplied out of the reliable lane; the new one carries the
        knobs both changed. Not across an epoch summary: the changes made during an epoch
        stay with it. (Called with the lock held.)"""
        for index in range(len(self._reliable) - 1, -1, -1):
            waiting = self._reliable[index][1]
            if isinstance(waiting, EpochSummary):
                break
            if isinstance(waiting, ConfigApplied):
                del self._reliable[index]
                changed = tuple(dict.fromkeys(waiting.changed + event.changed))
                return ConfigApplied(event.step, event.t, event.config, changed)
        return event

    def drain(self, max_events: int | None = None) -> list[Event]:
        """Remove and return queued events, oldest first (at most `max_events`)."""
        with self._lock:
            merged = sorted([*self._lossy, *self._reliable], key=lambda pair: pair[0])
            if max_events is not None and len(merged) > max_events:
                taken, kept = merged[:max_events], merged[max_events:]
            else:
                taken, kept = merged, []
            self._lossy.clear()
            self._reliable.clear()
            for seq_event in kept:
                lane = self._lossy if isinstance(seq_event[1], LOSSY_TYPES) else self._reliable
                lane.append(seq_event)
        return [event for _, event in taken]

    def __len__(self) -> int:
        with self._lock:
            return len(self._lossy) + len(self._reliable)
