"""`pipeviz run train.py --report` and `--json`: what the window shows, as text for a
terminal (an SSH session) or one JSON object (a CI job), printed when the script ends.

Both read the one `RunSummary` (core/watch/summary.py), its `StepStats` and the verdict
with TensorBoard's thresholds (core/stepstats.py), the advice (advice.py) and the
comparison with the last run of the script (history.py): a figure printed here is the
figure the window shows. Plain Python.
"""
from __future__ import annotations

import textwrap
import time
from typing import Sequence

from ..stepstats import HIGHLY_INPUT_BOUND, MODERATELY_INPUT_BOUND, PART_LABELS, PARTS, StepStats
from .advice import RunAdvice
from .events import Stage
from .history import Comparison
from .summary import RunSummary

WIDTH = 100
INTERRUPTED = 130
"""The exit code of a script stopped by KeyboardInterrupt (Ctrl+C; pipeviz stops a script
with SIGINT first), as a shell reports it."""
NEVER_TRAINED = ("The script ran no training steps: pipeviz watches keras Model.fit and "
                 "pipeviz.watch(...) loops, and this run ended without a step of either, so "
                 "there is nothing to measure.")
THRESHOLDS = (f"TensorBoard's thresholds: under {MODERATELY_INPUT_BOUND:.0%} not input-bound, "
              f"{MODERATELY_INPUT_BOUND:.0%}-{HIGHLY_INPUT_BOUND:.0%} moderately, "
              f"{HIGHLY_INPUT_BOUND:.0%} or more highly")
PARALLEL_KINDS = ("map", "interleave", "batch", "source")
"""Kinds that run calls in parallel when asked: for them no parallelism reads "serial";
for the others (prefetch, cache, shuffle...) parallelism means nothing and reads "-"."""


def text_report(summary: RunSummary, comparison: Comparison | None = None,
                advice: Sequence[RunAdvice] = ()) -> str:
    """The report printed when the script ends: how it ended, the verdict, where the time
    went, its pipeline stage by stage, the advice, and the change since the last run."""
    lines = [f"pipeviz run: {summary.script or 'the script'}"]
    lines += _ending(summary)
    if summary.steps:
        lines += _verdict(summary) + [""] + _time_split(summary.stats)
    lines += [""] + _stage_table(summary.stages, summary.stage_note)
    if advice:
        lines += [""] + _advice(advice, summary.stats.images_per_s)
    if comparison is not None:
        lines += [""] + comparison_lines(comparison)
    return "\n".join(lines) + "\n"


def json_report(summary: RunSummary, comparison: Comparison | None = None,
                advice: Sequence[RunAdvice] = ()) -> dict:
    """The `--json` object: the summary's figures, how the run ended, the advice, and the
    comparison with the last run ("previous", null when there is none)."""
    out = summary.to_json()
    out["ending"] = " ".join(_ending(summary))
    out["traceback"] = summary.finished.traceback if summary.finished else ""
    out["advice"] = [a.to_json() for a in advice]
    out["previous"] = comparison.to_json() if comparison is not None else None
    return out


def _ending(summary: RunSummary) -> list[str]:
    """How the run ended, when it did not simply train and exit 0."""
    out = []
    finished = summary.finished
    if finished is not None and finished.traceback:
        last = finished.traceback.strip().splitlines()[-1]
        out.append(f"The script raised an exception (exit code {finished.exit_code}): {last} "
                   "(its traceback is printed above, as Python printed it).")
    elif finished is not None and finished.exit_code == INTERRUPTED:
        out.append(f"The script was stopped (Ctrl+C, or its window closed) after "
                   f"{summary.steps:,} steps; the figures cover what ran (exit code "
                   f"{INTERRUPTED}).")
    elif finished is not None and finished.exit_code < 0:
        out.append(f"The script was ended by signal {-finished.exit_code}.")
    elif finished is not None and finished.exit_code != 0:
        out.append(f"The script exited with code {finished.exit_code}.")
    if not summary.steps:
        out.append(NEVER_TRAINED)
    if summary.stalled is not None:
        out.append(f"The input stalled: no batch for {summary.stalled.seconds:.0f} s "
                   f"({summary.stalled.detail.rstrip('.')}).")
    return out


def _verdict(summary: RunSummary) -> list[str]:
    stats = summary.stats
    return [f"Verdict: {summary.verdict}: input wait was {stats.step_wait_fraction:.1%} of "
            f"the time in steps ({THRESHOLDS}; {between_words(stats)}).",
            f"Steps: {stats.steps:,} ({stats.images:,} examples) in {stats.wall_s:.1f} s: "
            f"{stats.images_per_s:,.1f} examples/s."]


