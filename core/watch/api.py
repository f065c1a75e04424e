"""`pipeviz.watch(model, dataset)`: watch training from inside a script or a notebook.

Under `pipeviz run` the child is already connected to the window and `fit` is already
watched; `watch` then only wraps the dataset for a custom loop. Anywhere else (a notebook,
`python train.py`) the first call opens a pipeviz window in its own process (`pipeviz
view`), which listens on a local socket, and connects to it; closing that window does not
stop the training, it only stops being watched.
"""
from __future__ import annotations

import os
import subprocess
import sys

from .wire import ENV_ADDRESS, ENV_TOKEN, Sender

VIEW_READY_TIMEOUT_S = 60.0


def watch(model=None, dataset=None):
    """Watch `model.fit` (every fit in this process, from now on) and return `dataset`
    wrapped for a custom loop (`for batch in watched: ...`; `model.fit(watched)` works too).
    `model` is accepted for symmetry with the fit case and may be None."""
    from . import hook
    from .loop import WatchedDataset

    watcher = hook.current() or hook.install(_connect())
    return None if dataset is None else WatchedDataset(dataset, watcher)


def _connect() -> Sender:
    """A Sender to the window: the one `pipeviz run` named, or a `pipeviz view` started now."""
    address, token = os.environ.get(ENV_ADDRESS), os.environ.get(ENV_TOKEN)
    if not (address and token):
        address, token = _open_view()
    return Sender(address, token)


def _open_view() -> tuple[str, str]:
    """Start `pipeviz view`; it prints "address token" once it listens."""
    view = subprocess.Popen([sys.executable, "-m", "pipeviz", "view"], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    line = view.stdout.readline().split()
    if len(line) != 2:
        raise RuntimeError("pipeviz view did not start (run `pipeviz view` in a terminal "
                           "to see why)")
    return line[0], line[1]
