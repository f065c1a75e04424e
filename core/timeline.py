"""Where each batch is at a given moment, from the real stage timestamps of StepEvents.

The GUI replays this a fixed delay behind real time: by then every batch that can be in the
pipeline has been reported, so the diagram shows the true timeline, not a guess. Plain
Python, no TF and no Qt, so it is tested headless.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import islice
from statistics import median
from typing import Iterable

from .events import StepEvent

READ, NORMALIZE, AUGMENT, BUFFER, TRAIN = "read", "normalize", "augment", "buffer", "train"
INPUT_WAIT = "input wait"
ROWS = (READ, NORMALIZE, AUGMENT, BUFFER, TRAIN)
"""A batch's spans in order: the step timeline's rows and the exported trace's."""
STAGES = ("load", NORMALIZE, AUGMENT, BUFFER, TRAIN)


def augmented(event: StepEvent) -> bool:
    """Whether the batch went through the Augment stage (off: t_augmented = t_normalized)."""
    return event.t_augmented > 0 and event.t_augmented != event.t_normalized


SPANS = {
    READ: ("read_start", "t_loaded"),
    NORMALIZE: ("t_loaded", "t_normalized"),
    AUGMENT: ("t_normalized", "t_augmented_or_normalized"),
    BUFFER: ("t_enqueued", "t_taken"),
    INPUT_WAIT: ("t_requested", "t_taken"),
    TRAIN: ("t_taken", "t_trained"),
}
"""Each batch's stage spans (start and end attributes of its StepEvent): read = the pipeline
asked for the batch until it was built; normalize = built until normalized; augment =
normalized until augmented (empty with augment off); buffer = in the prefetch buffer until
taken; input wait = the step asked for it until it got it; train =
taken until the update was done. The step timeline and the exported trace both draw these."""


def span_of(event: StepEvent, name: str) -> tuple[float, float]:
    """(start, end) of span `name` of one batch; an end before its start is clamped to it."""
    start, end = (getattr(event, attribute) for attribute in SPANS[name])
    return start, max(start, end)


def stage_at(event: StepEvent, t: float) -> str | None:
    """The stage batch `event` is in at time `t`, or None if it is not in the pipeline.

    normalize: loaded, being normalized (or waiting in the parallel map's output); augment:
    normalized, being augmented (or waiting in its map's output); buffer: in the prefetch
    buffer; train: taken by the train step until its update is done.
    """
    if t < event.t_loaded or t >= event.t_trained:
        return None
    if t < event.t_enqueued:
        return AUGMENT if augmented(event) and t >= event.t_normalized else NORMALIZE
    if t < event.t_taken:
        return BUFFER
    return TRAIN


@dataclass
class StageStats:
    batches_per_s: float = 0.0
    ms_per_batch: float = 0.0


@dataclass
class DiagramState:
    """What the pipeline diagram draws at one moment."""

    t: float
    tokens: dict[str, list[int]] = field(default_factory=dict)  # stage -> step numbers
    train_waiting: bool = False
    stats: dict[str, StageStats] = field(default_factory=dict)

    def count(self, stage: str) -> int:
        return len(self.tokens.get(stage, []))


class Timeline:
    """The last few seconds of steps, answering what the diagram shows at time t."""

    def __init__(self, window_s: float = 5.0, max_events: int = 4096):
        self.window_s = window_s
        self.events: deque[StepEvent] = deque(maxlen=max_events)

    def add(self, events: Iterable[StepEvent]) -> None:
        self.events.extend(events)
        if self.events:
            horizon = self.events[-1].t_trained - self.window_s
            while self.events and self.events[0].t_trained < horizon:
                self.events.popleft()

    def clear(self) -> None:
        self.events.clear()

    def since(self, t0: float) -> list[StepEvent]:
        """Steps trained at or after `t0`, oldest first. Steps finish in order, so the walk
        from the newest stops at the first older one: per-frame cost follows the rate window,
        not the whole retained timeline."""
        found = []
        for event in reversed(self.events):
            if event.t_trained < t0:
                break
            found.append(event)
        found.reverse()
        return found

    def last(self, count: int) -> list[StepEvent]:
        """The `count` most recent steps, oldest first."""
        return list(islice(reversed(self.events), count))[::-1]

    def state_at(self, t: float, rate_window_s: float = 1.0) -> DiagramState:
        state = DiagramState(t, {stage: [] for stage in STAGES})
        # Every batch still in the pipeline at t finishes after t, so it is among these.
        recent = [e for e in self.since(t - rate_window_s) if e.t_loaded <= t]
        for event in recent:
            stage = stage_at(event, t)
            if stage:
                state.tokens[stage].append(event.step)
            if event.t_requested <= t < event.t_taken:
                state.train_waiting = True
        state.stats = self._stage_stats(recent, t, rate_window_s)
        return state

    @staticmethod
    def _stage_stats(recent: list[StepEvent], t: float, window: float) -> dict[str, StageStats]:
        """Rate = batches leaving a stage per second in the window; time per batch = median
        time spent in it (for load: the gap between consecutive batches being ready)."""
        def rate(times: list[float]) -> float:
            return sum(1 for x in times if t - window <= x <= t) / window
        loaded = sorted(e.t_loaded for e in recent)
        gaps = [b - a for a, b in zip(loaded, loaded[1:])]
        augmenting = [e for e in recent if augmented(e)]
        spans = {
            "load": gaps,
            NORMALIZE: [e.t_normalized - e.t_loaded for e in recent],
            AUGMENT: [e.t_augmented - e.t_normalized for e in augmenting],
            BUFFER: [e.buffer_wait_s for e in recent],
            TRAIN: [e.compute_s for e in recent],
        }
        leave = {"load": loaded, NORMALIZE: [e.t_normalized for e in recent],
                 AUGMENT: [e.t_augmented for e in augmenting],
                 BUFFER: [e.t_taken for e in recent], TRAIN: [e.t_trained for e in recent]}
        return {stage: StageStats(rate(leave[stage]), 1e3 * median(spans[stage]) if spans[stage] else 0.0)
                for stage in STAGES}
