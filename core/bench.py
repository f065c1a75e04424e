"""`pipeviz bench`: the same training under several pipeline configs, one after another in
one process, each measured by core/measure.py (the measurement the experiment sweep runs)."""
from __future__ import annotations

import json
import logging
import math
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .balance import Balance
from .config import PRESET_NAMES, PipelineConfig, preset
from .datasets import find_data
from .events import StepEvent
from .measure import BenchResult, measure
from .shards import ShardSet, prepare_shards
from .stepstats import HIGHLY_INPUT_BOUND, MODERATELY_INPUT_BOUND

if TYPE_CHECKING:
    from .steploop import StepLoop

log = logging.getLogger(__name__)

WARMUP_PAST_EPOCH = 10
"""Bench's default warm-up is one epoch (so `cache` is measured reading a complete cache) and
this many steps more: the window then starts mid-epoch for every config, as the sweep's do,
instead of on the one-time start of the first cached epoch. It still crosses epoch starts."""


def run_config(shards: ShardSet, name: str, config: PipelineConfig, steps: int, warmup: int,
               seed: int = 0, events: bool = True, loop: StepLoop | None = None,
               trainer: dict[str, Any] | None = None, summary_dir: str | None = None,
               ) -> tuple[BenchResult, tuple[StepEvent, ...]]:
    """Measure one config (see core.measure.measure); its result and measured step events."""
    measured = measure(shards, name, config, steps, warmup, loop, seed=seed, events=events,
                       summary_dir=summary_dir, trainer=trainer)
    if measured is None:  # nothing stops a bench run but the trainer itself
        raise RuntimeError(f"config {name!r} stopped before its last step")
    return measured.result, measured.steps


def measure_balance(shards: ShardSet, batch_size: int, steps: int = 120,
                    loop: StepLoop | None = None, base: PipelineConfig | None = None) -> Balance:
    """Measure the naive config (with `base`'s other knobs, e.g. Augment) at no latency for
    `steps` steps; the medians of the last three quarters."""
    config = preset("naive", (base or PipelineConfig()).replace(batch_size=batch_size,
                                                                 storage_latency_ms=0.0))
    warmup = steps // 4
    measured = measure(shards, "naive", config, steps - warmup, warmup, loop)
    if measured is None:
        raise RuntimeError("the balance measurement stopped before its last step")
    return Balance(float(np.median([e.compute_s for e in measured.steps])) * 1e3,
                   float(np.median([e.input_wait_s for e in measured.steps])) * 1e3)


def format_table(results: list[BenchResult]) -> str:
    """The bench table: every fraction is of the measured window's wall time (wait + host +
    between + compute = 100%), ms/step is the window's wall time per step."""
    base = next((r for r in results if r.config == "naive"), results[0])
    width = max(10, *(len(r.config) for r in results))
    header = (f"{'config':<{width}} {'steps':>5} {'images/s':>9} {'speedup':>7} {'idle':>6} "
              f"{'wait':>6} {'host':>6} {'between':>7} {'compute':>7} {'ms/step':>7}  "
              f"{'verdict':<22} settings")
    lines = [header, "-" * len(header)]
    for r in results:
        speedup = r.images_per_s / base.images_per_s if base.images_per_s > 0 else math.nan
        lines.append(f"{r.config:<{width}} {r.steps:>5} {r.images_per_s:>9.0f} "
                     f"{speedup:>6.2f}x {r.idle_fraction:>6.1%} "
                     f"{r.input_wait_fraction:>6.1%} {r.host_fraction:>6.1%} "
                     f"{r.between_fraction:>7.1%} {r.compute_fraction:>7.1%} "
                     f"{r.mean_step_ms:>7.2f}  {r.verdict:<22} {r.description}")
    lines.append("")
    lines.append(f"images/s = images / wall time of the window (between steps included); verdict: "
                 f"TensorBoard's input-pipeline thresholds on wait (under "
                 f"{MODERATELY_INPUT_BOUND:.0%} not, {MODERATELY_INPUT_BOUND:.0%}-"
                 f"{HIGHLY_INPUT_BOUND:.0%} moderately, {HIGHLY_INPUT_BOUND:.0%} or more highly "
                 f"input-bound)")
    return "\n".join(lines)


def _summary_dir(runs_dir: Path | None, label: str) -> str | None:
    """<runs_dir>/<config>: the config's TensorBoard scalars (None: not written)."""
    if runs_dir is None:
        return None
    folder = runs_dir / label.replace(" ", "-").replace("(", "").replace(")", "")
    if folder.exists() and any(folder.glob("events.out.tfevents.*")):
        log.warning("%s already holds TensorBoard events: TensorBoard will show both runs", folder)
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


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
              events: str = "on", cache_dir: Path | None = None, out=None,
              runs_dir: Path | None = None, trace: Path | None = None) -> list[BenchResult]:
    """The `pipeviz bench` command. Warm-up defaults to one epoch and WARMUP_PAST_EPOCH
    steps, so `cache` runs from a complete cache and every config is measured past its
    tracing and first shuffle fill.
    `runs_dir`: each config's TensorBoard scalars in <runs_dir>/<config>; `trace`: the
    measured batches' stage spans as a Chrome trace. `out` defaults to the current
    `sys.stdout` (looked up per call, so a redirected or captured stdout gets the table)."""
    out = out if out is not None else sys.stdout
    mnist = find_data(data, cache_dir=cache_dir)
    log.info("data: %s", mnist.source.description)
    shards = prepare_shards(mnist, cache_dir)
    from .steploop import StepLoop
    loop = StepLoop()  # traced once; every config starts from the same initial weights
    if balance:
        measured = measure_balance(shards, batch_size, loop=loop)
        latency_ms = round(measured.latency_ms, 2)
        log.info("balanced storage latency: %.2f ms per batch (train step %.2f ms - the "
                 "pipeline's own %.2f ms per batch)", latency_ms, measured.compute_ms,
                 measured.pipeline_ms)
    base = PipelineConfig(batch_size=batch_size, storage_latency_ms=latency_ms or 0.0)
    if warmup is None:  # past the cache's filling pass and the start of the next epoch
        from .pipeline import steps_in
        warmup = steps_in(shards.train_count, batch_size) + WARMUP_PAST_EPOCH
    results, traced = [], []
    modes = {"on": [True], "off": [False], "both": [True, False]}[events]
    for name in configs:
        for with_events in modes:
            label = name if with_events else f"{name} (events off)"
            result, step_events = run_config(shards, name, preset(name, base), steps, warmup,
                                             events=with_events, loop=loop,
                                             summary_dir=_summary_dir(runs_dir, label))
            log.info("%s: %.0f images/s, idle %.1f%%", result.config, result.images_per_s,
                     100 * result.idle_fraction)
            results.append(result)
            if step_events:
                traced.append((label, step_events))
    if trace is not None:
        from .trace import write_trace
        write_trace(trace, traced)
        log.info("trace of %d configs written to %s", len(traced), trace)
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
