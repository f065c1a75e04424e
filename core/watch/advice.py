"""Advice for a user's own training run, in the words of their script: which line of their
tf.data pipeline to change, the figures that say so, and the gain those figures predict.

It reads one `RunSummary` (the figures `--report`, `--json` and the window show) and the
stages tf.data's own model of the iterator describes. A prediction follows from the
measurements, as the MNIST advisor's do (core/advisor.py): a step lasts input wait + host +
between + compute; a pipeline that works ahead of the step (a prefetch buffer, a parallel
stage) makes it max(producing a batch, compute + host) + between, and no pipeline change can
take it below compute + host + between. Gains are "up to": tf.data shares the machine's
cores with the step, which the arithmetic does not see. Plain Python, no TensorFlow.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..limits import cores
from ..stepstats import HIGHLY_INPUT_BOUND, MODERATELY_INPUT_BOUND, StepStats
from .events import Stage
from .stages import describe, fused_positions
from .summary import RunSummary

PREFETCH, PARALLEL, CACHE, SERVICE, INPUT, COMPUTE, HOST, STALL = (
    "prefetch", "parallel", "cache", "data service", "input", "compute", "host", "stall")
"""The kinds of advice (what `RunAdvice.kind` says; history.py matches on them)."""

PARALLEL_KNOB = {"map": "num_parallel_calls", "interleave": "num_parallel_calls"}
"""Stage kinds a script can parallelize, and the argument that does it."""
RANDOM_KINDS = ("shuffle",)
"""Kinds whose output differs every epoch: a cache after one would replay the first epoch's
order. A map's function may be random too (augmentation); kinds cannot tell, so the cache
advice states that condition in words."""
COSTLY_SHARE = 0.25
"""A map that needs at least this share of the step's time per batch is worth caching."""
HOST_SHARE = HIGHLY_INPUT_BOUND
"""Host time (Python between compiled steps) from which it is called the bound, as the MNIST
advisor does."""


@dataclass(frozen=True)
class RunAdvice:
    """One change to the user's script and the evidence for it."""

    kind: str
    text: str
    """The change, as the user would make it in their script."""
    why: str
    """The measured figures behind it."""
    predicted_gain: float | None = None
    """Predicted rise of examples/s as a fraction (0.5: 50% more); None: no prediction."""
    stage: int | None = None
    """The stage it is about (position from the source = 1), None for the whole run."""
    predicted_examples_per_s: float | None = None

    def to_json(self) -> dict:
        out = asdict(self)
        for key in ("predicted_gain", "predicted_examples_per_s"):
            out[key] = None if out[key] is None else round(out[key], 4)
        return out


@dataclass(frozen=True)
class StepTimes:
    """Mean ms per step of each part of the whole run (read from its `StepStats`), and the
    arithmetic of a faster pipeline (one place for the formula every prediction uses)."""

    stats: StepStats

    @property
    def wait(self) -> float:
        return self.stats.ms_per_step("input_wait_s")

    @property
    def host(self) -> float:
        return self.stats.ms_per_step("host_s")

    @property
    def between(self) -> float:
        return self.stats.ms_per_step("between_s")

    @property
    def compute(self) -> float:
        return self.stats.ms_per_step("compute_s")

    @property
    def examples_per_s(self) -> float:
        return self.stats.images_per_s

    @property
    def busy(self) -> float:
        """What the step needs besides its input: compute + host."""
        return self.compute + self.host

    @property
    def total(self) -> float:
        return self.stats.ms_per_step()

    def with_input_saved(self, saved_ms: float, floor_ms: float = 0.0) -> float:
        """The step (ms) if producing a batch took `saved_ms` less: never below compute +
        host, nor below `floor_ms` (another stage that is not made faster); between steps
        unchanged."""
        in_steps = max(self.busy, self.wait + self.busy - saved_ms, floor_ms)
        return in_steps + self.between

    def gain(self, predicted_ms: float) -> float:
        """Rise in examples/s if the step took `predicted_ms`."""
        return self.total / predicted_ms - 1 if predicted_ms > 0 else 0.0

    def advice(self, kind: str, text: str, why: str, predicted_ms: float | None,
               stage: int | None = None) -> RunAdvice:
        if predicted_ms is None:
            return RunAdvice(kind, text, why, None, stage)
        gain = self.gain(predicted_ms)
        return RunAdvice(kind, text, why, gain, stage, self.examples_per_s * (1 + gain))

    def split(self) -> str:
        """The step's parts as every view prints them (StepStats.breakdown)."""
        return f"{self.stats.breakdown()} ms"


