"""The experiment sweep: the same model, data and step count under each pipeline config,
one after another in a worker thread, each config measured as `pipeviz bench` measures it
(core/measure.py).

Results travel as plain events on the session's channel (`SweepProgress`, `SweepConfigDone`,
`SweepFinished`), so the GUI shows progress and results without touching the worker. A
cancel stops the running config within one step call and ends the sweep.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field

from .config import PRESET_NAMES, PipelineConfig, preset
from .events import EventChannel, StepEvent, SweepProgress
from .measure import BenchResult, measure
from .priority import lower_this_thread

log = logging.getLogger(__name__)

CUSTOM = "custom"
SWEEP_NAMES = (*PRESET_NAMES, CUSTOM)
_run_ids = itertools.count(1)


@dataclass(frozen=True)
class SweepPlan:
    """What one sweep runs. Every config trains the same steps: one full pass plus `warmup`
    steps of warm-up (tracing, the shuffle fill, a cache's filling pass), then `steps`
    measured steps, so configs with a cache are measured reading from a complete cache, as
    they would after their first epoch, and all are measured at the same steps of training."""

    names: tuple[str, ...] = SWEEP_NAMES
    steps: int = 150
    warmup: int = 12
    base: PipelineConfig = field(default_factory=PipelineConfig)
    seed: int = 0
    summary_root: str | None = None
    """TensorBoard scalars of each config go to <summary_root>/<name> (None: not written)."""

    def config_of(self, name: str) -> PipelineConfig:
        return self.base if name == CUSTOM else preset(name, self.base)

    def warmup_for(self, steps_per_epoch: int) -> int:
        """Past tracing, the shuffle fill and one full pass (a cache's filling epoch), so
        every window starts mid-epoch at the same step."""
        return steps_per_epoch + self.warmup


@dataclass(frozen=True)
class ConfigRun:
    """One config's measured result and the step events (with stage stamps) it measured."""

    name: str
    config: PipelineConfig
    result: BenchResult
    steps: tuple[StepEvent, ...]


@dataclass(frozen=True)
class SweepConfigDone:
    run_id: int
    run: ConfigRun


@dataclass(frozen=True)
class SweepFinished:
    """The sweep ended: all configs measured, cancelled, or failed (`error` says why)."""

    run_id: int
    runs: tuple[ConfigRun, ...]
    cancelled: bool = False
    error: str = ""
    storage_latency_ms: float = 0.0
    finished_at: float = field(default_factory=time.time)


class Sweep:
    """Runs a `SweepPlan` on `shards` in its own thread, reporting through `channel`."""

    def __init__(self, shards, plan: SweepPlan, channel: EventChannel, loop=None):
        """`loop`: a traced `StepLoop` made with `plan.seed` that nothing else is using (a
        finished sweep's `loop`), so a later sweep does not trace again; None makes one."""
        self.shards = shards
        self.plan = plan
        self.channel = channel
        self.loop = loop
        self.run_id = next(_run_ids)
        self.runs: list[ConfigRun] = []
        self._cancel = threading.Event()
        self._trainer = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="pipeviz-sweep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        """Stop the running config (within one step call) and skip the rest."""
        self._cancel.set()
        with self._lock:
            if self._trainer is not None:
                self._trainer.stop()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _run(self) -> None:
        from .steploop import StepLoop
        lower_this_thread()  # the GUI thread runs first (core/priority.py)
        error = ""
        try:
            if self.loop is None or self.loop.seed != self.plan.seed:
                self.loop = StepLoop(seed=self.plan.seed)  # traced once, reset for every config
            for index, name in enumerate(self.plan.names):
                if self._cancel.is_set():
                    break
                run = self._measure(index, name, self.loop)
                if run is None:
                    break
                self.runs.append(run)
                self.channel.put(SweepConfigDone(self.run_id, run))
        except Exception as exc:  # report, never die silently in a thread
            log.exception("the sweep failed")
            error = f"The experiment failed: {exc}"
        self.channel.put(SweepFinished(self.run_id, tuple(self.runs), self._cancel.is_set(), error,
                                       self.plan.base.storage_latency_ms))

    def _measure(self, index: int, name: str, loop) -> ConfigRun | None:
        """Train the model from its initial weights for warm-up + measured steps under one
        config; None if cancelled."""
        from .pipeline import steps_in

        config = self.plan.config_of(name)
        warmup = self.plan.warmup_for(steps_in(self.shards.train_count, config.batch_size))
        summary_dir = f"{self.plan.summary_root}/{name}" if self.plan.summary_root else None

        def started(trainer) -> bool:
            with self._lock:
                self._trainer = trainer
                return not self._cancel.is_set()

        def progress(done: int, total: int) -> None:
            self.channel.put(SweepProgress(self.run_id, index, len(self.plan.names), name,
                                           done, total))

        try:
            measured = measure(self.shards, name, config, self.plan.steps, warmup, loop,
                               seed=self.plan.seed, summary_dir=summary_dir, started=started,
                               progress=progress)
        finally:
            with self._lock:
                self._trainer = None
        if measured is None or self._cancel.is_set():
            return None
        return ConfigRun(name, config, measured.result, measured.steps)
