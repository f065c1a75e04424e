"""Predict a drawn digit and read every layer's output, with the model's current weights.

The activation model shares the trained model's variables, so while training runs each
prediction sees the latest weights (reads race with updates harmlessly: a prediction may
mix two consecutive steps' weights).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import INPUT_SHAPE, activation_model
from .tfsetup import configure_tensorflow

tf = configure_tensorflow()


@dataclass(frozen=True)
class Prediction:
    image: np.ndarray                 # the 28x28 input the model saw
    layers: dict[str, np.ndarray]     # conv (26,26,C), pool (13,13,C), dense (D,), softmax (10,)

    @property
    def probabilities(self) -> np.ndarray:
        return self.layers["softmax"]

    @property
    def digit(self) -> int:
        return int(np.argmax(self.probabilities))


class Predictor:
    def __init__(self, model):
        self.model = model
        self._activations = activation_model(model)
        self._run = tf.function(lambda x: self._activations(x, training=False),
                                input_signature=[tf.TensorSpec((1, *INPUT_SHAPE), tf.float32)])

    def predict(self, image: np.ndarray) -> Prediction:
        """`image`: 28x28 floats in [0, 1] (see digits.to_mnist)."""
        batch = np.asarray(image, dtype=np.float32).reshape(1, *INPUT_SHAPE)
        outputs = self._run(tf.constant(batch))
        return Prediction(batch[0, :, :, 0], {k: v.numpy()[0] for k, v in outputs.items()})
