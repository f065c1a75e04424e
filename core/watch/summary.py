"""Everything a watched run has told so far, folded into one object that the window, the
`--report` table and the `--json` object all read (one definition of each figure).

Time is accounted as for pipeviz's own trainer (core/stepstats.py): every step's wall time
is input wait + host + between + compute, and the time from the last step to `fit`'s return
(the last epoch's end, its validation) is added as time between steps, so the figures cover
the wall clock from the first step's request to the end of `fit`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ..events import ErrorEvent, StepEvent
from ..stepstats import PARTS, WINDOW_STEPS, Rolling, StepAccount, StepStats
from .events import (EpochLogs, FitEnded, FitStarted, InputStalled, ScriptFinished,
                     ScriptStarted, Stage, StagesSampled, StepMetrics)


@dataclass
class RunSummary:
    """Fold events in with `add`; read the figures from the properties."""

    script: str = ""
    argv: tuple[str, ...] = ()
    pid: int = 0
    fit: FitStarted | None = None
    stages: tuple[Stage, ...] = ()
    stage_note: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    """The latest logs (running means over the epoch so far)."""
    epochs: list[EpochLogs] = field(default_factory=list)
    stalled: InputStalled | None = None
    """The last stall reported, cleared when a step arrives again."""
    finished: ScriptFinished | None = None
    errors: list[str] = field(default_factory=list)
    fits_ended: int = 0
    last_step: StepEvent | None = None

    def __post_init__(self) -> None:
        self._account = StepAccount()
        self._rolling = Rolling(WINDOW_STEPS)

    def add(self, event) -> None:
        if isinstance(event, StepEvent):
            self._add_step(event)
        elif isinstance(event, StagesSampled):
            self.stages, self.stage_note = event.stages, event.note
        elif isinstance(event, StepMetrics):
            self.metrics = dict(event.logs)
        elif isinstance(event, EpochLogs):
            self.epochs.append(event)
        elif isinstance(event, FitStarted):
            self.fit = event
        elif isinstance(event, FitEnded):
            self.fits_ended += 1
            self._account.add_between(max(0.0, event.tail_s))
        elif isinstance(event, InputStalled):
            self.stalled = event
        elif isinstance(event, ScriptStarted):
            self.script, self.argv, self.pid = event.script, event.argv, event.pid
        elif isinstance(event, ScriptFinished):
            self.finished = event
        elif isinstance(event, ErrorEvent):
            self.errors.append(event.message)

    def add_all(self, events) -> None:
        """Fold every event of `events` (a channel's drain), in order."""
        for event in events:
            self.add(event)

    def _add_step(self, event: StepEvent) -> None:
        self.add_steps([event])

    def add_steps(self, events: Sequence[StepEvent]) -> None:
        """Fold many steps at once, as `add` would one by one: the window folds a frame's
        steps in one call (one numpy sum per part; one call per step cost 82 us here)."""
        if not events:
            return
        timing = {part: [getattr(e, part) for e in events] for part in PARTS}
        self._account.add_steps([e.batch_size for e in events], timing)
        for event in events:
            self._rolling.add(event)
        self.last_step = events[-1]
        self.stalled = None

    @property
    def stats(self) -> StepStats:
        """The whole run: every step, the time between them and after the last."""
        return self._account.stats()

    @property
    def window(self) -> StepStats:
        """The last `WINDOW_STEPS` steps (what the live figures show)."""
        return self._rolling.stats()

    @property
    def steps(self) -> int:
        return self._account.steps

    @property
    def verdict(self) -> str:
        """TensorBoard's words for the whole run's input-wait share of step time."""
        return self.stats.verdict if self.steps else "no training steps"

    @property
    def slowest_stage(self) -> Stage | None:
        return next((s for s in self.stages if s.slowest), None)

    def to_json(self) -> dict:
        """The `--json` object: figures for CI jobs and scripts."""
        stats = self.stats
        return {
            "script": self.script,
            "verdict": self.verdict,
            "input_wait_fraction": round(stats.step_wait_fraction, 4),
            "idle_fraction": round(stats.idle_fraction, 4),
            "host_fraction": round(stats.host_fraction, 4),
            "between_fraction": round(stats.between_fraction, 4),
            "steps": stats.steps,
            "examples": stats.images,
            "examples_per_s": round(stats.images_per_s, 2),
            "images_per_s": round(stats.images_per_s, 2),
            "ms_per_step": round(stats.ms_per_step(), 3),
            "wall_s": round(stats.wall_s, 3),
            "stages": [stage_json(s) for s in self.stages],
            "stage_note": self.stage_note,
            "metrics": self.metrics,
            "epochs": [{"epoch": e.epoch, "seconds": round(e.seconds, 3), **e.logs}
                       for e in self.epochs],
            "exit_code": None if self.finished is None else self.finished.exit_code,
            "stalled": None if self.stalled is None else self.stalled.detail,
        }


def stage_json(stage: Stage) -> dict:
    return {"position": stage.position, "kind": stage.kind, "name": stage.name, "op": stage.op,
            "parallelism": stage.parallelism, "autotuned": stage.autotuned,
            "buffer_size": stage.buffer_size, "buffered": stage.buffered,
            "time_ms": None if stage.time_ms is None else round(stage.time_ms, 4),
            "ms_per_batch": None if stage.ms_per_batch is None else round(stage.ms_per_batch, 4),
            "elements": stage.elements, "fused_with": stage.fused_with,
            "workers": stage.workers, "slowest": stage.slowest}
