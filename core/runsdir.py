"""Where TensorBoard run folders go. Apart from core/tboard.py (which imports TensorFlow) so
that a front end can name the folder, e.g. for "Copy TensorBoard command", before
TensorFlow has loaded."""
from __future__ import annotations

import os
from pathlib import Path


def default_runs_root() -> Path:
    """Where run folders go: $PIPEVIZ_RUNS_DIR, else ~/pipeviz-runs."""
    return Path(os.environ.get("PIPEVIZ_RUNS_DIR") or Path.home() / "pipeviz-runs")


def tensorboard_command(root: str | Path | None = None) -> str:
    """The shell command that opens the run folders under `root` (None: the default)."""
    return f"tensorboard --logdir \"{root or default_runs_root()}\""
