"""One set of step statistics: every figure pipeviz shows about where the time went.

Bench, the experiment sweep, the advisor, the idle plot's figures, the Learn panel's
evidence, the epoch table and the TensorBoard scalars all read `StepStats`, so a figure
shown in two places is one number, and the parts of a step add up to the step shown.

The accounting covers every second of wall time except pauses:

    wall = input wait + host + between + compute

- input wait: the step asked for its batch and waited for the pipeline (in-graph stamps);
- host: from the previous step's end to this step asking for data (Python, the call into
  the compiled loop, the loop's own bookkeeping);
- between: time in no step at all: epoch ends (reading the iterator to its end,
  validation, dropping it), a new epoch's or a rebuilt pipeline's start (the run's own
  start-up, tracing included, is in the first epoch's time but in no step);
- compute: the train step itself.

Statistics over a window are sums, not medians: throughput is images over the wall time of
the whole window, so a stall between epochs lowers it as the wall clock says it should.
Plain Python and numpy; no TensorFlow, no Qt.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

WINDOW_STEPS = 100
"""The window the live figures read: the idle plot's rolling curves, the figures above it,
the advisor and its measured trial all use the last this many steps."""

PARTS = ("input_wait_s", "host_s", "between_s", "compute_s")
"""The parts of wall time, in the order they are stacked in the idle plot."""
PART_LABELS = {"input_wait_s": "wait", "host_s": "host", "between_s": "between",
               "compute_s": "compute"}

MODERATELY_INPUT_BOUND = 0.05
HIGHLY_INPUT_BOUND = 0.20
"""TensorBoard profiler's input-pipeline analyzer thresholds on the share of step time
spent waiting for input: under 5% not input-bound, 5-20% moderately, 20% or more highly."""


def input_verdict(wait_fraction: float) -> str:
    """TensorBoard's words for an input-wait share, so its profile and pipeviz agree."""
    if wait_fraction >= HIGHLY_INPUT_BOUND:
        return "highly input-bound"
    if wait_fraction >= MODERATELY_INPUT_BOUND:
        return "moderately input-bound"
    return "not input-bound"


@dataclass(frozen=True, slots=True)
class StepStats:
    """Sums over a window of steps; every figure is derived from these six numbers."""

    steps: int = 0
    images: int = 0
    input_wait_s: float = 0.0
    host_s: float = 0.0
    between_s: float = 0.0
    compute_s: float = 0.0

    @classmethod
    def of(cls, steps: Iterable) -> "StepStats":
        """From step events (anything with batch_size and the four parts)."""
        n = images = 0
        sums = dict.fromkeys(PARTS, 0.0)
        for e in steps:
            n += 1
            images += e.batch_size
            for part in PARTS:
                sums[part] += getattr(e, part)
        return cls(n, images, **sums)

    @property
    def wall_s(self) -> float:
        """Wall time of the window, pauses left out: the sum of the four parts."""
        return self.input_wait_s + self.host_s + self.between_s + self.compute_s

    @property
    def idle_s(self) -> float:
        return self.wall_s - self.compute_s

    def fraction(self, part: str) -> float:
        """`part` ("input_wait_s", "host_s", "between_s", "compute_s" or "idle_s") / wall."""
        wall = self.wall_s
        return getattr(self, part) / wall if wall > 0 else 0.0

    @property
    def input_wait_fraction(self) -> float:
        return self.fraction("input_wait_s")

    @property
    def host_fraction(self) -> float:
        return self.fraction("host_s")

    @property
    def between_fraction(self) -> float:
        return self.fraction("between_s")

    @property
    def compute_fraction(self) -> float:
        return self.fraction("compute_s")

    @property
    def idle_fraction(self) -> float:
        """The share of wall time the accelerator did not compute."""
        return self.fraction("idle_s")

    @property
    def images_per_s(self) -> float:
        wall = self.wall_s
        return self.images / wall if wall > 0 else 0.0

    def ms_per_step(self, part: str = "wall_s") -> float:
        """Mean milliseconds per step of `part` (or of the whole step, between included)."""
        return 1e3 * getattr(self, part) / self.steps if self.steps else 0.0

    @property
    def step_wait_fraction(self) -> float:
        """Input wait over the time in steps (between steps left out), the ratio TensorBoard's
        input-pipeline analyzer judges: it sees steps, not the time between them."""
        in_steps = self.wall_s - self.between_s
        return self.input_wait_s / in_steps if in_steps > 0 else 0.0

    @property
    def verdict(self) -> str:
        return input_verdict(self.step_wait_fraction)

    def breakdown(self) -> str:
        """'12.3 ms per step = wait 0.2 + host 0.1 + between 0.4 + compute 11.6': the parts
        add up to the step (rounding aside), the statistic named by the caller."""
        parts = " + ".join(f"{PART_LABELS[p]} {self.ms_per_step(p):.1f}" for p in PARTS)
        return f"{self.ms_per_step():.1f} ms per step = {parts}"


class StepAccount:
    """A running sum of steps (and of time between them), read as `StepStats`.

    The trainer keeps one per epoch, one for the measured steps (bench), and the
    TensorBoard writer one per scalar point; all add the same per-step arrays.
    """

    def __init__(self) -> None:
        self._sums = np.zeros(len(PARTS))
        self.steps = 0
        self.images = 0

    def add_steps(self, sizes: np.ndarray, timing: Mapping[str, np.ndarray],
                  with_between: bool = True) -> None:
        """Steps of one call: `sizes` images each, `timing` arrays of the parts."""
        self.steps += len(sizes)
        self.images += int(np.sum(sizes))
        for i, part in enumerate(PARTS):
            if part != "between_s" or with_between:
                self._sums[i] += float(np.sum(timing[part]))

    def add_between(self, seconds: float) -> None:
        """Time in no step (an epoch's end, a rebuild) that belongs to this account."""
        self._sums[PARTS.index("between_s")] += seconds

    def stats(self) -> StepStats:
        return StepStats(self.steps, self.images, *(float(v) for v in self._sums))

    def clear(self) -> None:
        self._sums[:] = 0
        self.steps = self.images = 0


class Rolling:
    """StepStats over the last `window` steps, updated one step at a time in O(1): what the
    idle plot draws at each step, the same statistic the advisor reads over its window.
    Plain floats: it runs per step on the GUI thread (4.2 us a step here; numpy rows 9.4)."""

    def __init__(self, window: int):
        self.window = window
        self._rows: deque[tuple[float, ...]] = deque()
        self._sums = [0.0] * (1 + len(PARTS))

    def add(self, event) -> StepStats:
        row = (event.batch_size, event.input_wait_s, event.host_s, event.between_s, event.compute_s)
        self._rows.append(row)
        sums = self._sums
        for i, value in enumerate(row):
            sums[i] += value
        if len(self._rows) > self.window:
            for i, value in enumerate(self._rows.popleft()):
                sums[i] -= value
        return self.stats()

    def stats(self) -> StepStats:
        images, *parts = (max(v, 0.0) for v in self._sums)  # float drift, never below 0
        return StepStats(len(self._rows), int(round(images)), *parts)
