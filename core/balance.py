"""Storage latency that balances loading against training: the seed's situation.

Prefetching can at best turn load + compute into max(load, compute), so its lesson shows
most when loading a batch takes as long as training on it. `Balance` holds the two
measured sides and the latency that equalizes them; bench's `--balance`, the window's
"= step" button and the automatic match at each Start (`StartBalancer`) all use it.
Plain Python and numpy: no TensorFlow, no Qt.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .timeline import AUGMENT, NORMALIZE, READ, span_of

WARMUP_STEPS = 20
"""Steps after a Start left out of the automatic match: tracing, the shuffle buffer's first
fill and the autotuner's first choices make them slower than the steps that follow."""
MATCH_STEPS = 40
"""Steps the automatic match takes its medians over (well under a second here at a ~15 ms
step, a few seconds on a slow machine)."""
MATCH_SHARE = 0.7
"""The automatic match makes loading a batch take this share of the step, not all of it:
at 1.0 the step's own jitter (±20% on this shared machine) drains the prefetch buffer now
and then, and prefetch on would wait 2-13% where the lesson says it never waits. Measured
in the window (fresh settings, real MNIST, 3 runs each): at 0.8 prefetch on waited 10-17%
at the moment of unticking, at 0.7 12-13% (1-2% before the match; the rest is the
rebuild's refill and the buffer running near empty), without prefetch 49-56%."""


@dataclass(frozen=True)
class Balance:
    """The median train step and the pipeline's own time per batch apart from storage
    (reading, normalizing, augmenting), both in ms."""

    compute_ms: float
    pipeline_ms: float

    @property
    def latency_ms(self) -> float:
        """The storage latency at which loading a batch takes as long as training on it
        (latency + the pipeline's own work = the step), where prefetch matters most: the
        step can at best go from load + compute to max(load, compute), 2x."""
        return self.latency_for(1.0)

    def latency_for(self, share: float) -> float:
        """The storage latency at which loading a batch takes `share` of the train step."""
        return max(0.0, share * self.compute_ms - self.pipeline_ms)

    @classmethod
    def from_steps(cls, steps: Sequence, latency_ms: float = 0.0) -> "Balance | None":
        """From live step events read under a storage latency of `latency_ms`: the median
        compute, and the median of each batch's own work: its read span less the latency
        (reading records, shuffling, batching: 10-18 ms per batch here while the train step
        holds both cores, so leaving it out made the match 30-60% too slow), plus its
        normalize and augment spans. None without steps."""
        if not steps:
            return None
        latency_s = latency_ms / 1e3

        def own(e) -> float:
            start, end = span_of(e, READ)
            return (max(0.0, end - start - latency_s)
                    + sum(end - start for start, end in (span_of(e, NORMALIZE), span_of(e, AUGMENT))))
        return cls(1e3 * float(np.median([e.compute_s for e in steps])),
                   1e3 * float(np.median([own(e) for e in steps])))


class StartBalancer:
    """Once per run: after the warm-up, the latency that matches the measured step.

    Feed it every step event of a run; `feed` returns the latency (ms) at which loading
    takes `share` of the step, once, when WARMUP_STEPS + MATCH_STEPS steps have come, and
    None otherwise. `restart` at each Start.
    """

    def __init__(self, warmup: int = WARMUP_STEPS, steps: int = MATCH_STEPS,
                 share: float = MATCH_SHARE):
        self.warmup, self.steps, self.share = warmup, steps, share
        self._seen: list = []
        self._done = False
        self.latency_ms = 0.0

    def restart(self, latency_ms: float = 0.0) -> None:
        """A new run, read under a storage latency of `latency_ms`."""
        self._seen.clear()
        self._done = False
        self.latency_ms = latency_ms

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, events: Sequence) -> float | None:
        if self._done:
            return None
        self._seen.extend(events)
        if len(self._seen) < self.warmup + self.steps:
            return None
        self._done = True
        balance = Balance.from_steps(self._seen[self.warmup:self.warmup + self.steps], self.latency_ms)
        self._seen.clear()
        return None if balance is None else balance.latency_for(self.share)
