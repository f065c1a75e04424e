"""The compiled pieces of training: the instrumented step loop and the evaluation step,
with the model and optimizer they update.

Tracing them costs seconds (5-10 s on a 2-core machine), so one `StepLoop` can serve
several trainers one after another: an experiment sweep trains the same fresh model under
each config by `reset()`ting it to its initial weights and a new optimizer state instead of
building and tracing a new model per config.
"""
from __future__ import annotations

import numpy as np

from .tfsetup import configure_tensorflow

tf = configure_tensorflow()
import keras  # noqa: E402  (after the thread set-up)

from .model import build_model  # noqa: E402
from .pipeline import STAMP_KEYS  # noqa: E402
from .schedule import PlannedCosineDecay  # noqa: E402

STEP_FIELDS = ("t_requested", "t_taken", "t_trained", "loss", "accuracy", "buffered",
               "batch_size", *STAMP_KEYS)
"""What the compiled step loop records per step, packed as one float64 row."""


class StepLoop:
    """A model, its Adam optimizer on a planned cosine decay, and their traced functions."""

    def __init__(self, model: keras.Model | None = None, seed: int = 0, learning_rate: float = 2e-3):
        self.seed = seed
        self.model = model or build_model(seed)
        self.schedule = PlannedCosineDecay(learning_rate, 1)
        self.optimizer = keras.optimizers.Adam(self.schedule)
        self.optimizer.build(self.model.trainable_variables)  # its slots exist before tracing
        # every model variable: the weights and the dropout layer's seed state, so a reset
        # run draws the same dropout masks as the first
        self._initial = ([np.array(v.numpy()) for v in self.model.variables],
                         [np.array(v.numpy()) for v in self.optimizer.variables])
        self.traces = 0
        """How often the step loop was traced: once, whatever is reconfigured (tested)."""
        self.train_chunk = self._make_train_chunk()
        self.evaluate_batch = self._make_evaluate()

    def reset(self) -> None:
        """Back to the weights and optimizer state it started with (same seed, step 0),
        keeping the traced functions. Call only while no trainer is using it."""
        model_values, optimizer_values = self._initial
        for variable, value in zip(self.model.variables, model_values):
            variable.assign(value)
        for variable, value in zip(self.optimizer.variables, optimizer_values):
            variable.assign(value)

    def _make_train_chunk(self):
        model, optimizer = self.model, self.optimizer
        loss_fn = keras.losses.SparseCategoricalCrossentropy()

        def one_step(batch: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
            with tf.GradientTape() as tape:
                probs = model(batch["image"], training=True)
                loss = loss_fn(batch["label"], probs)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            hits = tf.equal(tf.argmax(probs, axis=-1, output_type=tf.int32), batch["label"])
            return loss, tf.reduce_mean(tf.cast(hits, tf.float32))

        def updated_values() -> list[tf.Tensor]:
            # The weights are written last (Adam's moments feed their update), so reading
            # them (a ReadVariableOp: no copy) orders the stamp after the whole update.
            return [tf.convert_to_tensor(v.value) for v in model.trainable_variables]

        @tf.function
        def train_chunk(iterator, steps, enqueued, taken_before):
            self.traces += 1
            rows = tf.TensorArray(tf.float64, size=steps, element_shape=[len(STEP_FIELDS)])
            ids = tf.TensorArray(tf.int32, size=steps, infer_shape=False, element_shape=[None])
            for i in tf.range(steps):
                t_requested = tf.timestamp()
                with tf.control_dependencies([t_requested]):
                    batch = iterator.get_next()
                with tf.control_dependencies(tf.nest.flatten(batch)):
                    t_taken = tf.timestamp()
                    in_buffer = enqueued.read_value() - taken_before - tf.cast(i, tf.int64) - 1
                with tf.control_dependencies([t_taken]):
                    loss, accuracy = one_step(batch)
                # Reading the weights back after the update orders the stamp after the
                # optimizer's writes (and, on a GPU, waits for the device to do them).
                with tf.control_dependencies([loss, accuracy, *updated_values()]):
                    t_trained = tf.timestamp()
                values = {"t_requested": t_requested, "t_taken": t_taken, "t_trained": t_trained,
                          "loss": loss, "accuracy": accuracy, "buffered": tf.maximum(in_buffer, 0),
                          # the epoch's examples in the batch (the Augment stage adds a few
                          # printed-style digits that are not, see core/augment.py)
                          "batch_size": tf.shape(batch["id"])[0],
                          **{k: batch.get(k, tf.constant(0.0, tf.float64)) for k in STAMP_KEYS}}
                rows = rows.write(i, tf.stack([tf.cast(values[k], tf.float64) for k in STEP_FIELDS]))
                ids = ids.write(i, batch["id"])
            return rows.stack(), ids.concat()

        return train_chunk

    def _make_evaluate(self):
        model = self.model
        loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction="sum")

        # one trace for every batch size (the last validation batch is smaller)
        @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32),
                                      tf.TensorSpec([None], tf.int32)])
        def evaluate_batch(image, label):
            probs = model(image, training=False)
            hits = tf.equal(tf.argmax(probs, axis=-1, output_type=tf.int32), label)
            return loss_fn(label, probs), tf.reduce_sum(tf.cast(hits, tf.float32))

        return evaluate_batch
