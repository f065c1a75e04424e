"""The NumPy forward pass behind the drawn-digit prediction: equal to Keras on every layer,
following the weights as they train, and refusing (so the TensorFlow path takes over) any
model it does not compute exactly."""
import keras
import numpy as np
import pytest

from pipeviz.core.forward import NumpyForward, Unsupported, _read, single_threaded_blas, _openblas_threads
from pipeviz.core.model import INPUT_SHAPE, LAYER_NAMES, activation_model, build_model
from pipeviz.core.predict import Predictor
from pipeviz.core.tfsetup import configure_tensorflow

tf = configure_tensorflow()


def _jitter(model, seed=1, scale=0.05):
    """Weights as after some training: the biases non-zero, the kernels moved."""
    rng = np.random.default_rng(seed)
    for v in model.trainable_variables:
        v.assign(v.numpy() + rng.normal(0, scale, v.shape).astype(np.float32))


def _images(count=4):
    rng = np.random.default_rng(0)
    ys, xs = np.indices(INPUT_SHAPE[:2])
    blob = np.exp(-((ys - 12) ** 2 + (xs - 15) ** 2) / 30.0)
    return [blob, np.zeros(INPUT_SHAPE[:2]), *(rng.random(INPUT_SHAPE[:2]) for _ in range(count - 2))]


def _keras_layers(model, image):
    outputs = activation_model(model)(np.float32(image).reshape(1, *INPUT_SHAPE), training=False)
    return {name: np.asarray(value)[0] for name, value in outputs.items()}


def test_every_layer_equals_keras():
    model = build_model()
    _jitter(model)
    forward = NumpyForward(model)
    for image in _images():
        got, want = forward(image), _keras_layers(model, image)
        for name in LAYER_NAMES:
            assert got[name].shape == want[name].shape, name
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5, err_msg=name)


