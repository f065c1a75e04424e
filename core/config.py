"""Configuration dataclasses. Plain Python (no TensorFlow) so a GUI can import them instantly."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

AUTOTUNE = -1
"""Knob value meaning "let tf.data's autotuner choose" (maps to `tf.data.AUTOTUNE`)."""

LATENCY_PER_BATCH = "batch"
LATENCY_PER_FILE = "file"


class ConfigError(ValueError):
    """A configuration value a user gave is out of range; the message says which and why."""


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Every knob of the input pipeline. Any of them can be changed live, mid-epoch.

    prefetch:           0 = off, N = a buffer of N batches, AUTOTUNE = tf.data picks.
    parallel_reads:     shards read at once by `interleave` (1 = one file after another).
    parallel_map:       normalize calls run at once (1 = inline, AUTOTUNE = tf.data picks).
    cache:              keep decoded records in memory after the first full pass.
    batch_size:         examples per step (the seed's 32).
    shuffle_buffer:     records in the shuffle buffer (reshuffled with a per-epoch seed).
    storage_latency_ms: simulated storage latency per read request (a batch-sized block of
                        records, or a whole file with latency_per="file"), slept inside
                        tf.data's C++ threads so it never holds the Python GIL.
    augment:            vary each training batch at random (affine, stroke thickness,
                        elastic; core/augment.py) so the model reads drawn digits right.
    parallel_augment:   augment calls run at once (1 = inline, AUTOTUNE = tf.data picks).
    """

    prefetch: int = AUTOTUNE
    parallel_reads: int = 4
    parallel_map: int = AUTOTUNE
    cache: bool = False
    batch_size: int = 32
    shuffle_buffer: int = 1024
    storage_latency_ms: float = 0.0
    latency_per: str = LATENCY_PER_BATCH
    augment: bool = True
    parallel_augment: int = AUTOTUNE

    def __post_init__(self) -> None:
        _check(self.prefetch >= 0 or self.prefetch == AUTOTUNE, "prefetch", self.prefetch,
               "use 0 for off, a buffer size >= 1, or -1 for autotune")
        _check(self.parallel_reads >= 1, "parallel_reads", self.parallel_reads, "use 1 or more")
        _check(self.parallel_map >= 1 or self.parallel_map == AUTOTUNE, "parallel_map",
               self.parallel_map, "use 1 or more, or -1 for autotune")
        _check(1 <= self.batch_size <= 4096, "batch_size", self.batch_size, "use 1 to 4096")
        _check(self.shuffle_buffer >= 1, "shuffle_buffer", self.shuffle_buffer, "use 1 or more")
        _check(0 <= self.storage_latency_ms <= 10_000, "storage_latency_ms",
               self.storage_latency_ms, "use 0 to 10000 ms")
        _check(self.latency_per in (LATENCY_PER_BATCH, LATENCY_PER_FILE), "latency_per",
               self.latency_per, f"use '{LATENCY_PER_BATCH}' or '{LATENCY_PER_FILE}'")
        _check(self.parallel_augment >= 1 or self.parallel_augment == AUTOTUNE, "parallel_augment",
               self.parallel_augment, "use 1 or more, or -1 for autotune")

    def replace(self, **changes: Any) -> "PipelineConfig":
        return dataclasses.replace(self, **changes)

    def changed_fields(self, other: "PipelineConfig") -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self)
                     if getattr(self, f.name) != getattr(other, f.name))

    @property
    def uses_autotune(self) -> bool:
        return AUTOTUNE in (self.prefetch, self.parallel_map) or (
            self.augment and self.parallel_augment == AUTOTUNE)

    def describe(self) -> str:
        """A short human summary, e.g. 'prefetch 2, 4 reads, map x1, cache, 5 ms/batch'."""
        def knob(value: int) -> str:
            return "auto" if value == AUTOTUNE else str(value)
        parts = ["prefetch " + ("off" if self.prefetch == 0 else knob(self.prefetch)),
                 f"reads x{self.parallel_reads}", f"map x{knob(self.parallel_map)}",
                 "cache" if self.cache else "no cache", f"batch {self.batch_size}",
                 f"augment x{knob(self.parallel_augment)}" if self.augment else "no augment"]
        if self.storage_latency_ms:
            parts.append(f"{self.storage_latency_ms:g} ms/{self.latency_per}")
        return ", ".join(parts)