def advise(summary: RunSummary) -> list[RunAdvice]:
    """What to change first, the largest predicted gain first; a stall before anything. Empty when
    the script trained no steps (nothing was measured)."""
    out = [_stall(summary)] if summary.stalled is not None else []
    if not summary.steps:
        return out
    stats = summary.stats
    times = StepTimes(stats)
    stages = sorted(summary.stages, key=lambda s: s.position)
    if stats.step_wait_fraction < MODERATELY_INPUT_BOUND:
        return out + _not_input_bound(stats, times)
    found = [a for a in (_prefetch(stages, stats, times), _parallel(stages, stats, times),
                         _cache(stages, stats, times), _service(stages, stats, times)) if a]
    found = found or [_input(stages, stats, times, summary.stage_note)]
    found.sort(key=lambda a: -1.0 if a.predicted_gain is None else a.predicted_gain, reverse=True)
    return out + found


def _waits(stats: StepStats) -> str:
    return (f"The step waits for input {stats.step_wait_fraction:.0%} of its time "
            f"({stats.verdict} on TensorBoard's scale)")


def _prefetch(stages: list[Stage], stats: StepStats, times: StepTimes) -> RunAdvice | None:
    """No buffer at the end: the pipeline only works while the step waits for it, so a batch
    costs the wait; with one it works during compute too: step = max(wait, compute + host)."""
    if not stages or stages[-1].kind in ("prefetch", "data service"):
        return None
    predicted = max(times.wait, times.busy) + times.between
    return times.advice(
        PREFETCH, "Add `.prefetch(tf.data.AUTOTUNE)` after `.batch()`, as the pipeline's last "
        "step", f"{_waits(stats)} and the pipeline ends at {describe(stages[-1])} with no "
        f"prefetch buffer: it makes the next batch only while the step waits. {times.split()}; "
        f"with a buffer the step becomes max(wait {times.wait:.1f}, compute + host "
        f"{times.busy:.1f}) + between {times.between:.1f} = {predicted:.1f} ms.", predicted)


def _slowest(stages: list[Stage]) -> Stage | None:
    return next((s for s in stages if s.slowest), None)


def _floor_without(stages: list[Stage], changed: set[int]) -> float:
    """The slowest ms per batch among the stages a change leaves as they are (positions
    not in `changed`, nor run in one node with a changed stage: a batch fused with its map
    carries the map's time, and goes as fast as the map): the pipeline cannot deliver
    faster than that."""
    touched = set(changed)
    for stage in stages:
        if stage.position in changed:
            touched |= fused_positions(stage)
    return max((s.ms_per_batch for s in stages
                if s.position not in touched and s.ms_per_batch is not None), default=0.0)


def _parallel(stages: list[Stage], stats: StepStats, times: StepTimes) -> RunAdvice | None:
    """The slowest stage runs one element at a time: in parallel on the machine's cores it
    could take up to that many times less."""
    stage = _slowest(stages)
    # serial: no parallelism, or one call at a time (a map tf.data fused with its batch
    # keeps the map's num_parallel_calls, 1 when the script asked for none)
    if stage is None or (stage.parallelism or 1) > 1 or stage.autotuned:
        return None
    text = _parallel_text(stage)
    if text is None:
        return None
    n = cores()
    ms = stage.ms_per_batch
    why = f"{_waits(stats)}; the slowest stage, {describe(stage)}, runs one call at a time"
    if ms is None:
        return times.advice(PARALLEL, text, f"{why}. {times.split()}; at best the wait goes: "
                            f"{times.busy + times.between:.1f} ms per step.",
                            times.busy + times.between, stage.position)
    predicted = times.with_input_saved(ms - ms / n, _floor_without(stages, {stage.position}))
    return times.advice(PARALLEL, text, f"{why} and needs {ms:.1f} ms per batch. {times.split()}; "
                        f"on {n} cores it could need {ms / n:.1f} ms, the step {predicted:.1f} ms "
                        "(never below compute + host, nor below the next slowest stage).",
                        predicted, stage.position)


def _parallel_text(stage: Stage) -> str | None:
    if stage.kind in PARALLEL_KNOB:
        return (f"Set `{PARALLEL_KNOB[stage.kind]}=tf.data.AUTOTUNE` on "
                f"{describe(stage)}")
    if stage.kind.startswith("source") and "tfrecord" in f"{stage.kind} {stage.op}".lower():
        return (f"Pass `num_parallel_reads=tf.data.AUTOTUNE` to the TFRecordDataset at "
                f"{describe(stage)} (with several files)")
    return None


