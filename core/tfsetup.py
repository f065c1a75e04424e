"""TensorFlow process set-up: a fixed thread budget and quiet logs, applied once, before
TensorFlow creates its runtime."""
from __future__ import annotations

import logging
import os

TF_INTRA_OP_THREADS = 2
"""Threads one op (a convolution, a matmul) may use: the two cores of a small machine."""
TF_INTER_OP_THREADS = 2
"""Ops run at once. With 2 + 2 threads the GUI thread still gets a core's share on a
2-core machine; tf.data has its own pool (pipeline.DATA_THREADS), mostly sleeping in I/O."""

log = logging.getLogger(__name__)
_configured = False


def configure_tensorflow(intra_op: int = TF_INTRA_OP_THREADS, inter_op: int = TF_INTER_OP_THREADS):
    """Import TensorFlow with its C++ log noise down and the thread pools fixed. Idempotent;
    returns the tensorflow module."""
    global _configured
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if not _configured:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op)
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
        except RuntimeError as exc:  # the runtime already started (e.g. in a test session)
            log.debug("TensorFlow threads already fixed: %s", exc)
        import keras
        keras.utils.disable_interactive_logging()  # no progress bars on a stdout a GUI may lack
        _configured = True
    return tf
