"""A NumPy forward pass of the app's Keras CNN for one image, every layer's output kept.

Why not the model itself: a `tf.function` call from the GUI thread queues its ops behind the
train step's in TensorFlow's shared thread pools, so while training runs one drawn digit
waited ~10 ms for its prediction (docs/benchmarks.md, "Draw to prediction"). The same
arithmetic in NumPy for one 28x28 image is a few small matrix products (a convolution as
an im2col product, pooling as a reshape and max) that run on the calling thread at once.

The weights are read from the model's variables at every call (one eager read each, run
on the calling thread; 0.65 ms for the app's 8 in the window), so a prediction always uses
the weights training has reached. A read
while the trainer updates a variable sees that variable before or after the update (the
variables copy on write), so at worst the layers mix two consecutive steps' weights, as
the Keras path's reads did.

`NumpyForward(model)` accepts only the layer kinds it implements exactly (Input, Conv2D,
MaxPooling2D, Dropout, Flatten, Dense, Softmax, Activation/ReLU with default options) in a
single chain, channels-last; anything else raises `Unsupported`, and the caller predicts
with TensorFlow instead.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np


class Unsupported(Exception):
    """The model has a layer (or an option of one) this NumPy pass does not implement."""


# ----- activations -------------------------------------------------------------------------
def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _activation(fn) -> Callable[[np.ndarray], np.ndarray]:
    import keras
    known = {keras.activations.linear: lambda x: x, keras.activations.relu: _relu,
             keras.activations.softmax: _softmax, keras.activations.sigmoid: _sigmoid,
             keras.activations.tanh: np.tanh}
    if fn is None:
        return known[keras.activations.linear]
    if fn not in known:
        raise Unsupported(f"activation {getattr(fn, '__name__', fn)!r}")
    return known[fn]


# ----- layers ------------------------------------------------------------------------------
def _im2col(x: np.ndarray, kh: int, kw: int, sh: int, sw: int) -> np.ndarray:
    """(H, W, C) -> (out_h * out_w, kh * kw * C), rows in Keras's kernel order (kh, kw, C)."""
    h, w, c = x.shape
    out_h, out_w = (h - kh) // sh + 1, (w - kw) // sw + 1
    s0, s1, s2 = x.strides
    patches = np.lib.stride_tricks.as_strided(
        x, (out_h, out_w, kh, kw, c), (s0 * sh, s1 * sw, s0, s1, s2), writeable=False)
    return patches.reshape(out_h * out_w, kh * kw * c)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding: the extra pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@dataclass(frozen=True)
class _Step:
    name: str
    run: Callable[[np.ndarray, list[np.ndarray]], np.ndarray]
    variables: tuple  # the layer's weight variables, read at each call


def _conv2d(layer) -> _Step:
    if layer.data_format != "channels_last" or tuple(layer.dilation_rate) != (1, 1) \
            or layer.groups != 1 or layer.padding not in ("valid", "same") \
            or getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
        raise Unsupported(f"Conv2D {layer.name!r} options")
    (kh, kw), (sh, sw), padding = tuple(layer.kernel_size), tuple(layer.strides), layer.padding
    act, use_bias = _activation(layer.activation), layer.use_bias

    def run(x, weights):
        if padding == "same":
            x = np.pad(x, (_same_padding(x.shape[0], kh, sh), _same_padding(x.shape[1], kw, sw), (0, 0)))
        out_h, out_w = (x.shape[0] - kh) // sh + 1, (x.shape[1] - kw) // sw + 1
        kernel = weights[0]
        y = _im2col(np.ascontiguousarray(x), kh, kw, sh, sw) @ kernel.reshape(-1, kernel.shape[-1])
        if use_bias:
            y += weights[1]
        return act(y.reshape(out_h, out_w, -1))

    return _Step(layer.name, run, (layer.kernel, layer.bias) if use_bias else (layer.kernel,))


