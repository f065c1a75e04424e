"""In-graph step stamps for a user's `model.fit`: when each step asked for its batch, when
the batch arrived, and when the step's update was done.

A Keras callback cannot split a step into input wait and compute: it sees the whole call
(and Keras 3 runs batch-end callbacks once per `steps_per_execution` group, asynchronously
unless told otherwise). So the stamps are ops in the compiled step:

- *requested*: a stage appended to the dataset, `zip(stamp, dataset)`, reads the clock when
  the step's `get_next` reaches it, before the user's pipeline is asked (a zip asks its
  inputs in order); a serial, stateful map after it stores that time in a variable. Stateful,
  so tf.data's optimizations cannot make it parallel and run it ahead of the request.
- *taken*: the first op of the wrapped `train_step` that depends on every tensor of the
  batch, so it cannot run before the batch has arrived (an earlier try without that
  dependency read 0 ms of wait).
- *trained*: after the step's outputs and a read of every trainable weight (written last by
  the optimizer; on an accelerator the read waits for the device).

Each step writes one row into a ring buffer variable; a thread in the child reads the new
rows a few times a second (core/watch/hook.py), so the training thread never copies them.
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

ROW_FIELDS = ("t_requested", "t_taken", "t_trained", "batch_size", "loss", "epoch")
RING_ROWS = 8192
"""Steps the ring holds between two reads (the reader comes every 0.1-0.5 s)."""
STAMP_STAGE_NAME = "pipeviz_request_stamp"
"""The `name=` of the stages pipeviz appends (core/watch/stages.py leaves them out)."""


class StepClock:
    """The variables the stamps write, and the functions that write and read them."""

    def __init__(self) -> None:
        with tf.init_scope():
            self.requested = tf.Variable(0.0, dtype=tf.float64, trainable=False,
                                         name="pipeviz_requested")
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="pipeviz_epoch")
            self.count = tf.Variable(0, dtype=tf.int64, trainable=False, name="pipeviz_count")
            self.rows = tf.Variable(tf.zeros([RING_ROWS, len(ROW_FIELDS)], tf.float64),
                                    trainable=False, name="pipeviz_rows")
        self._read = 0

    def stamp_requests(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        """`dataset`, each element's request time stored in `requested` as it is asked."""
        requested = self.requested

        def store(t, batch):
            with tf.control_dependencies([requested.assign(t)]):
                return _after(batch)

        clock = tf.data.Dataset.from_tensors(tf.constant(0, tf.int8)).repeat().map(
            lambda _: tf.timestamp(), name=STAMP_STAGE_NAME)
        zipped = tf.data.Dataset.zip((clock, dataset), name=STAMP_STAGE_NAME)
        return zipped.map(lambda t, batch: store(t, batch), name=STAMP_STAGE_NAME)

    def wrap_train_step(self, model, train_step, xla: bool = False):
        """`train_step` with the taken and trained stamps and one row written per step.

        `xla`: the model compiles its step with XLA (`jit_compile`, Keras's default on an
        accelerator), which has no clock op: the script's step is then compiled with XLA on
        its own, and the caller turns the model's jit_compile off while it is watched, so the
        stamps run around the compiled step instead of inside it."""
        clock = self
        tracker = getattr(model, "_loss_tracker", None)
        if xla:
            train_step = tf.function(train_step, jit_compile=True, reduce_retracing=True)

        def stamped_train_step(data):
            with tf.control_dependencies(tf.nest.flatten(data)):
                t_taken = tf.timestamp()
                t_requested = clock.requested.read_value()
                before = _tracker_sums(tracker)
            with tf.control_dependencies([t_taken, *before]):
                data = _after(data)  # the step's ops wait for the stamp through their input,
            logs = train_step(data)  # not by a control edge on each of its thousands of ops
            weights = [tf.convert_to_tensor(v.value) for v in model.trainable_variables]
            with tf.control_dependencies([*tf.nest.flatten(logs), *weights]):
                t_trained = tf.timestamp()
                after = _tracker_sums(tracker)
            row = tf.stack([t_requested, t_taken, t_trained, _batch_size(data),
                            _step_loss(before, after, logs),
                            tf.cast(clock.epoch.read_value(), tf.float64)])
            with tf.control_dependencies([row]):
                index = clock.count.read_value() % RING_ROWS
                written = clock.rows.scatter_nd_update([[index]], [row])
            with tf.control_dependencies([written]):
                clock.count.assign_add(1)
            return logs

        return stamped_train_step

    def new_rows(self) -> np.ndarray:
        """The rows written since the last call (oldest first); rows overwritten before they
        were read are skipped. Called from one reader thread."""
        count = int(self.count.numpy())
        start = max(self._read, count - RING_ROWS)
        if count <= start:
            return np.zeros((0, len(ROW_FIELDS)))
        rows = self.rows.numpy()
        self._read = count
        index = np.arange(start, count) % RING_ROWS
        return rows[index]


def _after(structure):
    """`structure` through identities created in the caller's control-dependency context:
    whatever reads them runs after those dependencies (None entries pass through)."""
    return tf.nest.map_structure(lambda t: t if t is None else tf.identity(t), structure)


def _batch_size(data) -> tf.Tensor:
    first = next((t for t in tf.nest.flatten(data) if t is not None and t.shape.rank), None)
    return tf.cast(tf.shape(first)[0], tf.float64) if first is not None else tf.constant(0.0, tf.float64)


def _tracker_sums(tracker) -> list[tf.Tensor]:
    """Keras's loss tracker (a Mean: total and count): the step's own loss is the change."""
    if tracker is None or not hasattr(tracker, "total"):
        return []
    return [tf.cast(tf.convert_to_tensor(tracker.total), tf.float64),
            tf.cast(tf.convert_to_tensor(tracker.count), tf.float64)]


def _step_loss(before, after, logs) -> tf.Tensor:
    if before and after:
        return tf.math.divide_no_nan(after[0] - before[0], after[1] - before[1])
    if isinstance(logs, dict) and "loss" in logs:
        return tf.cast(tf.reduce_mean(logs["loss"]), tf.float64)
    return tf.constant(math.nan, tf.float64)
