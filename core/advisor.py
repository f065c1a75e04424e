"""The bottleneck advisor: from measured steps, what bounds the step, by how much, what to
change first, and the gain the numbers predict; then the same change, measured.

Medians of the in-graph step breakdown are used (not means), so the rare long stalls of a
shared machine do not decide the verdict. Plain Python, tested headless.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median
from typing import Any, Sequence

from .config import AUTOTUNE, PipelineConfig
from .events import StepEvent

INPUT, HOST, COMPUTE = "input", "host", "compute"
BOUND_SHARE = 0.2
"""A share of the step above which waiting for data (or host overhead) is called the bound."""
PARALLEL_READS = 4


@dataclass(frozen=True)
class StepProfile:
    """Median milliseconds per step of each part, over `steps` recent steps."""

    steps: int
    batch_size: int
    wall_ms: float
    wait_ms: float
    host_ms: float
    compute_ms: float
    read_ms: float
    normalize_ms: float

    @property
    def images_per_s(self) -> float:
        return 1e3 * self.batch_size / self.wall_ms if self.wall_ms > 0 else 0.0

    def share(self, part_ms: float) -> float:
        total = self.wait_ms + self.host_ms + self.compute_ms
        return part_ms / total if total > 0 else 0.0


def profile(steps: Sequence[StepEvent]) -> StepProfile | None:
    if not steps:
        return None
    def ms(values) -> float:
        return 1e3 * median(values)
    return StepProfile(
        steps=len(steps), batch_size=steps[-1].batch_size,
        wall_ms=ms([e.wall_s for e in steps]), wait_ms=ms([e.input_wait_s for e in steps]),
        host_ms=ms([e.host_s for e in steps]), compute_ms=ms([e.compute_s for e in steps]),
        read_ms=ms([e.t_loaded - e.read_start for e in steps]),
        normalize_ms=ms([e.t_normalized - e.t_loaded for e in steps]))


@dataclass(frozen=True)
class Advice:
    bound: str
    share: float
    """The bound's share of the median step."""
    headline: str
    reason: str
    current: StepProfile
    changes: dict[str, Any] = field(default_factory=dict)
    """Pipeline knobs to change (empty: no pipeline knob helps)."""
    action: str = ""
    predicted_wall_ms: float | None = None

    @property
    def predicted_images_per_s(self) -> float | None:
        if not self.predicted_wall_ms:
            return None
        return 1e3 * self.current.batch_size / self.predicted_wall_ms

    @property
    def predicted_speedup(self) -> float | None:
        return self.current.wall_ms / self.predicted_wall_ms if self.predicted_wall_ms else None


def classify(p: StepProfile) -> tuple[str, float]:
    wait, host = p.share(p.wait_ms), p.share(p.host_ms)
    if wait >= max(host, BOUND_SHARE):
        return INPUT, wait
    if host >= BOUND_SHARE:
        return HOST, host
    return COMPUTE, p.share(p.compute_ms)


def advise(steps: Sequence[StepEvent], config: PipelineConfig) -> Advice | None:
    """What bounds the step under `config`, and the first change to make."""
    p = profile(steps)
    if p is None:
        return None
    bound, share = classify(p)
    parts = f"{p.wall_ms:.1f} ms step: wait {p.wait_ms:.1f}, host {p.host_ms:.1f}, compute {p.compute_ms:.1f} ms"
    if bound == HOST:
        return Advice(HOST, share, f"Host-bound: {share:.0%} of each step is Python/host overhead",
                      f"{parts}. No pipeline knob removes it: run more steps per call "
                      "(steps_per_execution) or a larger batch.", p)
    if bound == COMPUTE:
        return Advice(COMPUTE, share, f"Compute-bound: the model computes {share:.0%} of each step",
                      f"{parts}. The input pipeline keeps up; only a faster accelerator, a "
                      "smaller model or a larger batch per step would go faster.", p)
    return _input_advice(p, share, parts, config)


def _input_advice(p: StepProfile, share: float, parts: str, config: PipelineConfig) -> Advice:
    headline = f"Input-bound: {share:.0%} of each step waits for data"
    busy_ms = p.compute_ms + p.host_ms
    if config.prefetch == 0:
        # Without a buffer the pipeline only works while the step waits: producing a batch
        # takes `wait`. With one it works during compute too, so step = max(load, compute).
        predicted = max(p.wait_ms, busy_ms)
        return Advice(INPUT, share, headline,
                      f"{parts}. Prefetch off: loading and training take turns. With prefetch "
                      f"the step becomes max(load {p.wait_ms:.1f}, compute+host {busy_ms:.1f}) "
                      f"= {predicted:.1f} ms.", p, {"prefetch": AUTOTUNE}, "Turn prefetch on",
                      predicted)
    if config.parallel_reads < PARALLEL_READS and p.read_ms > 0:
        # The producer makes one batch per step: read (split over more files) + normalize.
        read = p.read_ms * config.parallel_reads / PARALLEL_READS
        produce_now = max(p.wall_ms, p.read_ms + p.normalize_ms)
        predicted = max(busy_ms, produce_now - p.read_ms + read)
        return Advice(INPUT, share, headline,
                      f"{parts}. The buffer runs dry: reading takes {p.read_ms:.1f} ms per batch. "
                      f"{PARALLEL_READS} files read at once would make it {read:.1f} ms, step "
                      f"{predicted:.1f} ms.", p, {"parallel_reads": PARALLEL_READS},
                      f"Read {PARALLEL_READS} files in parallel", predicted)
    if not config.cache:
        return Advice(INPUT, share, headline,
                      f"{parts}. Reads are already parallel and still too slow; an in-memory "
                      "cache removes the read from the second epoch on (step = compute + host "
                      f"= {busy_ms:.1f} ms then; the first pass still reads from disk).", p,
                      {"cache": True}, "Cache the data in memory", busy_ms)
    return Advice(INPUT, share, headline,
                  f"{parts}. Prefetch, parallel reads and cache are all on: normalizing "
                  f"({p.normalize_ms:.1f} ms per batch) or this machine's cores are the limit.", p)


@dataclass
class Trial:
    """An applied advice, measured on the steps trained after the change took effect.
    The first `settle` steps (the new pipeline filling its buffers) are left out."""

    advice: Advice
    first_step: int
    needed: int = 100
    settle: int = 8
    measured: StepProfile | None = None
    _steps: list[StepEvent] = field(default_factory=list)

    def add(self, steps: Sequence[StepEvent]) -> bool:
        """Feed steps as they arrive; True once the measurement is complete."""
        if self.measured is not None:
            return True
        start = self.first_step + self.settle
        self._steps.extend(e for e in steps if e.step >= start)
        if len(self._steps) >= self.needed:
            self.measured = profile(self._steps[: self.needed])
        return self.measured is not None

    @property
    def progress(self) -> int:
        return min(len(self._steps), self.needed)

    def summary(self) -> str:
        predicted = self.advice.predicted_wall_ms
        before = self.advice.current.wall_ms
        if self.measured is None:
            return (f"Measuring: {self.progress}/{self.needed} steps after the change "
                    f"(predicted {predicted:.1f} ms per step)…")
        after = self.measured.wall_ms
        return (f"{self.advice.action}: predicted {predicted:.1f} ms per step "
                f"({before / predicted:.2f}x), measured {after:.1f} ms ({before / after:.2f}x; "
                f"{self.measured.images_per_s:,.0f} images/s at the median step).")