def _max_pooling2d(layer) -> _Step:
    if layer.data_format != "channels_last" or layer.padding != "valid" \
            or tuple(layer.strides) != tuple(layer.pool_size):
        raise Unsupported(f"MaxPooling2D {layer.name!r} options")
    ph, pw = layer.pool_size

    def run(x, _weights):
        h, w, c = x.shape[0] // ph, x.shape[1] // pw, x.shape[2]
        return x[: h * ph, : w * pw].reshape(h, ph, w, pw, c).max(axis=(1, 3))

    return _Step(layer.name, run, ())


def _dense(layer) -> _Step:
    if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
        raise Unsupported(f"Dense {layer.name!r} options")
    act, use_bias = _activation(layer.activation), layer.use_bias

    def run(x, weights):
        if x.ndim != 1:
            raise Unsupported(f"Dense {layer.name!r} on a {x.ndim}-D input")
        y = x @ weights[0]
        if use_bias:
            y += weights[1]
        return act(y)

    return _Step(layer.name, run, (layer.kernel, layer.bias) if use_bias else (layer.kernel,))


def _flatten(layer) -> _Step:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise Unsupported(f"Flatten {layer.name!r} channels-first")
    return _Step(layer.name, lambda x, _w: x.reshape(-1), ())


def _softmax_layer(layer) -> _Step:
    if layer.axis not in (-1, [-1], (-1,)):
        raise Unsupported(f"Softmax {layer.name!r} over axis {layer.axis}")
    return _Step(layer.name, lambda x, _w: _softmax(x), ())


def _relu_layer(layer) -> _Step:
    if layer.max_value is not None or layer.negative_slope or layer.threshold:
        raise Unsupported(f"ReLU {layer.name!r} options")
    return _Step(layer.name, lambda x, _w: np.maximum(x, 0), ())


def _activation_layer(layer) -> _Step:
    act = _activation(layer.activation)
    return _Step(layer.name, lambda x, _w: act(x.copy()), ())


def _identity(layer) -> _Step:
    return _Step(layer.name, lambda x, _w: x, ())


def _builder(layer) -> Callable | None:
    """The function that makes the NumPy step for this layer's inference output, or None.
    Exact classes only: a subclass of a known layer may compute something else. Dropout is
    the identity at inference."""
    import keras
    L = keras.layers
    return {L.Conv2D: _conv2d, L.MaxPooling2D: _max_pooling2d, L.Dense: _dense,
            L.Flatten: _flatten, L.Softmax: _softmax_layer, L.ReLU: _relu_layer,
            L.Activation: _activation_layer, L.Dropout: _identity}.get(type(layer))


def _single_chain(model) -> list:
    """The model's layers (InputLayer left out), checked to form one chain from the input to
    the output: each layer called once, on the previous layer's output."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise Unsupported("not a single-input, single-output model")
    import keras
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    previous = model.inputs[0]
    for layer in layers:
        nodes = getattr(layer, "_inbound_nodes", None)
        if nodes is None or len(nodes) != 1:
            raise Unsupported(f"layer {layer.name!r} is used {len(nodes or ())} times")
        inputs = nodes[0].input_tensors
        if len(inputs) != 1 or inputs[0] is not previous:
            raise Unsupported(f"layer {layer.name!r} is not on a single chain")
        previous = layer.output
    if previous is not model.outputs[0]:
        raise Unsupported("the chain does not end at the model's output")
    return layers


class NumpyForward:
    """Every layer's output for one image, computed in NumPy with the model's current
    weights. Raises `Unsupported` at construction for a model it cannot compute exactly."""

    def __init__(self, model):
        steps = []
        for layer in _single_chain(model):
            builder = _builder(layer)
            if builder is None:
                raise Unsupported(f"layer {layer.name!r} of kind {type(layer).__name__}")
            if getattr(layer, "dtype_policy", None) is not None and layer.dtype_policy.name != "float32":
                raise Unsupported(f"layer {layer.name!r} computes in {layer.dtype_policy.name}")
            steps.append(builder(layer))
        self.steps = steps
        self.input_shape = tuple(model.inputs[0].shape[1:])

    def weights(self) -> list[list[np.ndarray]]:
        """The current values of every step's variables (one eager read each)."""
        return [[_read(v) for v in step.variables] for step in self.steps]

    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """{layer name: output} for one image shaped like the model's input (no batch axis)."""
        x = np.asarray(image, dtype=np.float32).reshape(self.input_shape)
        outputs = {}
        with single_threaded_blas():
            for step, weights in zip(self.steps, self.weights()):
                x = step.run(x, weights)
                outputs[step.name] = x
        return outputs


