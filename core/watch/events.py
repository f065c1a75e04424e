"""The events a watched script sends, besides the trainer's own `StepEvent`.

A watched run reuses `pipeviz.core.events.StepEvent` for its steps (the stamps a user's
pipeline cannot give, such as `t_loaded`, are 0) so that `StepStats`, the idle plot and the
verdict read a user's steps exactly as they read pipeviz's own. What only a user's run has
lives here: the script's life, the stages of its tf.data graph, its metrics, a stall.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of the user's tf.data pipeline, as tf.data's own model of the running
    iterator (`tf.data.experimental.get_model_proto`) describes it.

    `position` counts from the source (1) to the last stage the script wrote; stages that
    tf.data fused (map and batch into MapAndBatch) keep their own positions and say
    `fused_with`. Figures that cannot be read (autotune off, a stage tf.data does not model)
    are None, never a made-up 0.
    """

    position: int
    kind: str
    """What it is, in tf.data's words: "map", "interleave", "batch", "prefetch", "cache",
    "shuffle", "filter", "data service", "source" (range, from_tensor_slices, files)..."""
    op: str
    """tf.data's op for it in the running iterator, e.g. "ParallelMapV2", "MapAndBatch"."""
    name: str = ""
    """The `name=` the script gave the transformation; "" when it gave none."""
    parallelism: int | None = None
    """Calls in flight now (autotune's choice when `autotuned`); None for a serial stage."""
    autotuned: bool = False
    buffer_size: int | None = None
    """Elements it may hold ahead (prefetch, interleave, data service); None if it has none."""
    buffered: int | None = None
    """Elements it holds ready right now."""
    time_ms: float | None = None
    """Its own processing time per element it produced, in ms (inputs' time left out)."""
    ms_per_batch: float | None = None
    """Its own processing time per batch the pipeline delivered, divided by its parallelism:
    the wall time it needs per training step. The largest is the slowest stage."""
    elements: int | None = None
    """Elements it has produced so far (None when not read)."""
    fused_with: str = ""
    workers: int | None = None
    """tf.data service: how many workers serve it (None when not known)."""
    slowest: bool = False


@dataclass(frozen=True, slots=True)
class StagesSampled:
    """The user's pipeline as it runs, read every half second or so."""

    t: float
    stages: tuple[Stage, ...]
    note: str = ""
    """Why figures are missing, in words ("autotune is off for this dataset: ...")."""


@dataclass(frozen=True, slots=True)
class ScriptStarted:
    script: str
    argv: tuple[str, ...]
    pid: int
    t: float


@dataclass(frozen=True, slots=True)
class FitStarted:
    """A `fit` (or a watched loop) began: what it will run and how its steps are split."""

    t: float
    epochs: int | None = None
    steps_per_epoch: int | None = None
    how: str = "in-graph"
    """"in-graph": stamps inside the compiled step (fit); "python": a custom loop's steps
    timed at the watched iterator (input wait = the time inside next())."""


@dataclass(frozen=True, slots=True)
class StepMetrics:
    """The logs Keras reports after a call of the train function (running means over the
    epoch so far, as its progress bar shows them), keyed by metric name."""

    step: int
    epoch: int
    logs: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EpochLogs:
    """An epoch ended: Keras's epoch logs (validation included) and its wall time."""

    epoch: int
    logs: dict[str, float]
    seconds: float


@dataclass(frozen=True, slots=True)
class FitEnded:
    """`fit` returned; `tail_s` is the time from the last step's end to its return (the
    last epoch's end and validation), counted as time between steps."""

    t: float
    tail_s: float = 0.0


@dataclass(frozen=True, slots=True)
class InputStalled:
    """No batch arrived for `seconds`; `detail` says where the input is stuck (for tf.data
    service: which worker stopped answering)."""

    t: float
    seconds: float
    detail: str


@dataclass(frozen=True, slots=True)
class ScriptFinished:
    """The script ended: its exit code and, if it raised, the traceback as Python printed
    it. `steps` is how many training steps it ran (0: it never trained)."""

    exit_code: int
    traceback: str = ""
    steps: int = 0