def _cache(stages: list[Stage], stats: StepStats, times: StepTimes) -> RunAdvice | None:
    """A costly map with nothing random before it can be done once: `.cache()` after it
    replays its output from the second epoch on. Its own function may be random, which the
    stage's kind cannot tell: the advice says so."""
    if any(s.kind == "cache" for s in stages):
        return None
    costly = None
    for stage in stages:
        if stage.kind in RANDOM_KINDS:
            break
        if stage.kind == "map" and stage.ms_per_batch is not None and (
                costly is None or stage.ms_per_batch > costly.ms_per_batch):
            costly = stage
    in_steps = times.total - times.between
    if costly is None or costly.ms_per_batch < COSTLY_SHARE * in_steps:
        return None
    done_once = {s.position for s in stages if s.position <= costly.position}
    saved = sum(s.ms_per_batch or 0.0 for s in stages if s.position in done_once)
    predicted = times.with_input_saved(saved, _floor_without(stages, done_once))
    return times.advice(
        CACHE, f"Add `.cache()` right after {describe(costly)}, if its function and every "
        "stage before it give the same result every epoch (a decode or parse, no random "
        "augmentation) and the data fits in memory (else `.cache(filename)`)",
        f"{_waits(stats)}; {describe(costly)} needs {costly.ms_per_batch:.1f} ms per batch, "
        f"{costly.ms_per_batch / in_steps:.0%} of the step, and nothing random comes before it. "
        f"{times.split()}; from the second epoch on the stages up to it ({saved:.1f} ms per "
        f"batch) would be read from the cache: step {predicted:.1f} ms.", predicted,
        costly.position)


def _service(stages: list[Stage], stats: StepStats, times: StepTimes) -> RunAdvice | None:
    """Input-bound on tf.data service: the pipeline runs on the workers, so twice the
    workers produce up to twice the batches."""
    stage = next((s for s in stages if s.kind == "data service"), None)
    if stage is None:
        return None
    workers = stage.workers
    served = f"{workers} worker{'s' if workers != 1 else ''}" if workers else "its workers"
    more = f"{2 * workers} instead of {workers}" if workers else "twice as many"
    produce = times.wait + times.busy
    predicted = times.with_input_saved(produce / 2)
    return times.advice(
        SERVICE, f"Start more tf.data service workers ({more})",
        f"{_waits(stats)} while {describe(stage)} is served by {served}. {times.split()}; "
        f"the workers deliver a batch every {produce:.1f} ms; twice the workers, up to every "
        f"{produce / 2:.1f} ms: step {predicted:.1f} ms.", predicted, stage.position)


def _input(stages: list[Stage], stats: StepStats, times: StepTimes, note: str) -> RunAdvice:
    """Input-bound with no specific change found: name the slowest stage and the ceiling."""
    best = times.busy + times.between
    stage = _slowest(stages)
    if stage is not None:
        ms = "" if stage.ms_per_batch is None else f" ({stage.ms_per_batch:.1f} ms per batch)"
        text = f"Make {describe(stage)}{ms} cheaper: it is the slowest stage"
        where = f"{describe(stage)} is the slowest stage"
    else:
        text = "Make the input pipeline faster"
        where = (f"pipeviz could not read the stages ({note})" if note
                 else "pipeviz could not read the stages")
    return times.advice(INPUT, text, f"{_waits(stats)}; {where}. {times.split()}; without the "
                        f"wait the step would be {best:.1f} ms, at most.", best,
                        None if stage is None else stage.position)


def _not_input_bound(stats: StepStats, times: StepTimes) -> list[RunAdvice]:
    """The input keeps up: say so, and what bounds the step instead."""
    if stats.host_fraction >= HOST_SHARE:
        return [times.advice(
            HOST, "Run more steps per call: `model.compile(..., steps_per_execution=N)`",
            f"{_waits(stats)}: the input is fine. Host time (Python between compiled steps) "
            f"is {stats.host_fraction:.0%} of the run. {times.split()}; with it gone the step "
            f"would be {times.compute + times.wait + times.between:.1f} ms, at most.",
            times.compute + times.wait + times.between)]
    return [times.advice(
        COMPUTE, "The input pipeline keeps up; the model's compute is the bottleneck",
        f"{_waits(stats)}: no tf.data change will make it faster. {times.split()}; compute is "
        f"{stats.compute_fraction:.0%} of the run. Hints on the model side: a larger batch, or "
        "mixed precision (`keras.mixed_precision.set_global_policy('mixed_float16')`) on a GPU.",
        None)]


def _stall(summary: RunSummary) -> RunAdvice:
    stalled = summary.stalled
    return RunAdvice(STALL, f"The input has stalled: no batch for {stalled.seconds:.0f} s",
                     f"{stalled.detail.rstrip('.')}. The script is not computing; it waits for its input.")
