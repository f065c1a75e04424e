"""Learning rate: cosine decay over the planned run, re-planned live.

On 8,000 MNIST images a constant Adam rate overfits after 3 epochs (held-out accuracy
0.972 -> 0.9615 by epoch 5); decaying the rate to a floor over the planned steps reached
0.9755 after 5 epochs (docs/benchmarks.md). The plan lives in a variable because epochs
and batch size can change while training runs.
"""
from __future__ import annotations

import math

import keras

from .tfsetup import configure_tensorflow

tf = configure_tensorflow()

FLOOR = 0.02
"""The rate never falls below this share of the initial rate, so a run extended past its
plan keeps learning."""


class PlannedCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, initial: float, planned_steps: int, floor: float = FLOOR):
        self.initial = initial
        self.floor = floor
        self.planned_steps = tf.Variable(max(1, planned_steps), dtype=tf.float32, trainable=False,
                                         name="planned_steps")

    def replan(self, planned_steps: int) -> None:
        self.planned_steps.assign(max(1, planned_steps))

    def __call__(self, step):
        progress = tf.minimum(tf.cast(step, tf.float32) / self.planned_steps, 1.0)
        cosine = 0.5 * (1.0 + tf.cos(math.pi * progress))
        return self.initial * (self.floor + (1.0 - self.floor) * cosine)

    def get_config(self) -> dict:
        return {"initial": self.initial, "planned_steps": int(self.planned_steps.numpy()),
                "floor": self.floor}
