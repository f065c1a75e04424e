"""Per-batch stage spans as a Chrome trace (Trace Event Format JSON), which Perfetto
(ui.perfetto.dev) and chrome://tracing open: one row per stage, one box per batch and stage.

Written by `pipeviz bench --trace FILE` (one process per config) and File > Export trace.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Sequence

from .events import StepEvent
from .timeline import SPANS, span_of


def trace_events(runs: Sequence[tuple[str, Sequence[StepEvent]]]) -> list[dict]:
    """Complete ("X") events, times in microseconds from the earliest span: each run is a
    process named after it, each stage a thread; one event per stage per batch."""
    starts = [span_of(e, name)[0] for _, steps in runs for e in steps for name in SPANS]
    t0 = min(starts, default=0.0)
    events: list[dict] = []
    for pid, (label, steps) in enumerate(runs, start=1):
        events.append({"name": "process_name", "ph": "M", "pid": pid, "args": {"name": label}})
        for tid, name in enumerate(SPANS, start=1):
            events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                           "args": {"name": name}})
            events.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid,
                           "args": {"sort_index": tid}})
        for e in steps:
            for tid, name in enumerate(SPANS, start=1):
                start, end = span_of(e, name)
                events.append({"name": name, "cat": "batch", "ph": "X", "pid": pid, "tid": tid,
                               "ts": round((start - t0) * 1e6, 3), "dur": round((end - start) * 1e6, 3),
                               "args": {"step": e.step, "epoch": e.epoch + 1,
                                        "batch_size": e.batch_size}})
    return events


def write_trace(path: str | Path, runs: Sequence[tuple[str, Sequence[StepEvent]]]) -> Path:
    """Write the trace to `path` (a temporary file renamed into place: never half a file).
    Raises OSError if it cannot be written."""
    path = Path(path)
    document = {"traceEvents": trace_events(runs), "displayTimeUnit": "ms",
                "otherData": {"producer": "pipeviz", "stages": list(SPANS)}}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(document, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
