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
import warnings

from .wire import ENV_ADDRESS, ENV_TOKEN, Sender

VIEW_READY_TIMEOUT_S = 60.0


def watch(model=None, dataset=None):
    """Watch `model.fit` (every fit in this process, from now on) and return `dataset`
    wrapped for a custom loop (`for batch in watched: ...`; `model.fit(watched)` works too).
    `model` is accepted for symmetry with the fit case and may be None."""
    from . import hook
    from .loop import WatchedDataset

    global _no_window
    watcher = hook.current()
    if watcher is None:
        if _no_window:
            return dataset
        try:
            sender = _connect()
        except (OSError, RuntimeError) as exc:  # no display, a window that did not start
            _no_window = True
            warnings.warn(f"pipeviz.watch: no window to report to ({exc}); the training goes "
                          "on unwatched", RuntimeWarning, stacklevel=3)
            return dataset
        watcher = hook.install(sender)
    return None if dataset is None else WatchedDataset(dataset, watcher)


_no_window = False
"""A window could not be opened: later calls do not try again (each try starts a process)."""


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
