"""Worker threads yield the CPU to the GUI thread.

On a 2-core machine the train step's threads (TensorFlow's op pools, tf.data's) keep both
cores busy, and the scheduler shared them evenly with the GUI thread: a pen-up that needs
~6 ms of the GUI thread's CPU took 16-28 ms while training ran (docs/benchmarks.md, "Draw
to prediction"). Each worker thread lowers its own priority as it starts; the threads it
starts (and TensorFlow's pools, made by the first thread that runs an op: the data
preparation's) inherit it, so the GUI thread, left at its priority, runs first whenever
it has work, and training gets every cycle the GUI does not use. Linux only, where nice
is per thread; elsewhere a no-op (a process-wide nice would slow the GUI thread too).

Only in a process with a GUI: `Session` (the window's core) switches it on. `pipeviz bench`
has no GUI thread to favour, and its trainer keeps the priority of TensorFlow's pools.
"""
from __future__ import annotations

import logging
import os
import sys
import threading

BACKGROUND_NICE = 10
"""The worker threads' nice value (the GUI thread keeps its own, usually 0). With 10 the
GUI thread gets ~10x a worker's share of a contended core."""

log = logging.getLogger(__name__)
_yield_to_gui = False


def workers_yield_to_gui(on: bool = True) -> None:
    """From now on, worker threads that call `lower_this_thread` lower their priority."""
    global _yield_to_gui
    _yield_to_gui = on


def lower_this_thread(nice: int = BACKGROUND_NICE) -> bool:
    """Lower the calling thread's CPU priority to at least `nice` (never raises it, which
    would need privileges) if workers yield to a GUI in this process. True if the thread
    now runs at that priority or lower."""
    if not _yield_to_gui or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        return True
    except OSError as exc:  # a sandbox that forbids it: run at the normal priority
        log.debug("cannot lower the priority of thread %s: %s", tid, exc)
        return False