def between_words(stats: StepStats) -> str:
    """Why the verdict's share differs from the wait's share of the wall clock: TensorBoard
    judges the time in steps; the time between them (epoch starts, tracing, validation) is
    left out of it."""
    return (f"the time between steps, {stats.between_fraction:.1%} of the wall clock, is left "
            "out of this share, as TensorBoard leaves it out")


def _time_split(stats: StepStats) -> list[str]:
    """Where a step's time went: the parts of StepStats, per step and as shares of the
    wall time (between steps included), adding up to the step."""
    rows = [[PART_LABELS[p], f"{stats.ms_per_step(p):.2f} ms", f"{stats.fraction(p):.1%}"]
            for p in PARTS]
    return [f"Time per step: {stats.breakdown()} ms"] + _table(
        ["part", "per step", "share of the wall clock"], rows)


def _parallelism(stage: Stage) -> str:
    if stage.parallelism is None:
        return "serial" if stage.kind.startswith(PARALLEL_KINDS) else "-"
    return f"{stage.parallelism} (autotuned)" if stage.autotuned else str(stage.parallelism)


def _buffered(stage: Stage) -> str:
    held = "?" if stage.buffered is None else str(stage.buffered)
    if stage.buffer_size is None:
        return "-" if stage.buffered is None else held
    auto = " (autotuned)" if stage.autotuned and stage.parallelism is None else ""
    return f"{held}/{stage.buffer_size}{auto}"


def _ms(value: float | None) -> str:
    return "?" if value is None else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _notes(stage: Stage) -> str:
    notes = ["slowest"] if stage.slowest else []
    if stage.fused_with:
        notes.append(f"fused with {stage.fused_with}")
    if stage.workers is not None:
        notes.append(f"{stage.workers} worker{'s' if stage.workers != 1 else ''}")
    return ", ".join(notes)


def _stage_table(stages: Sequence[Stage], note: str) -> list[str]:
    """The pipeline from its source (stage 1) to the last stage the script wrote."""
    if not stages:
        return ["Pipeline: no stages were read" + (f" ({note})." if note else ".")]
    rows = [[str(s.position), s.kind, s.name or "(unnamed)", _parallelism(s), _buffered(s),
             _ms(s.time_ms), _ms(s.ms_per_batch), _notes(s)]
            for s in sorted(stages, key=lambda s: s.position)]
    head = ["#", "kind", "name", "parallelism", "buffered", "ms/element", "ms/batch", ""]
    out = ["Pipeline, from the source (tf.data's model of the running iterator):"]
    out += _table(head, rows)
    return out + ([f"Note: {note}"] if note else [])


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
            for row in [head] + rows]


def _advice(advice: Sequence[RunAdvice], examples_per_s: float) -> list[str]:
    out = ["Advice:"]
    for i, a in enumerate(advice, 1):
        out += textwrap.wrap(a.text, WIDTH, initial_indent=f"  {i}. ",
                             subsequent_indent="     ")
        out += textwrap.wrap(a.why, WIDTH, initial_indent="     ", subsequent_indent="     ")
        if a.predicted_gain is not None:
            out.append(f"     Predicted: {a.predicted_gain:+.0%} examples/s "
                       f"({examples_per_s:,.1f} -> {a.predicted_examples_per_s:,.1f}).")
    return out


def comparison_lines(c: Comparison) -> list[str]:
    """This run against the last run of the same script, and each advised change it followed
    with its predicted and measured gain (the report's lines; the window shows them too)."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.when))
    if c.ratio is None:
        return [f"Since the last run ({when}): it trained no steps; nothing to compare."]
    out = [f"Since the last run ({when}): {c.examples_per_s_before:,.1f} -> "
           f"{c.examples_per_s_after:,.1f} examples/s ({c.ratio:.2f}x); input wait "
           f"{c.input_wait_before:.1%} -> {c.input_wait_after:.1%} of the step "
           f"({c.verdict_before} -> {c.verdict_after})."]
    for f in c.followed:
        predicted = "no prediction" if f.predicted_gain is None else f"predicted {f.predicted_gain:+.0%}"
        measured = "" if f.measured_gain is None else f", measured {f.measured_gain:+.0%}"
        verdict = "" if f.met is None else (": met" if f.met else ": not met")
        out += textwrap.wrap(f"Followed: {f.text}: {predicted}{measured}{verdict}.", WIDTH,
                             initial_indent="  ", subsequent_indent="    ")
    if len(c.followed) > 1:
        out.append("  (the measured gain is that of all these changes together)")
    if not c.followed:
        out.append("  No change the last run advised shows in this run's pipeline.")
    return out
