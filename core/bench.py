"""`pipeviz bench`: the same training under several pipeline configs, one after another in
one process, measured by the trainer's own in-graph step timing."""
from __future__ import annotations

import json
import logging
import math
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import PRESET_NAMES, PipelineConfig, TrainerConfig, preset
from .datasets import find_data
from .events import EventChannel, StepEvent
from .shards import ShardSet, prepare_shards

if TYPE_CHECKING:
    from .trainer import Trainer
    from .steploop import StepLoop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchResult:
    """One config's measured steps (warm-up excluded). Fractions are of total wall time."""

    config: str
    steps: int
    images_per_s: float
    idle_fraction: float
    input_wait_fraction: float
    host_fraction: float
    compute_fraction: float
    median_step_ms: float
    storage_latency_ms: float
    description: str
    steps_per_call: float
    """Mean steps per step-loop call, warm-up included (see TrainerConfig.call_budget_ms)."""


def summarize(name: str, config: PipelineConfig, trainer: "Trainer",
              events: list[StepEvent]) -> BenchResult:
    """Fractions are sums over all measured steps (`trainer.totals`), so the rare long stalls
    of a shared machine count as they happened; the median step (from step events, when
    recorded) shows the typical step."""
    totals = trainer.totals
    wall = totals.wall_s
    def share(value: float) -> float:
        return value / wall if wall > 0 else 0.0
    compute = share(totals.compute_s)
    median = float(np.median([e.wall_s for e in events])) * 1e3 if events else float("nan")
    return BenchResult(
        config=name, steps=totals.steps, images_per_s=share(totals.images),
        idle_fraction=1.0 - compute, input_wait_fraction=share(totals.input_wait_s),
        host_fraction=share(totals.host_s), compute_fraction=compute, median_step_ms=median,
        storage_latency_ms=config.storage_latency_ms, description=config.describe(),
        steps_per_call=trainer.global_step / max(trainer.calls, 1))


def _train(shards: ShardSet, config: PipelineConfig, trainer_config: TrainerConfig,
           loop: StepLoop | None = None) -> tuple["Trainer", list[StepEvent]]:
    """Train to the step budget, from `loop`'s initial weights (reset here) or a new model;
    the trainer and every step event."""
    from .trainer import Trainer

    if loop is not None:
        loop.reset()
    channel = EventChannel(lossy_capacity=(trainer_config.max_steps or 0) + 16)
    trainer = Trainer(shards, config, trainer_config, channel, loop=loop)
    trainer.start()
    trainer.join()
    return trainer, [e for e in channel.drain() if isinstance(e, StepEvent)]


def run_config(shards: ShardSet, name: str, config: PipelineConfig, steps: int, warmup: int,
               seed: int = 0, events: bool = True, loop: StepLoop | None = None,
               trainer: dict[str, Any] | None = None) -> BenchResult:
    """Train a fresh model (same seed; or `loop`'s model reset to its initial weights, which
    skips tracing again) for warmup + steps under `config`; measure the rest.
    With `events=False` the pipeline carries no stage stamps and no step events are made:
    the difference to `events=True` is the cost of the event hooks. `trainer`: TrainerConfig
    fields to change from the app's defaults (e.g. `steps_per_execution`, `call_budget_ms`)."""
    trainer_config = replace(TrainerConfig(epochs=10_000, max_steps=warmup + steps, seed=seed,
                                           record_events=events, measure_after_step=warmup),
                             **(trainer or {}))
    worker, step_events = _train(shards, config, trainer_config, loop)
    if worker.state == "error":
        raise RuntimeError(f"config {name} failed: see the log")
    label = name if events else f"{name} (events off)"
    return summarize(label, config, worker, step_events[warmup:])


