"""`pipeviz run train.py` and `pipeviz.watch(...)`: watch a user's own TensorFlow training.

The user's script runs unchanged in a child process (`child.py`), instrumented: its
`keras.Model.fit` is patched (`hook.py`) to stamp each step inside the graph (`stamps.py`)
and to read the running tf.data iterator's model (`stages.py`). The child sends plain events
(`events.py`) over a local socket (`wire.py`); the parent (`runner.py`) turns them back into
the same events the in-process MNIST trainer emits, so the window, `--report` and `--json`
are views over one event stream. Plain Python; TensorFlow only in the child; never Qt.
"""
