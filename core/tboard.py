"""TensorBoard output: each run's scalars written with `tf.summary`, and profiler captures,
in one run folder that `tensorboard --logdir <runs folder>` opens.

Writing a scalar eagerly costs a few hundred microseconds, so the worker averages steps and
writes every `every` steps (a fraction of a percent of step time) instead of every step.

Output is optional, training is not: when the run folder cannot be written (unwritable, full
disk, removed), `ScalarLog` warns once, turns itself off and training goes on.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from .events import EpochSummary
from .runsdir import default_runs_root
from .safeio import short_reason
from .stepstats import StepAccount

log = logging.getLogger(__name__)

STEP_TAGS = ("loss", "accuracy", "idle_fraction", "images_per_s", "input_wait_fraction",
             "host_fraction", "between_fraction")
EPOCH_TAGS = ("epoch/train_loss", "epoch/train_accuracy", "epoch/val_loss", "epoch/val_accuracy",
              "epoch/idle_fraction", "epoch/images_per_s")


def new_run_dir(root: str | Path | None = None, label: str = "train") -> Path:
    """A fresh, dated folder for one run, e.g. ~/pipeviz-runs/20261124-101500-train."""
    root = Path(root) if root is not None else default_runs_root()
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{label}"
    path, n = root / stem, 1
    while path.exists():
        n += 1
        path = root / f"{stem}-{n}"
    path.mkdir(parents=True)
    return path


class ScalarLog:
    """Averages the trained steps and writes them as TensorBoard scalars."""

    def __init__(self, logdir: str | Path, every: int = 25):
        self.logdir = Path(logdir)
        self.every = every
        self._quality = np.zeros(2)  # loss*n, hits*n
        self._account = StepAccount()  # the steps since the last point (core/stepstats.py)
        self._writer = None
        self.failed: str | None = None
        """Why the scalars were turned off (None while they are written)."""
        self._guard("create the event file", lambda: setattr(
            self, "_writer", tf.summary.create_file_writer(str(self.logdir))))
        if self.failed is not None:  # no 0-byte event file left behind
            for path in self.logdir.glob("events.out.tfevents.*"):
                _unlink_if_empty(path)

    def _guard(self, what: str, write) -> None:
        """Run `write`; on any failure warn once and write nothing more."""
        if self.failed is not None:
            return
        try:
            write()
        except Exception as exc:  # disk full, folder gone, permissions: never stop training
            self.failed = f"cannot {what} in {self.logdir} ({short_reason(exc)})"
            log.warning("TensorBoard scalars turned off for this run: %s", self.failed)
            self._writer = None

    @property
    def _steps(self) -> int:
        return self._account.steps

    def add_steps(self, last_step: int, sizes: np.ndarray, loss: np.ndarray,
                  accuracy: np.ndarray, timing: dict[str, np.ndarray]) -> None:
        self._quality += ((loss * sizes).sum(), (accuracy * sizes).sum())
        self._account.add_steps(sizes, timing)
        if self._steps >= self.every:
            self._write(last_step)

    def _write(self, step: int) -> None:
        stats = self._account.stats()
        images = max(stats.images, 1)
        values = {"loss": self._quality[0] / images, "accuracy": self._quality[1] / images,
                  "idle_fraction": stats.idle_fraction, "images_per_s": stats.images_per_s,
                  "input_wait_fraction": stats.input_wait_fraction,
                  "host_fraction": stats.host_fraction, "between_fraction": stats.between_fraction}
        def write() -> None:
            with self._writer.as_default():
                for tag in STEP_TAGS:
                    tf.summary.scalar(tag, float(values[tag]), step=step)
        self._guard("write scalars", write)
        self._quality[:] = 0
        self._account.clear()

    def add_epoch(self, summary: EpochSummary) -> None:
        values = (summary.train_loss, summary.train_accuracy, summary.val_loss,
                  summary.val_accuracy, summary.idle_fraction, summary.images_per_s)
        def write() -> None:
            with self._writer.as_default():
                for tag, value in zip(EPOCH_TAGS, values):
                    tf.summary.scalar(tag, float(value), step=summary.epoch + 1)
            self._writer.flush()
        self._guard("write scalars", write)

    def close(self, last_step: int) -> None:
        if self._steps:
            self._write(last_step)
        self._guard("close the event file", lambda: self._writer and self._writer.close())


def _unlink_if_empty(path: Path) -> bool:
    try:
        if path.stat().st_size == 0:
            path.unlink()
            return True
    except OSError:
        pass
    return False


def discard_failed_profile(logdir: str | Path, since: float, failed: bool = False) -> bool:
    """Remove the empty capture files a profile left (written since `since`, time.time()),
    or, when the profiler `failed`, every capture file it wrote (they are partial). True if
    any was removed, i.e. the capture did not reach the disk whole."""
    found = False
    for path in profile_files(logdir):
        try:
            if path.stat().st_mtime < since - 1:
                continue
            if failed:
                path.unlink()
                found = True
                continue
        except OSError:
            continue
        found = _unlink_if_empty(path) or found
    return found


def read_scalars(logdir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files under `logdir`: tag -> [(step, value)], as
    TensorBoard would read them (used by tests and for checking a run folder)."""
    found: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(Path(logdir).rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                found.setdefault(value.tag, []).append((event.step, number))
    return found


def scalar_wall_times(logdir: str | Path, tag: str) -> list[tuple[int, float]]:
    """(step, wall time) of every `tag` scalar under `logdir`: the time TensorFlow's event
    writer stamped on each event, a clock pipeviz does not compute (benchmarks compare
    throughput against it)."""
    found = []
    for path in sorted(Path(logdir).rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            if any(value.tag == tag for value in event.summary.value):
                found.append((event.step, event.wall_time))
    return sorted(found)


def profile_files(logdir: str | Path) -> list[Path]:
    """Profiler captures (`*.xplane.pb`) under `logdir`, as TensorBoard's profile tab finds them."""
    return sorted((Path(logdir) / "plugins" / "profile").rglob("*.xplane.pb"))
