"""Word forms for what the pipeline diagram and its figures say, beside core/knobs.py's
change labels: how a map's parallelism, the prefetch buffer and a stage's rate read to a
person ("4 parallel calls", not "map x4"). Plain Python, no Qt, so any front end and the
tests use the same words."""
from __future__ import annotations

from .config import AUTOTUNE


def parallel_calls(value: int) -> str:
    """A map's num_parallel_calls in words: "inline", "4 parallel calls", "autotuned
    parallel calls"."""
    if value == AUTOTUNE:
        return "autotuned parallel calls"
    return "inline" if value == 1 else f"{value} parallel calls"


def stage_parallelism(stage: str, value: int) -> str:
    """A map stage and its parallelism: "normalize: autotuned parallel calls"."""
    return f"{stage}: {parallel_calls(value)}"


def prefetch_buffer(value: int) -> str:
    """The prefetch buffer's setting: "off", "autotuned size", "holds 4 batches"."""
    if value == 0:
        return "off"
    if value == AUTOTUNE:
        return "autotuned size"
    return f"holds {count(value, 'batch')}"


def count(n: int, noun: str) -> str:
    """ "1 batch", "3 batches"."""
    plural = noun + ("es" if noun.endswith(("s", "sh", "ch", "x")) else "s")
    return f"{n} {noun if n == 1 else plural}"


def batches_per_s(rate: float) -> str:
    """A stage's throughput with its unit: "12 batches/s" (one decimal below 10)."""
    return f"{rate:.1f} batches/s" if rate < 10 else f"{rate:,.0f} batches/s"


def ms_per_batch(ms: float) -> str:
    """A stage's time for one batch with its unit: "35.2 ms per batch"."""
    return f"{ms:.1f} ms per batch" if ms < 100 else f"{ms:,.0f} ms per batch"


def storage_latency(ms: float, per: str) -> str:
    """The simulated storage's delay: "4 ms per batch (simulated)", or "no added delay"."""
    return f"{ms:g} ms per {per} (simulated)" if ms else "no added delay"
