"""Predict a drawn digit and read every layer's output, with the model's current weights.

The activation model shares the trained model's variables, so while training runs each
prediction sees the latest weights (reads race with updates harmlessly: a prediction may
mix two consecutive steps' weights).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONFIDENT = 0.75
"""Below this top-class probability, or with the runner-up within MARGIN of it, the panel
says the model is unsure and shows the runner-up."""
MARGIN = 0.35

from .model import INPUT_SHAPE, activation_model
from .tfsetup import configure_tensorflow

tf = configure_tensorflow()


@dataclass(frozen=True)
class Prediction:
    image: np.ndarray                 # the 28x28 input the model saw
    layers: dict[str, np.ndarray]     # conv (26,26,C), pool (13,13,C), ..., dense (D,), softmax (10,)
    shape_doubt: str = ""             # why the drawing does not look like a digit (digits.shape_doubt)

    @property
    def probabilities(self) -> np.ndarray:
        return self.layers["softmax"]

    @property
    def digit(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def runner_up(self) -> int:
        return int(np.argsort(self.probabilities)[-2])

    @property
    def doubt(self) -> str:
        """Why this reading should not be trusted ("" when it can be): the drawing is not
        digit-like, the top class is weak, or the runner-up is close behind."""
        if self.shape_doubt:
            return self.shape_doubt
        top, second = self.probabilities[self.digit], self.probabilities[self.runner_up]
        if top < CONFIDENT:
            return f"the top class has only {100 * top:.0f}%"
        if top - second < MARGIN:
            return "two classes are close"
        return ""


class Predictor:
    def __init__(self, model):
        self.model = model
        self._activations = activation_model(model)
        self._run = tf.function(lambda x: self._activations(x, training=False),
                                input_signature=[tf.TensorSpec((1, *INPUT_SHAPE), tf.float32)])

    def predict(self, image: np.ndarray, shape_doubt: str = "") -> Prediction:
        """`image`: 28x28 floats in [0, 1] (see digits.to_mnist); `shape_doubt`: why the
        drawing does not look like a digit, if it does not (digits.shape_doubt)."""
        batch = np.asarray(image, dtype=np.float32).reshape(1, *INPUT_SHAPE)
        outputs = self._run(tf.constant(batch))
        return Prediction(batch[0, :, :, 0], {k: v.numpy()[0] for k, v in outputs.items()},
                          shape_doubt)
