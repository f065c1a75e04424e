"""The CNN (Input, two Conv2D + MaxPooling blocks, Flatten, Dropout, Dense, Softmax), its
per-layer activation model, and `.keras` save/load with clear errors.

The seed had one Conv/Pool block. With the Augment stage's varied digits, a second block
(32 -> 64 filters) and dropout before the dense layer read drawn digits right far more often
at the same five epochs (docs/benchmarks.md, "Drawn digits"), and held-out MNIST accuracy
rises from 0.975 to about 0.98, for ~1.5x the training time per step."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import keras
import numpy as np

from .safeio import remove_stale, temp_name

INPUT_SHAPE = (28, 28, 1)
LAYER_NAMES = ("conv", "pool", "conv2", "pool2", "flatten", "dense", "softmax")
"""The layers whose outputs the activation view shows (with the input)."""
DROPOUT = 0.3


class ModelFileError(Exception):
    """A model file could not be loaded or saved; the message names the file and the problem."""


def build_model(seed: int = 0, conv_filters: int = 32, dense_units: int = 128) -> keras.Model:
    """Input 28x28x1 -> Conv2D 3x3 -> MaxPooling 2x2 -> Conv2D 3x3 (2x the filters) ->
    MaxPooling 2x2 -> Flatten -> Dropout -> Dense -> Dense(10) softmax."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=INPUT_SHAPE, name="input")
    x = keras.layers.Conv2D(conv_filters, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(2 * conv_filters, 3, activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(DROPOUT, name="dropout")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="softmax")(x)
    return keras.Model(inputs, outputs, name="pipeviz_cnn")


def activation_model(model: keras.Model) -> keras.Model:
    """A second model over the same layers (shared weights) returning every layer's output."""
    outputs = {name: model.get_layer(name).output for name in LAYER_NAMES}
    return keras.Model(model.input, outputs, name="pipeviz_activations")


def activations(act_model: keras.Model, image: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output for one 28x28 image in [0, 1] (batch dimension removed)."""
    batch = np.asarray(image, dtype=np.float32).reshape(1, *INPUT_SHAPE)
    outputs = act_model(batch, training=False)
    result = {"input": batch[0, :, :, 0]}
    result.update({name: np.asarray(value)[0] for name, value in outputs.items()})
    return result


def save_model(model: keras.Model, path: Path | str) -> Path:
    """Save as `.keras` via a temporary file in the same folder, renamed into place, so a
    failed save never destroys an existing file. The temporary is removed on any failure
    (an interrupt included); one left by a killed process (its name records the process)
    is removed by the next save into that folder."""
    path = Path(path).expanduser()
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: model files must end in .keras")
    remove_stale(path.parent, path.stem, ".keras")
    _remove_old_mkstemp_temps(path)
    tmp = path.parent / temp_name(path.stem, ".keras")
    try:
        with open(tmp, "xb"):
            pass
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot write to {path.parent} ({exc.strerror or exc})") from None
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if not isinstance(exc, Exception):
            raise
        raise ModelFileError(f"{path}: saving failed ({exc})") from None
    return path


LEGACY_TEMP_AGE_S = 3600


def _remove_old_mkstemp_temps(path: Path) -> None:
    """Earlier versions named the temporary `.STEM-XXXXXXXX.keras` (tempfile.mkstemp), which
    does not say whose it is: those an hour old are a killed save's leftovers."""
    pattern = re.compile(rf"^\.{re.escape(path.stem)}-[a-z0-9_]{{8}}\.keras$")
    try:
        for entry in os.scandir(path.parent):
            if pattern.match(entry.name) and entry.is_file(follow_symlinks=False) and \
                    time.time() - entry.stat().st_mtime > LEGACY_TEMP_AGE_S:
                os.unlink(entry.path)
    except OSError:
        pass  # tidying up is best effort; the save itself reports real problems


def load_model(path: Path | str) -> keras.Model:
    """Load a `.keras` model and check that it takes 28x28x1 images and predicts 10 classes."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise ModelFileError(f"{path}: not a Keras model file this app can read ({exc})") from None
    if tuple(model.input_shape[1:]) != INPUT_SHAPE or model.output_shape[-1] != 10:
        raise ModelFileError(f"{path}: the model takes {model.input_shape[1:]} and gives "
                             f"{model.output_shape[-1]} outputs; pipeviz needs 28x28x1 in, 10 out")
    missing = [name for name in LAYER_NAMES if name not in {layer.name for layer in model.layers}]
    if missing:
        raise ModelFileError(f"{path}: the model lacks the layers {', '.join(missing)} that the "
                             "activation view shows; save a model trained by pipeviz")
    return model
