"""TensorFlow process set-up: a fixed thread budget and quiet logs, applied once, before
TensorFlow creates its runtime.

Quiet logs take two parts. TF_CPP_MIN_LOG_LEVEL silences TensorFlow's own C++ logging, but
not the lines its native libraries write through Abseil before Abseil's logging is
initialised ("WARNING: All log messages before absl::InitializeLog() ...", "Could not find
cuda drivers on your machine", "failed call to cuInit"): those go to file descriptor 2
whatever the level, once when TensorFlow is imported and once when it first looks for
devices. So the process entry (`pipeviz`, `python -m pipeviz`) calls `quiet_native_logs()`,
and `configure_tensorflow` then imports TensorFlow and probes its devices with file
descriptor 2 passed through `NativeLogFilter`, which drops those lines and forwards every
other one. With `--verbose` nothing is filtered. Library users get only the environment
default: redirecting a process's stderr is the entry point's decision, not a library's.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import threading

TF_INTRA_OP_THREADS = 2
"""Threads one op (a convolution, a matmul) may use: the two cores of a small machine."""
TF_INTER_OP_THREADS = 2
"""Ops run at once. With 2 + 2 threads the GUI thread still gets a core's share on a
2-core machine; tf.data has its own pool (pipeline.DATA_THREADS), mostly sleeping in I/O."""

QUIET_TF_LOG_LEVEL = "2"
"""TF_CPP_MIN_LOG_LEVEL by default: warnings and errors only (no oneDNN or CPU notices)."""
VERBOSE_TF_LOG_LEVEL = "0"

NATIVE_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]"  # an Abseil line; F (fatal) passes
    r"|To enable the following instructions: .* rebuild TensorFlow"  # cpu_feature_guard's 2nd line
    r")")
"""Lines TensorFlow's native libraries write while it is imported and finds its devices."""

log = logging.getLogger(__name__)
_configured = False
_filter_native = False
_active: "NativeLogFilter | None" = None  # while TensorFlow starts up under the filter


def quiet_native_logs(verbose: bool = False) -> None:
    """Called by the process entry before TensorFlow can be imported: set TensorFlow's log
    level (a value the user set is kept) and, unless `verbose`, have `configure_tensorflow`
    filter the native start-up lines."""
    global _filter_native
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", VERBOSE_TF_LOG_LEVEL if verbose else QUIET_TF_LOG_LEVEL)
    _filter_native = not verbose


class NativeLogFilter:
    """While active, file descriptor 2 is a pipe; a thread forwards each line that is not
    `NATIVE_NOISE` to the real stderr. Native code writes to the descriptor, not to
    sys.stderr, so this is the only place those lines can be stopped. `stop()` (idempotent,
    from any thread) puts the real stderr back and forwards what is still in the pipe."""

    def __init__(self, fd: int = 2):
        self.fd = fd
        self.dropped = 0
        self._lock = threading.Lock()
        self._saved: int | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> "NativeLogFilter":
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        self._saved = os.dup(self.fd)
        os.dup2(write_end, self.fd)
        os.close(write_end)
        self._reader = threading.Thread(target=self._forward, args=(read_end, self._saved),
                                        name="pipeviz-stderr-filter", daemon=True)
        self._reader.start()
        return self

    def stop(self) -> None:
        with self._lock:
            saved, self._saved = self._saved, None
        if saved is None:
            return
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, self.fd)  # closes the pipe's last write end: the reader sees its end
        if self._reader is not threading.current_thread():
            self._reader.join(timeout=2.0)
        os.close(saved)

    def _forward(self, read_end: int, out: int) -> None:
        out = os.dup(out)  # our own copy: stop() closes the saved one
        try:
            with os.fdopen(read_end, "rb", buffering=0) as pipe:
                pending = b""
                while chunk := pipe.read(65536):
                    *lines, pending = (pending + chunk).split(b"\n")
                    self._write(out, [line + b"\n" for line in lines])
                self._write(out, [pending] if pending else [])
        finally:
            os.close(out)

    def _write(self, out: int, lines: list[bytes]) -> None:
        kept = [line for line in lines
                if not NATIVE_NOISE.match(line.decode("utf-8", "replace"))]
        self.dropped += len(lines) - len(kept)
        if kept:
            os.write(out, b"".join(kept))

    def __enter__(self) -> "NativeLogFilter":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def restore_stderr() -> None:
    """Put the real stderr back now (a Ctrl+C or an exit while TensorFlow still loads, so
    that the last words reach the terminal)."""
    native_filter = _active
    if native_filter is not None:
        native_filter.stop()


def configure_tensorflow(intra_op: int = TF_INTRA_OP_THREADS, inter_op: int = TF_INTER_OP_THREADS):
    """Import TensorFlow with its C++ log noise down and the thread pools fixed. Idempotent;
    returns the tensorflow module."""
    global _configured
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)
    if _configured:
        import tensorflow as tf
        return tf
    active = _filter_native and "tensorflow" not in sys.modules
    global _active
    native_filter = _active = NativeLogFilter().start() if active else None
    try:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op)
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
        except RuntimeError as exc:  # the runtime already started (e.g. in a test session)
            log.debug("TensorFlow threads already fixed: %s", exc)
        import keras
        keras.utils.disable_interactive_logging()  # no progress bars on a stdout a GUI may lack
        tf.config.list_physical_devices()  # the device probe (cuInit) logs here, not later
    finally:
        if native_filter is not None:
            native_filter.stop()
            _active = None
            log.debug("dropped %d lines of TensorFlow start-up logging", native_filter.dropped)
    _configured = True
    return tf
