"""The experiment sweep: the same model, data and step count under each pipeline config,
one after another in a worker thread, each config measured by the trainer's in-graph stamps.

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

from .bench import BenchResult, summarize
from .config import PRESET_NAMES, PipelineConfig, TrainerConfig, preset
from .events import EventChannel, StepEvent, SweepProgress

log = logging.getLogger(__name__)

CUSTOM = "custom"
SWEEP_NAMES = (*PRESET_NAMES, CUSTOM)
_run_ids = itertools.count(1)


@dataclass(frozen=True)
class SweepPlan:
    """What one sweep runs. Warm-up steps (tracing, the first shuffle fill) are not
    measured; a config with `cache` also warms up for one full pass, so it is measured
    reading from a complete cache, as it would after its first epoch."""

    names: tuple[str, ...] = SWEEP_NAMES
    steps: int = 150
    warmup: int = 12
    base: PipelineConfig = field(default_factory=PipelineConfig)
    seed: int = 0
    summary_root: str | None = None
    """TensorBoard scalars of each config go to <summary_root>/<name> (None: not written)."""

    def config_of(self, name: str) -> PipelineConfig:
        return self.base if name == CUSTOM else preset(name, self.base)

    def warmup_for(self, config: PipelineConfig, steps_per_epoch: int) -> int:
        return max(self.warmup, steps_per_epoch) if config.cache else self.warmup


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
        error = ""
        try:
            if self.loop is None or self.loop.seed != self.plan.seed:
                self.loop = StepLoop(seed=self.plan.seed)  # traced once, reset for every config
            for index, name in enumerate(self.plan.names):
                if self._cancel.is_set():
                    break
                self.loop.reset()
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
        """Train the model from its initial weights (`loop` reset) for warm-up + measured
        steps under one config; None if cancelled."""
        from .pipeline import steps_in
        from .trainer import Trainer

        config = self.plan.config_of(name)
        warmup = self.plan.warmup_for(config, steps_in(self.shards.train_count, config.batch_size))
        total = warmup + self.plan.steps
        channel = EventChannel(lossy_capacity=total + 16)
        summary_dir = f"{self.plan.summary_root}/{name}" if self.plan.summary_root else None
        trainer = Trainer(self.shards, config, TrainerConfig(
            epochs=10_000, max_steps=total, seed=self.plan.seed, measure_after_step=warmup,
            summary_dir=summary_dir), channel, loop=loop)
        with self._lock:
            if self._cancel.is_set():
                return None
            self._trainer = trainer
        trainer.start()
        while not trainer.join(0.2):
            self.channel.put(SweepProgress(self.run_id, index, len(self.plan.names), name,
                                           trainer.global_step, total))
        with self._lock:
            self._trainer = None
        if trainer.state == "error":
            raise RuntimeError(f"config {name!r} failed: see the log")
        if self._cancel.is_set() or trainer.global_step < total:
            return None
        steps = [e for e in channel.drain() if isinstance(e, StepEvent)][warmup:]
        return ConfigRun(name, config, summarize(name, config, trainer, steps), tuple(steps))
