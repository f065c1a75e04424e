"""Configuration dataclasses. Plain Python (no TensorFlow) so a GUI can import them instantly."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from . import limits

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

    Defaults are the first launch: the seed's lesson with nothing hiding it. Prefetch is on
    and every other stage runs one call at a time, because parallel reads and parallel maps
    also work ahead of the step and would hide what unticking Prefetch does (core/lesson.py
    says so in words when they are on); the window matches the storage latency to the step
    at each Start until the user sets it. Those knobs are the next lessons.

    Ranges (checked here, whichever door a value comes through; see core/limits.py for the
    bounds that follow the machine): prefetch -1 or 0..min(1024, a quarter of memory in
    batches); parallel_reads 1..max(64, 16 x cores); parallel_map -1 or 1..the same;
    batch_size 1..4096; shuffle_buffer 1..min(4M, a quarter of memory in records);
    storage_latency_ms 0..10000; latency_per "batch" or "file".
    """

    prefetch: int = AUTOTUNE
    parallel_reads: int = 1
    parallel_map: int = 1
    cache: bool = False
    batch_size: int = 32
    shuffle_buffer: int = 256
    storage_latency_ms: float = 0.0
    latency_per: str = LATENCY_PER_BATCH
    augment: bool = True
    parallel_augment: int = 1

    def __post_init__(self) -> None:
        for name in ("prefetch", "parallel_reads", "parallel_map", "batch_size", "shuffle_buffer"):
            _check_int(name, getattr(self, name))
        _check_type(isinstance(self.cache, bool), "cache", self.cache, "use true or false")
        _check_real("storage_latency_ms", self.storage_latency_ms)
        most = limits.max_parallel()
        _check(1 <= self.batch_size <= MAX_BATCH_SIZE, "batch_size", self.batch_size,
               f"use 1 to {MAX_BATCH_SIZE}")
        most_prefetch = limits.max_prefetch(self.batch_size)
        _check(0 <= self.prefetch <= most_prefetch or self.prefetch == AUTOTUNE, "prefetch",
               self.prefetch, f"use 0 for off, a buffer of 1 to {most_prefetch} batches "
                              f"(at batch size {self.batch_size} on this machine), or -1 for autotune")
        _check(1 <= self.parallel_reads <= most, "parallel_reads", self.parallel_reads,
               f"use 1 to {most} on this machine ({limits.cores()} cores)")
        _check(1 <= self.parallel_map <= most or self.parallel_map == AUTOTUNE, "parallel_map",
               self.parallel_map, f"use 1 to {most} on this machine, or -1 for autotune")
        most_shuffle = limits.max_shuffle_buffer()
        _check(1 <= self.shuffle_buffer <= most_shuffle, "shuffle_buffer", self.shuffle_buffer,
               f"use 1 to {most_shuffle} records on this machine")
        _check(0 <= self.storage_latency_ms <= MAX_LATENCY_MS, "storage_latency_ms",
               self.storage_latency_ms, f"use 0 to {MAX_LATENCY_MS:g} ms")
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
        """Every knob in words, as the window names them (core/knobs.py): "prefetch on, one
        read at a time, normalize inline, cache off, batch 32, augment inline"."""
        from .knobs import describe  # (knobs reads this module)
        return describe(self)


MAX_BATCH_SIZE = 4096
MAX_LATENCY_MS = 10_000.0
MAX_EPOCHS = 100_000
MAX_STEPS = 10**9
"""Step counts (a step budget, the warm-up) beyond this would train for years here."""


def _check(ok: bool, name: str, value: Any, hint: str) -> None:
    if not ok:
        raise ConfigError(f"{name}={value!r} is out of range: {hint}.")


def _check_type(ok: bool, name: str, value: Any, hint: str) -> None:
    if not ok:
        raise ConfigError(f"{name}={value!r} is not a valid value: {hint}.")


def _check_int(name: str, value: Any) -> None:
    """Whole numbers only: a float or a string would reach tf.data (or a comparison) and
    fail there, far from the door it came through."""
    _check_type(isinstance(value, Integral) and not isinstance(value, bool), name, value,
                "use a whole number")


def _check_real(name: str, value: Any) -> None:
    _check_type(isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value),
                name, value, "use a finite number")


def check_batch_fits(batch_size: int, train_examples: int) -> None:
    """ConfigError unless the training data fills at least one batch: an epoch of no steps
    would spin through its epochs without training (and without obeying Stop)."""
    if train_examples < 1:
        raise ConfigError("the data holds no training examples: load a data set with images in it.")
    _check(batch_size <= train_examples, "batch_size", batch_size,
           f"the data has only {train_examples} training examples, fewer than one batch; "
           f"use a batch size up to {train_examples} or more data")


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

    epochs: int = 50
    """About 3 minutes here (250 steps of ~12 ms per epoch on the 8,000 training images): long
    enough to try the knobs before the run ends; the seed trained 5."""
    learning_rate: float = 2e-3
    """Initial Adam rate; it decays (cosine) over the planned run, see core/schedule.py."""
    steps_per_execution: int = 16
    """The most steps one call runs."""
    call_budget_ms: float | None = 100.0
    """Fewer steps per call when they would take longer than this (at the recent median step
    time), so a pause, stop or knob change still applies within about a tenth of a second.
    Each call costs ~1-2 ms of host time here, which the steps of a call share: at this
    budget that is at most ~2% of any step, fast or slow, so a slow pipeline's cost shows
    as input wait, not as host time. None: always `steps_per_execution` steps."""
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
    validate: bool = True
    """Evaluate on the validation shards after each epoch (bench and the sweep do not: they
    compare input pipelines)."""

    def __post_init__(self) -> None:
        """Ranges: epochs 1..100000; learning_rate (0, 1]; steps_per_execution 1..256;
        call_budget_ms None or (0, 10000]; seed 0..2**31-1; max_steps None or 1..10**9;
        measure_after_step 0..10**9; summary_every 1..10**6."""
        for name in ("epochs", "steps_per_execution", "seed", "measure_after_step", "summary_every"):
            _check_int(name, getattr(self, name))
        for name in ("max_steps",):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name))
        _check_real("learning_rate", self.learning_rate)
        if self.call_budget_ms is not None:
            _check_real("call_budget_ms", self.call_budget_ms)
        _check(1 <= self.epochs <= MAX_EPOCHS, "epochs", self.epochs, f"use 1 to {MAX_EPOCHS}")
        _check(0 < self.learning_rate <= 1, "learning_rate", self.learning_rate,
               "use a positive rate up to 1")
        _check(1 <= self.steps_per_execution <= 256, "steps_per_execution",
               self.steps_per_execution, "use 1 to 256")
        _check(self.call_budget_ms is None or 0 < self.call_budget_ms <= 10_000, "call_budget_ms",
               self.call_budget_ms, "use a time in ms up to 10000, or None for fixed calls")
        _check(0 <= self.seed < 2**31, "seed", self.seed, "use 0 to 2147483647")
        _check(self.max_steps is None or 1 <= self.max_steps <= MAX_STEPS, "max_steps",
               self.max_steps, f"use 1 to {MAX_STEPS}")
        _check(0 <= self.measure_after_step <= MAX_STEPS, "measure_after_step",
               self.measure_after_step, f"use 0 to {MAX_STEPS}")
        _check(1 <= self.summary_every <= 10**6, "summary_every", self.summary_every,
               "use 1 to 1000000")
