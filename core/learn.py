"""The learn panel's content: the seed's insight, a three-question quiz, the live evidence
each answer points at, and the epoch table's "Observation" column, written from the
measurements. Plain Python, tested headless.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Sequence

from .events import ConfigApplied, EpochSummary, StepEvent
from .stepstats import WINDOW_STEPS, StepStats

INSIGHT = (
    "A training step needs a batch. Without prefetching, the pipeline only starts loading the "
    "next batch when the step asks for it, so the model waits for every load: step time = "
    "load + compute. With prefetching, tf.data loads the next batches while the model trains "
    "on this one, so the step time becomes max(load, compute) and, when loading is no slower "
    "than computing, the model never waits. Parallel reading shortens the load itself, and "
    "caching removes it after the first epoch. Watch the idle plot as you switch them: idle is "
    "the share of each step the accelerator did not compute.")


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    choices: tuple[str, ...]
    correct: int
    explanation: str

    def is_right(self, choice: int) -> bool:
        return choice == self.correct


QUESTIONS = (
    Question("prefetch", "What does prefetching do for training?",
             ("It makes every batch smaller, so each step is faster",
              "It loads data ahead, so the model never waits for the next batch",
              "It keeps the whole dataset in accelerator memory",
              "It skips the batches the model has already learned"),
             1, "Prefetching overlaps loading with training: while the model trains on batch n, "
                "the pipeline already prepares batch n+1 in a buffer."),
    Question("parallel_reads", "With parallel reading on (4 files at once) and slow storage, "
             "what changes?",
             ("The model trains on four batches at once",
              "Each image is read four times, for accuracy",
              "Reads overlap, so a batch is read in about a quarter of the time",
              "The epoch is split in four shorter epochs"),
             2, "Reading is mostly waiting for storage; four reads in flight wait together, so "
                "the pipeline delivers batches up to four times faster."),
    Question("normalize", "Why does the pipeline divide pixels by 255 (pixel 150 becomes 0.59)?",
             ("So the pictures display correctly",
              "To make the files on disk smaller",
              "Inputs in 0-1 keep activations and gradients small, so training is stable and fast",
              "It makes the strokes of the digits thicker"),
             2, "Raw pixels up to 255 give large activations and gradients; at a learning rate "
                "that suits inputs in 0-1, training would be unstable. The data is the same, "
                "only its scale changes."),
)


class KnobEvidence:
    """The steps, with the knob changes between them, so the quiz can point at what a change
    did: the `StepStats` of `window` steps before and after (the idle plot's statistic)."""

    def __init__(self, capacity: int = 20_000, window: int = WINDOW_STEPS, settle: int = 8):
        self.window, self.settle = window, settle
        self._steps: deque[StepEvent] = deque(maxlen=capacity)
        self.changes: list[ConfigApplied] = []

    def add_steps(self, steps: Sequence[StepEvent]) -> None:
        self._steps.extend(steps)

    def latest(self, count: int) -> list[StepEvent]:
        """The `count` most recent steps kept, oldest first."""
        return list(self._steps)[-count:]

    def add_change(self, applied: ConfigApplied) -> None:
        self.changes.append(applied)

    def clear(self) -> None:
        self._steps.clear()
        self.changes.clear()

    def around(self, step: int) -> tuple[list, list]:
        before = [s for s in self._steps if s.step < step][-self.window:]
        after = [s for s in self._steps if s.step >= step + self.settle][: self.window]
        return before, after

    def effect(self, knob: str) -> str | None:
        """What the latest change of `knob` did, measured; None if it has not changed yet
        (or too few steps were seen on either side to say)."""
        applied = next((a for a in reversed(self.changes) if knob in a.changed), None)
        if applied is None:
            return None
        before, after = self.around(applied.step)
        if len(before) < 10 or len(after) < 10:
            return None
        stats = [StepStats.of(side) for side in (before, after)]
        idle = [s.idle_fraction for s in stats]
        rate = [s.images_per_s for s in stats]
        value = getattr(applied.config, knob)
        shown = {0: "off", -1: "auto"}.get(value, value) if knob == "prefetch" else value
        return (f"At step {applied.step} {knob.replace('_', ' ')} became {shown}: idle went from "
                f"{idle[0]:.0%} to {idle[1]:.0%} and throughput from {rate[0]:,.0f} to "
                f"{rate[1]:,.0f} images/s ({len(before)} steps before, {len(after)} after; "
                f"the marker on the idle plot shows the moment).")


def evidence(question: Question, knobs: KnobEvidence, normalized_150: float | None = None,
             drawn_max: float | None = None) -> str:
    """The live evidence a quiz answer points at, from what this session measured."""
    if question.key in ("prefetch", "parallel_reads"):
        found = knobs.effect(question.key)
        if found:
            return found
        toggle = "Prefetch" if question.key == "prefetch" else "Parallel reads"
        return (f"No evidence yet: while training (with some storage latency), switch "
                f"{toggle} and wait for 100 steps; the idle plot will show the difference "
                "here. The Experiment tab measures it side by side.")
    parts = []
    if normalized_150 is not None:
        parts.append(f"The pipeline's own normalize step turns pixel 150 into {normalized_150:.2f}")
    if drawn_max is not None:
        parts.append(f"your drawing reaches the model with pixel values 0 to {drawn_max:.2f}")
    return ("; ".join(parts) + ".") if parts else "Draw a digit: the model input preview shows the 0-1 image."


def observe(summary: EpochSummary, previous: EpochSummary | None,
            changed: Sequence[str] = ()) -> str:
    """The epoch table's Observation: loss trend, accuracy change, idle share, knob changes."""
    parts = []
    if previous is None:
        parts.append(f"first epoch, val acc {summary.val_accuracy:.1%}")
    else:
        drop = (previous.train_loss - summary.train_loss) / max(previous.train_loss, 1e-12)
        parts.append(f"loss falling ({drop:.0%})" if drop > 0.05 else
                     f"loss rising (+{-drop:.0%})" if drop < -0.05 else "loss flat")
        gain = 100 * (summary.val_accuracy - previous.val_accuracy)
        trend = f"val acc {gain:+.1f} pts"
        if gain < -0.2 and summary.train_accuracy > previous.train_accuracy:
            trend += " while train acc rose: overfitting?"
        parts.append(trend)
    parts.append(f"idle {summary.idle_fraction:.0%}, {summary.verdict}")
    if changed:
        parts.append("changed " + ", ".join(sorted(set(changed))).replace("_", " "))
    return "; ".join(parts)
