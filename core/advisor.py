"""The bottleneck advisor: from measured steps, what bounds the step, by how much, what to
change first, and the gain the numbers predict; then the same change, measured.

It reads the window's `StepStats` (core/stepstats.py), the same sums the idle plot, bench
and TensorBoard show: mean milliseconds per step whose parts add up to the step, and
TensorBoard's input-bound verdict for the wait share. Plain Python, tested headless.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from .config import AUTOTUNE, PipelineConfig
from .events import StepEvent
from .limits import cores
from .stepstats import HIGHLY_INPUT_BOUND, WINDOW_STEPS, StepStats

INPUT, HOST, COMPUTE = "input", "host", "compute"
BOUND_SHARE = HIGHLY_INPUT_BOUND
"""A share of wall time from which waiting for data (TensorBoard's "highly input-bound") or
host overhead is called the bound. Time between steps (epoch ends, rebuilds) is shown as
its own part but bounds no step, so it is never the verdict."""
PARALLEL_READS = 4
AUGMENT_CORES = cores()
"""A parallel Augment map spreads batches over the cores (its work is CPU, not waiting)."""


@dataclass(frozen=True)
class StepProfile:
    """Mean milliseconds per step of each part over a window of steps (`stats`), and of the
    pipeline's read and normalize stages."""

    stats: StepStats
    batch_size: int
    read_ms: float
    normalize_ms: float
    augment_ms: float = 0.0

    @property
    def steps(self) -> int:
        return self.stats.steps

    @property
    def wall_ms(self) -> float:
        return self.stats.ms_per_step()

    @property
    def wait_ms(self) -> float:
        return self.stats.ms_per_step("input_wait_s")

    @property
    def host_ms(self) -> float:
        return self.stats.ms_per_step("host_s")

    @property
    def between_ms(self) -> float:
        return self.stats.ms_per_step("between_s")

    @property
    def compute_ms(self) -> float:
        return self.stats.ms_per_step("compute_s")

    @property
    def images_per_s(self) -> float:
        return self.stats.images_per_s

    def share(self, part_ms: float) -> float:
        """`part_ms` as a share of the whole step, between steps included."""
        return part_ms / self.wall_ms if self.wall_ms > 0 else 0.0

    def step_share(self, part_ms: float) -> float:
        """`part_ms` as a share of the time in steps (between left out): what bounds a step,
        judged as TensorBoard judges it."""
        in_steps = self.wall_ms - self.between_ms
        return part_ms / in_steps if in_steps > 0 else 0.0

    def parts(self) -> str:
        return f"{self.stats.breakdown()} ms (mean of the last {self.steps} steps)"


def profile(steps: Sequence[StepEvent]) -> StepProfile | None:
    if not steps:
        return None
    n = len(steps)
    return StepProfile(
        stats=StepStats.of(steps), batch_size=steps[-1].batch_size,
        read_ms=1e3 * sum(e.t_loaded - e.read_start for e in steps) / n,
        normalize_ms=1e3 * sum(e.t_normalized - e.t_loaded for e in steps) / n,
        augment_ms=1e3 * sum(e.t_augmented_or_normalized - e.t_normalized for e in steps) / n)


@dataclass(frozen=True)
class Advice:
    bound: str
    share: float
    """The bound's share of the time in steps (between steps left out)."""
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
    """The bound and its share of the time in steps."""
    wait, host = p.step_share(p.wait_ms), p.step_share(p.host_ms)
    if wait >= max(host, BOUND_SHARE):
        return INPUT, wait
    if host >= BOUND_SHARE:
        return HOST, host
    return COMPUTE, p.step_share(p.compute_ms)


def advise(steps: Sequence[StepEvent], config: PipelineConfig) -> Advice | None:
    """What bounds the step under `config`, and the first change to make."""
    p = profile(steps)
    if p is None:
        return None
    bound, share = classify(p)
    verdict = p.stats.verdict
    parts = (f"{p.parts()}; {verdict} on TensorBoard's scale ({p.stats.step_wait_fraction:.0%} "
             "of the time in steps waits)")
    if p.share(p.between_ms) >= 0.05:
        parts += (f". {p.share(p.between_ms):.0%} of the time was between steps (an epoch's end "
                  "and validation, a pipeline rebuild): no step waited for it")
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
    headline = f"Input-bound: {share:.0%} of each step waits for data ({p.stats.verdict})"
    busy_ms = p.compute_ms + p.host_ms
    between = p.between_ms  # no pipeline knob changes the time between steps
    if config.prefetch == 0:
        # Without a buffer the pipeline only works while the step waits: producing a batch
        # takes `wait`. With one it works during compute too, so step = max(load, compute).
        predicted = max(p.wait_ms, busy_ms) + between
        return Advice(INPUT, share, headline,
                      f"{parts}. Prefetch off: loading and training take turns. With prefetch "
                      f"the step becomes max(load {p.wait_ms:.1f}, compute+host {busy_ms:.1f})"
                      f"{f' + between {between:.1f}' if between >= 0.05 else ''} "
                      f"= {predicted:.1f} ms.", p, {"prefetch": AUTOTUNE}, "Turn prefetch on",
                      predicted)
    if config.augment and config.parallel_augment == 1 and p.augment_ms > max(p.read_ms, 0.5):
        # Augmenting inline is the producer's largest part: a parallel map runs it on every
        # core at once (the tf.data guide's parallel-map lesson).
        produce_now = max(p.wall_ms - between, p.read_ms + p.normalize_ms + p.augment_ms)
        augment = p.augment_ms / AUGMENT_CORES
        predicted = max(busy_ms, produce_now - p.augment_ms + augment) + between
        return Advice(INPUT, share, headline,
                      f"{parts}. The buffer runs dry: augmenting takes {p.augment_ms:.1f} ms per "
                      f"batch, one batch at a time. As a parallel map it would take about "
                      f"{augment:.1f} ms, step {predicted:.1f} ms.", p,
                      {"parallel_augment": AUTOTUNE}, "Augment in parallel", predicted)
    if config.parallel_reads < PARALLEL_READS and p.read_ms > 0:
        # The producer makes one batch per step: read (split over more files) + normalize.
        read = p.read_ms * config.parallel_reads / PARALLEL_READS
        produce_now = max(p.wall_ms - between, p.read_ms + p.normalize_ms)
        predicted = max(busy_ms, produce_now - p.read_ms + read) + between
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
                      {"cache": True}, "Cache the data in memory", busy_ms + between)
    return Advice(INPUT, share, headline,
                  f"{parts}. Prefetch, parallel reads and cache are all on: normalizing "
                  f"({p.normalize_ms:.1f} ms per batch), augmenting ({p.augment_ms:.1f} ms) "
                  "or this machine's cores are the limit.", p)


@dataclass
class Trial:
    """An applied advice, measured on the steps trained after the change took effect.
    The first `settle` steps (the new pipeline filling its buffers) are left out."""

    advice: Advice
    first_step: int
    needed: int = WINDOW_STEPS
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
                f"{self.measured.images_per_s:,.0f} images/s over those {self.measured.steps} steps).")
