"""`pipeviz bench`: the same training under several pipeline configs, one after another in
one process, measured by the trainer's own in-graph step timing."""
from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .config import PRESET_NAMES, PipelineConfig, TrainerConfig, preset
from .datasets import find_data
from .events import EventChannel, StepEvent
from .shards import prepare_shards, ShardSet

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


def summarize(name: str, config: PipelineConfig, events: list[StepEvent]) -> BenchResult:
    """Aggregate step events: fractions are sums over all steps, so the rare long stalls of
    a shared machine count as they happened; the median step shows the typical step."""
    wall = sum(e.wall_s for e in events)
    def share(field: str) -> float:
        return sum(getattr(e, field) for e in events) / wall if wall > 0 else 0.0
    compute = share("compute_s")
    return BenchResult(
        config=name, steps=len(events),
        images_per_s=sum(e.batch_size for e in events) / wall if wall > 0 else 0.0,
        idle_fraction=1.0 - compute, input_wait_fraction=share("input_wait_s"),
        host_fraction=share("host_s"), compute_fraction=compute,
        median_step_ms=float(np.median([e.wall_s for e in events])) * 1e3 if events else 0.0,
        storage_latency_ms=config.storage_latency_ms, description=config.describe())


def run_config(shards: ShardSet, name: str, config: PipelineConfig, steps: int, warmup: int,
               seed: int = 0) -> BenchResult:
    """Train a fresh model (same seed) for warmup + steps under `config`; measure the rest."""
    from .trainer import Trainer

    channel = EventChannel(lossy_capacity=warmup + steps + 16)
    trainer = Trainer(shards, config, TrainerConfig(epochs=10_000, max_steps=warmup + steps,
                                                     seed=seed), channel)
    trainer.start()
    trainer.join()
    if trainer.state == "error":
        raise RuntimeError(f"config {name} failed: see the log")
    events = [e for e in channel.drain() if isinstance(e, StepEvent)][warmup:]
    return summarize(name, config, events)


def measure_step_ms(shards: ShardSet, batch_size: int, steps: int = 120) -> float:
    """The median in-graph compute time of one train step (no storage latency)."""
    from .trainer import Trainer

    channel = EventChannel(lossy_capacity=steps + 16)
    config = preset("naive", PipelineConfig(batch_size=batch_size))
    trainer = Trainer(shards, config, TrainerConfig(max_steps=steps), channel)
    trainer.start()
    trainer.join()
    computes = [e.compute_s for e in channel.drain() if isinstance(e, StepEvent)][steps // 4:]
    return float(np.median(computes)) * 1e3


def format_table(results: list[BenchResult]) -> str:
    base = next((r for r in results if r.config == "naive"), results[0])
    header = (f"{'config':<10} {'steps':>5} {'images/s':>9} {'speedup':>7} {'idle':>6} "
              f"{'wait':>6} {'host':>6} {'compute':>7} {'p50 step':>9}  settings")
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(f"{r.config:<10} {r.steps:>5} {r.images_per_s:>9.0f} "
                     f"{r.images_per_s / base.images_per_s:>6.2f}x {r.idle_fraction:>6.1%} "
                     f"{r.input_wait_fraction:>6.1%} {r.host_fraction:>6.1%} "
                     f"{r.compute_fraction:>7.1%} {r.median_step_ms:>7.2f}ms  {r.description}")
    return "\n".join(lines)


def run_bench(data: str | None, steps: int, latency_ms: float | None, balance: bool,
              configs: list[str], as_json: bool, batch_size: int = 32, warmup: int | None = None,
              cache_dir: Path | None = None, out=sys.stdout) -> list[BenchResult]:
    """The `pipeviz bench` command. Warm-up defaults to one epoch, so `cache` runs from a
    complete cache and every config is measured past its tracing and first shuffle fill."""
    mnist = find_data(data, cache_dir=cache_dir)
    log.info("data: %s", mnist.source.description)
    shards = prepare_shards(mnist, cache_dir)
    if balance:
        latency_ms = round(measure_step_ms(shards, batch_size), 2)
        log.info("balanced storage latency: %.2f ms per batch (the measured train step)", latency_ms)
    base = PipelineConfig(batch_size=batch_size, storage_latency_ms=latency_ms or 0.0)
    warmup = shards.train_count // batch_size if warmup is None else warmup
    results = []
    for name in configs:
        result = run_config(shards, name, preset(name, base), steps, warmup)
        log.info("%s: %.0f images/s, idle %.1f%%", name, result.images_per_s, 100 * result.idle_fraction)
        results.append(result)
    if as_json:
        out.write(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    else:
        out.write(f"data: {mnist.source.description}\n"
                  f"storage latency: {base.storage_latency_ms:g} ms per batch"
                  f"{' (balanced against the train step)' if balance else ''}; "
                  f"{steps} measured steps after {warmup} warm-up steps\n\n")
        out.write(format_table(results) + "\n")
    return results


def parse_configs(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PRESET_NAMES]
    if unknown or not names:
        raise ValueError(f"unknown config(s) {', '.join(unknown) or '(none)'}: "
                         f"choose from {', '.join(PRESET_NAMES)}")
    return names
