"""Train N steps under one pipeline config and summarize them: the one measurement that
`pipeviz bench` and the experiment sweep both run (core/bench.py prints it, core/experiment.py
reports it to the window).

A measurement trains a fresh model (a `StepLoop` reset to its initial weights, or a new
one) for warm-up + N steps, without validation (it compares input pipelines; a validation
pass would only add the same time to every config), and summarizes the N measured steps
with core/stepstats.py: images over the wall time of the whole window, every second of it
booked as input wait, host, between steps or compute.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable

from .config import PipelineConfig, TrainerConfig
from .events import EventChannel, StepEvent
from .stepstats import StepStats

if TYPE_CHECKING:
    from .shards import ShardSet
    from .steploop import StepLoop
    from .trainer import Trainer


@dataclass(frozen=True)
class BenchResult:
    """One config's measured steps (warm-up excluded). Fractions are of the window's wall
    time; they add up to 1 with compute (idle = wait + host + between)."""

    config: str
    steps: int
    images: int
    batch_size: int
    wall_s: float
    """Wall time of the measured window: from the end of the last warm-up step to the end
    of the last measured step (pauses aside, which a measurement never has)."""
    first_step: int
    last_step: int
    """Global step numbers of the window, as written to TensorBoard."""
    images_per_s: float
    idle_fraction: float
    input_wait_fraction: float
    host_fraction: float
    between_fraction: float
    compute_fraction: float
    between_steps_s: float
    """Time in no step inside the window (epoch ends and starts, rebuilds)."""
    mean_step_ms: float
    """Wall time per step, between steps included (wall_s / steps)."""
    verdict: str
    """TensorBoard's input-bound verdict for the input-wait share."""
    storage_latency_ms: float
    description: str
    steps_per_call: float
    """Mean steps per step-loop call, warm-up included (see TrainerConfig.call_budget_ms)."""


def summarize(name: str, config: PipelineConfig, stats: StepStats, first_step: int,
              steps_per_call: float = math.nan) -> BenchResult:
    """A BenchResult from the statistics of a window of steps starting at `first_step`."""
    return BenchResult(
        config=name, steps=stats.steps, images=stats.images, batch_size=config.batch_size,
        wall_s=stats.wall_s, first_step=first_step, last_step=first_step + stats.steps - 1,
        images_per_s=stats.images_per_s, idle_fraction=stats.idle_fraction,
        input_wait_fraction=stats.input_wait_fraction, host_fraction=stats.host_fraction,
        between_fraction=stats.between_fraction, compute_fraction=stats.compute_fraction,
        between_steps_s=stats.between_s, mean_step_ms=stats.ms_per_step(), verdict=stats.verdict,
        storage_latency_ms=config.storage_latency_ms, description=config.describe(),
        steps_per_call=steps_per_call)


@dataclass(frozen=True)
class Measurement:
    result: BenchResult
    steps: tuple[StepEvent, ...]
    """The measured steps' events (empty when events were off)."""


def measure(shards: "ShardSet", name: str, config: PipelineConfig, steps: int, warmup: int,
            loop: "StepLoop | None" = None, *, seed: int = 0, events: bool = True,
            summary_dir: str | None = None, trainer: dict[str, Any] | None = None,
            started: Callable[["Trainer"], bool] | None = None,
            progress: Callable[[int, int], None] | None = None) -> Measurement | None:
    """Train warm-up + `steps` steps under `config` and summarize the measured ones.

    `loop`: a traced StepLoop to reuse (reset here to its initial weights). `events=False`:
    no stage stamps and no step events (the difference is the hooks' cost). `trainer`:
    TrainerConfig fields to change. `started(trainer)` is called once it exists and may
    return False to cancel; `progress(done, total)` about five times a second. Returns None
    if the run was stopped before its last step; raises RuntimeError if training failed.
    """
    from .trainer import ERROR, Trainer

    if loop is not None:
        loop.reset()
    total = warmup + steps
    trainer_config = replace(TrainerConfig(epochs=10_000, max_steps=total, seed=seed,
                                           record_events=events, measure_after_step=warmup,
                                           summary_dir=summary_dir, validate=False),
                             **(trainer or {}))
    channel = EventChannel(lossy_capacity=total + 16)
    worker = Trainer(shards, config, trainer_config, channel, loop=loop)
    if started is not None and not started(worker):
        return None
    worker.start()
    while not worker.join(0.2):
        if progress is not None:
            progress(worker.global_step, total)
    if worker.state == ERROR:
        raise RuntimeError(f"config {name!r} failed: {worker.error or 'see the log'}")
    if worker.global_step < total:
        return None
    measured = tuple(e for e in channel.drain() if isinstance(e, StepEvent) and e.step > warmup)
    result = summarize(name if events else f"{name} (events off)", config, worker.totals.stats(),
                       warmup + 1, worker.global_step / max(worker.calls, 1))
    return Measurement(result, measured)