def test_predictions_follow_the_training():
    """Training moves the weights between two predictions: the second one is Keras's answer
    with the new weights, not the old one (the weights are read at each call)."""
    model = build_model()
    predictor = Predictor(model)
    assert predictor.forward is not None, predictor.why_tensorflow
    image = _images()[0]
    before = predictor.predict(image)
    optimizer = keras.optimizers.Adam(1e-2)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    batch = np.float32(np.stack(_images(8))).reshape(-1, *INPUT_SHAPE)
    labels = np.arange(8) % 10

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(batch, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    for _ in range(5):
        train_step()
    after = predictor.predict(image)
    want = _keras_layers(model, image)
    for name in LAYER_NAMES:
        np.testing.assert_allclose(after.layers[name], want[name], rtol=1e-5, atol=1e-5, err_msg=name)
    assert np.abs(after.probabilities - before.probabilities).max() > 1e-3, "the weights moved"
    assert not np.allclose(after.layers["conv"], before.layers["conv"]), "every layer follows"


def test_a_read_of_the_weights_is_not_changed_by_later_updates():
    """The arrays a prediction computes with are views of what it read; TensorFlow copies a
    variable before updating it in place while such a view lives, so a prediction never sees
    half of an update."""
    variable = keras.Variable(np.zeros((3, 4), np.float32))
    first = _read(variable)
    variable.assign(np.ones((3, 4), np.float32))
    second = _read(variable)
    variable.assign_add(np.ones((3, 4), np.float32))
    third = _read(variable)
    variable.assign_sub(np.full((3, 4), 5, np.float32))
    assert (first == 0).all() and (second == 1).all() and (third == 2).all()
    assert (_read(variable) == -3).all()
    assert not first.flags.writeable, "the weights are read-only to the forward pass"


def _model(*layers):
    inputs = keras.Input(shape=INPUT_SHAPE, name="input")
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


def test_other_layer_options_equal_keras():
    """Generic over what a loaded model may hold: SAME padding, strides, linear and tanh
    activations, Softmax, ReLU and Activation layers, no bias."""
    keras.utils.set_random_seed(3)
    L = keras.layers
    model = _model(L.Conv2D(8, 5, strides=2, padding="same", activation="tanh"),
                   L.ReLU(), L.Conv2D(6, 3, use_bias=False), L.MaxPooling2D(3),
                   L.Activation("sigmoid"), L.Flatten(), L.Dropout(0.5),
                   L.Dense(16), L.Dense(10), L.Softmax())
    _jitter(model, seed=4)
    forward = NumpyForward(model)
    for image in _images():
        got = forward(image)
        want = np.asarray(model(np.float32(image).reshape(1, *INPUT_SHAPE), training=False))[0]
        np.testing.assert_allclose(got[model.layers[-1].name], want, rtol=1e-5, atol=1e-6)


class _ScaledDense(keras.layers.Dense):
    """A Dense that computes something else: its class is not Dense itself."""

    def call(self, inputs):
        return 2 * super().call(inputs)


@pytest.mark.parametrize("layer", [lambda: keras.layers.BatchNormalization(),
                                   lambda: keras.layers.AveragePooling2D(2),
                                   lambda: keras.layers.Conv2D(4, 3, dilation_rate=2),
                                   lambda: keras.layers.LeakyReLU()])
def test_a_layer_it_does_not_implement_is_refused(layer):
    with pytest.raises(Unsupported):
        NumpyForward(_model(keras.layers.Conv2D(4, 3), layer(), keras.layers.Flatten(),
                            keras.layers.Dense(10, activation="softmax")))


def test_a_subclassed_layer_or_a_branch_is_refused():
    with pytest.raises(Unsupported, match="ScaledDense"):
        NumpyForward(_model(keras.layers.Flatten(), _ScaledDense(10)))
    inputs = keras.Input(shape=INPUT_SHAPE)
    flat = keras.layers.Flatten()(inputs)
    shared = keras.layers.Dense(784)
    twice = keras.Model(inputs, keras.layers.Dense(10)(shared(shared(flat))))
    with pytest.raises(Unsupported):
        NumpyForward(twice)


def test_an_unknown_layer_falls_back_to_tensorflow():
    """A loaded model with a layer the NumPy pass lacks still predicts, with TensorFlow,
    every shown layer included."""
    keras.utils.set_random_seed(0)
    L = keras.layers
    model = _model(L.Conv2D(8, 3, activation="relu", name="conv"), L.MaxPooling2D(2, name="pool"),
                   L.BatchNormalization(name="norm"),
                   L.Conv2D(8, 3, activation="relu", name="conv2"), L.MaxPooling2D(2, name="pool2"),
                   L.Flatten(name="flatten"), L.Dense(16, activation="relu", name="dense"),
                   L.Dense(10, activation="softmax", name="softmax"))
    predictor = Predictor(model)
    assert predictor.forward is None and "BatchNormalization" in predictor.why_tensorflow
    image = _images()[0]
    got, want = predictor.predict(image), _keras_layers(model, image)
    for name in LAYER_NAMES:
        np.testing.assert_allclose(got.layers[name], want[name], rtol=1e-5, atol=1e-6)


def test_the_app_model_predicts_with_numpy_and_agrees_with_the_tensorflow_path():
    model = build_model()
    _jitter(model, seed=7)
    predictor = Predictor(model)
    assert predictor.forward is not None, predictor.why_tensorflow
    for image in _images():
        got = predictor.predict(image)
        predictor_tf = predictor.forward
        predictor.forward = None  # the TensorFlow path, on the same model
        want = predictor.predict(image)
        predictor.forward = predictor_tf
        assert set(got.layers) == set(want.layers) == set(LAYER_NAMES)
        for name in LAYER_NAMES:
            np.testing.assert_allclose(got.layers[name], want.layers[name], rtol=1e-5, atol=1e-5)
        assert got.digit == want.digit


@pytest.mark.skipif(_openblas_threads() is None, reason="NumPy's BLAS is not an OpenBLAS")
def test_blas_runs_on_one_thread_inside_and_as_before_after():
    get, set_ = _openblas_threads()
    before = get()
    set_(2)
    try:
        with single_threaded_blas():
            assert get() == 1
        assert get() == 2
    finally:
        set_(before)