def _check(ok: bool, name: str, value: Any, hint: str) -> None:
    if not ok:
        raise ConfigError(f"{name}={value!r} is out of range: {hint}.")


def preset(name: str, base: PipelineConfig | None = None) -> PipelineConfig:
    """The named configurations the bench and the experiment sweep compare.

    naive: nothing (one file at a time, inline map and augment, no prefetch, no cache);
    no-augment: naive without the Augment stage (the difference is its cost); prefetch: naive
    plus a prefetch buffer; parallel: naive plus parallel reads, maps and augment;
    parallel-augment: naive plus a parallel Augment stage only; cache: naive plus an
    in-memory cache; all: every feature. Batch size, shuffle buffer and storage latency
    come from `base`; the Augment stage is on in all but no-augment.
    """
    base = base or PipelineConfig()
    naive = base.replace(prefetch=0, parallel_reads=1, parallel_map=1, cache=False, augment=True,
                         parallel_augment=1)
    presets = {
        "naive": naive,
        "no-augment": naive.replace(augment=False),
        "prefetch": naive.replace(prefetch=AUTOTUNE),
        "parallel": naive.replace(parallel_reads=4, parallel_map=AUTOTUNE, parallel_augment=AUTOTUNE),
        "parallel-augment": naive.replace(parallel_augment=AUTOTUNE),
        "cache": naive.replace(cache=True),
        "all": naive.replace(prefetch=AUTOTUNE, parallel_reads=4, parallel_map=AUTOTUNE,
                             parallel_augment=AUTOTUNE, cache=True),
    }
    if name not in presets:
        raise ConfigError(f"unknown config {name!r}: choose from {', '.join(presets)}.")
    return presets[name]


PRESET_NAMES = ("naive", "no-augment", "prefetch", "parallel", "parallel-augment", "cache", "all")


@dataclass(frozen=True, slots=True)
class TrainerConfig:
    """How the worker trains. Several steps run per `tf.function` call (as Keras's
    `steps_per_execution` does), which keeps Python out of the step loop; commands apply
    between calls."""

    epochs: int = 5
    learning_rate: float = 2e-3
    """Initial Adam rate; it decays (cosine) over the planned run, see core/schedule.py."""
    steps_per_execution: int = 16
    """The most steps one call runs."""
    call_budget_ms: float | None = 25.0
    """Fewer steps per call when they would take longer than this (at the recent median step
    time), so a pause, stop or knob change still applies within about one frame; each call
    costs ~2 ms of host time here, which more steps per call share. None: always
    `steps_per_execution` steps."""
    seed: int = 0
    max_steps: int | None = None
    record_events: bool = True
    measure_after_step: int = 0
    """Steps up to this one (warm-up: tracing, first shuffle fill) are left out of
    `Trainer.totals`."""
    summary_dir: str | None = None
    """Write TensorBoard scalars here (None: none are written)."""
    summary_every: int = 25
    """Steps averaged into each scalar point written."""

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, "epochs", self.epochs, "use 1 or more")
        _check(self.learning_rate > 0, "learning_rate", self.learning_rate, "use a positive rate")
        _check(1 <= self.steps_per_execution <= 256, "steps_per_execution",
               self.steps_per_execution, "use 1 to 256")
        _check(self.call_budget_ms is None or self.call_budget_ms > 0, "call_budget_ms",
               self.call_budget_ms, "use a positive time in ms, or None for fixed calls")
