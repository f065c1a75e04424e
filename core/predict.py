"""Predict a drawn digit and read every layer's output, with the model's current weights.

The prediction is computed in NumPy (core/forward.py) from the model's variables, read at
each call, so while training runs each prediction sees the latest weights (a read racing an
update may mix two consecutive steps' weights) and never queues behind the train step's ops
in TensorFlow's thread pools, which cost ~10 ms per drawing. A model the NumPy pass does not
implement, or whose NumPy outputs differ from TensorFlow's on a probe image, is predicted
with the per-layer activation model as a `tf.function` instead (logged once).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONFIDENT = 0.75
"""Below this top-class probability, or with the runner-up within MARGIN of it, the panel
says the model is unsure and shows the runner-up."""
MARGIN = 0.35

import logging

from .forward import NumpyForward, Unsupported
from .model import INPUT_SHAPE, LAYER_NAMES, activation_model
from .tfsetup import configure_tensorflow

tf = configure_tensorflow()
log = logging.getLogger(__name__)

AGREEMENT = 1e-4
"""The largest difference, relative to a layer's largest output, allowed between the NumPy
pass and TensorFlow on the probe image (float32 sums in another order differ by ~1e-7)."""


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
    """Every shown layer's output for a drawn digit, with the model's current weights."""

    def __init__(self, model):
        self.model = model
        self._activations = activation_model(model)
        self._run = tf.function(lambda x: self._activations(x, training=False),
                                input_signature=[tf.TensorSpec((1, *INPUT_SHAPE), tf.float32)])
        self.forward: NumpyForward | None = None
        """The NumPy pass, or None where the model needs TensorFlow (`why_tensorflow`)."""
        self.why_tensorflow = ""
        try:
            self.forward = checked_forward(model, self._activations)
        except Unsupported as exc:
            self.why_tensorflow = str(exc)
            log.info("predicting drawn digits with TensorFlow: %s", exc)

    def predict(self, image: np.ndarray, shape_doubt: str = "") -> Prediction:
        """`image`: 28x28 floats in [0, 1] (see digits.to_mnist); `shape_doubt`: why the
        drawing does not look like a digit, if it does not (digits.shape_doubt)."""
        batch = np.asarray(image, dtype=np.float32).reshape(1, *INPUT_SHAPE)
        if self.forward is not None:
            outputs = self.forward(batch[0])
            layers = {name: outputs[name] for name in LAYER_NAMES}
        else:
            layers = {k: v.numpy()[0] for k, v in self._run(tf.constant(batch)).items()}
        return Prediction(batch[0, :, :, 0], layers, shape_doubt)


def checked_forward(model, act_model) -> NumpyForward:
    """The model's NumPy pass, checked against TensorFlow on every shown layer for a probe
    image (a smooth blob plus noise, so every unit sees varied input). Raises Unsupported
    when the model has a layer it cannot compute, or any layer disagrees."""
    forward = NumpyForward(model)
    rng = np.random.default_rng(0)
    ys, xs = np.indices(INPUT_SHAPE[:2])
    probe = np.exp(-((ys - 14) ** 2 + (xs - 13) ** 2) / 40.0) + 0.3 * rng.random(INPUT_SHAPE[:2])
    probe = probe.astype(np.float32)
    expected = act_model(probe.reshape(1, *INPUT_SHAPE), training=False)
    got = forward(probe)
    for name in LAYER_NAMES:
        want = np.asarray(expected[name])[0]
        if got[name].shape != want.shape:
            raise Unsupported(f"layer {name!r}: NumPy gives shape {got[name].shape}, "
                              f"TensorFlow {want.shape}")
        error = float(np.abs(got[name] - want).max())
        if error > AGREEMENT * max(1.0, float(np.abs(want).max())):
            raise Unsupported(f"layer {name!r}: NumPy differs from TensorFlow by {error:.2g}")
    return forward