def measure_step_ms(shards: ShardSet, batch_size: int, steps: int = 120,
                    loop: StepLoop | None = None) -> float:
    """The median in-graph compute time of one train step (no storage latency)."""
    config = preset("naive", PipelineConfig(batch_size=batch_size))
    _, step_events = _train(shards, config, TrainerConfig(max_steps=steps), loop)
    return float(np.median([e.compute_s for e in step_events[steps // 4:]])) * 1e3


def format_table(results: list[BenchResult]) -> str:
    base = next((r for r in results if r.config == "naive"), results[0])
    width = max(10, *(len(r.config) for r in results))
    header = (f"{'config':<{width}} {'steps':>5} {'images/s':>9} {'speedup':>7} {'idle':>6} "
              f"{'wait':>6} {'host':>6} {'compute':>7} {'p50 step':>9}  settings")
    lines = [header, "-" * len(header)]
    for r in results:
        median = "      n/a" if math.isnan(r.median_step_ms) else f"{r.median_step_ms:>7.2f}ms"
        lines.append(f"{r.config:<{width}} {r.steps:>5} {r.images_per_s:>9.0f} "
                     f"{r.images_per_s / base.images_per_s:>6.2f}x {r.idle_fraction:>6.1%} "
                     f"{r.input_wait_fraction:>6.1%} {r.host_fraction:>6.1%} "
                     f"{r.compute_fraction:>7.1%} {median}  {r.description}")
    return "\n".join(lines)


def augment_cost_lines(results: list[BenchResult], examples: int) -> list[str]:
    """The Augment stage's cost per epoch of `examples`: each augmenting config's time per
    epoch minus no-augment's (from measured images/s), when both were run."""
    rates = {r.config: r.images_per_s for r in results if r.images_per_s > 0}
    if "no-augment" not in rates:
        return []
    base = examples / rates["no-augment"]
    return [f"augment cost per epoch of {examples} examples ({name} - no-augment): "
            f"{examples / rates[name] - base:+.2f} s ({examples / rates[name]:.2f} vs {base:.2f} s)"
            for name in ("naive", "parallel-augment") if name in rates]


def run_bench(data: str | None, steps: int, latency_ms: float | None, balance: bool,
              configs: list[str], as_json: bool, batch_size: int = 32, warmup: int | None = None,
              events: str = "on", cache_dir: Path | None = None, out=None) -> list[BenchResult]:
    """The `pipeviz bench` command. Warm-up defaults to one epoch, so `cache` runs from a
    complete cache and every config is measured past its tracing and first shuffle fill.
    `out` defaults to the current `sys.stdout` (looked up per call, so a redirected or
    captured stdout gets the table)."""
    out = out if out is not None else sys.stdout
    mnist = find_data(data, cache_dir=cache_dir)
    log.info("data: %s", mnist.source.description)
    shards = prepare_shards(mnist, cache_dir)
    from .steploop import StepLoop
    loop = StepLoop()  # traced once; every config starts from the same initial weights
    if balance:
        latency_ms = round(measure_step_ms(shards, batch_size, loop=loop), 2)
        log.info("balanced storage latency: %.2f ms per batch (the measured train step)", latency_ms)
    base = PipelineConfig(batch_size=batch_size, storage_latency_ms=latency_ms or 0.0)
    warmup = shards.train_count // batch_size if warmup is None else warmup
    results = []
    modes = {"on": [True], "off": [False], "both": [True, False]}[events]
    for name in configs:
        for with_events in modes:
            result = run_config(shards, name, preset(name, base), steps, warmup,
                                events=with_events, loop=loop)
            log.info("%s: %.0f images/s, idle %.1f%%", result.config, result.images_per_s,
                     100 * result.idle_fraction)
            results.append(result)
    if as_json:
        rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                 for k, v in asdict(r).items()} for r in results]
        out.write(json.dumps(rows, indent=1) + "\n")
    else:
        out.write(f"data: {mnist.source.description}\n"
                  f"storage latency: {base.storage_latency_ms:g} ms per batch"
                  f"{' (balanced against the train step)' if balance else ''}; "
                  f"{steps} measured steps after {warmup} warm-up steps\n\n")
        out.write(format_table(results) + "\n")
        for line in augment_cost_lines(results, shards.train_count):
            out.write(line + "\n")
    return results


def parse_configs(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PRESET_NAMES]
    if unknown or not names:
        raise ValueError(f"unknown config(s) {', '.join(unknown) or '(none)'}: "
                         f"choose from {', '.join(PRESET_NAMES)}")
    return names