def _read(variable) -> np.ndarray:
    """A Keras variable's value as read-only float32 NumPy. On the TensorFlow backend: one
    eager ReadVariableOp, run on the calling thread (no graph, so nothing queues; 15 us),
    viewed without a copy (the array holds the buffer it read, and the variable's next
    update writes a new one: TensorFlow copies a variable's buffer before updating it in
    place while a read of it is alive). `.numpy()` would copy and cost ~3x as much."""
    value = getattr(variable, "value", variable)
    handle = getattr(value, "handle", None)
    if handle is not None and getattr(value, "dtype", None) is not None:
        value = _read_variable_op()(handle, value.dtype)
        # EagerTensor._numpy is the view np.asarray gives, minus ~10 us of dispatch
        view = getattr(value, "_numpy", None)
        value = view() if view is not None else value
    array = np.asarray(value)
    if array.dtype != np.float32:
        raise Unsupported(f"weights of dtype {array.dtype}")
    array.flags.writeable = False
    return array


@functools.cache
def _read_variable_op():
    """TensorFlow's generated ReadVariableOp function: half the cost of `tf.raw_ops`'s
    public wrapper around it (12 against 25 us a call); the wrapper where it moved."""
    try:
        from tensorflow.python.ops.gen_resource_variable_ops import read_variable_op
        return read_variable_op
    except ImportError:
        import tensorflow as tf
        return lambda handle, dtype: tf.raw_ops.ReadVariableOp(resource=handle, dtype=dtype)


# ----- BLAS threads ------------------------------------------------------------------------
_OPENBLAS_PREFIXES = ("scipy_openblas", "openblas")


@contextlib.contextmanager
def single_threaded_blas():
    """Run the block with OpenBLAS (NumPy's BLAS) on one thread. Its default, a thread per
    core, made a 121x288 by 288x64 product take 10 ms instead of 0.05 ms while TensorFlow's
    threads held the two cores (docs/benchmarks.md): the product waited for BLAS workers
    that could not run. A no-op when NumPy's BLAS is not an OpenBLAS this can find."""
    control = _openblas_threads()
    if control is None:
        yield
        return
    get, set_ = control
    before = get()
    if before != 1:
        set_(1)
    try:
        yield
    finally:
        if before != 1:
            set_(before)


_control: tuple | None | bool = False


def _openblas_threads():
    """(get, set) for the number of threads of the OpenBLAS NumPy loaded, or None."""
    global _control
    if _control is not False:
        return _control
    _control = None
    for path in _loaded_openblas_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _OPENBLAS_PREFIXES:
            for suffix in ("64_", ""):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    get.restype, get.argtypes = ctypes.c_int, []
                    set_.restype, set_.argtypes = None, [ctypes.c_int]
                    _control = (get, set_)
                    return _control
    return _control


def _loaded_openblas_paths() -> list[str]:
    """The OpenBLAS shared libraries mapped into this process (Linux), else NumPy's bundled
    ones (its wheels ship them in numpy.libs or numpy/.dylibs)."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "openblas" in os.path.basename(path) and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    if not paths:
        root = os.path.dirname(np.__file__)
        for pattern in ("../numpy.libs/*openblas*", ".dylibs/*openblas*"):
            paths += glob.glob(os.path.join(root, pattern))
    return paths
