import numpy as np
import pytest

from pipeviz.core.model import (ModelFileError, activation_model, activations,
                                build_model, load_model, save_model)


def test_layers_and_activations():
    import keras
    model = build_model()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten",
                     "Dropout", "Dense", "Dense"]
    assert model.get_layer("softmax").activation is keras.activations.softmax
    image = np.zeros((28, 28), np.float32)
    image[5:23, 13:15] = 1.0
    acts = activations(activation_model(model), image)
    assert acts["input"].shape == (28, 28)
    assert acts["conv"].shape == (26, 26, 32) and acts["pool"].shape == (13, 13, 32)
    assert acts["conv2"].shape == (11, 11, 64) and acts["pool2"].shape == (5, 5, 64)
    assert acts["dense"].shape == (128,) and acts["softmax"].shape == (10,)
    assert acts["softmax"].sum() == pytest.approx(1.0, abs=1e-5)
    direct = model(image.reshape(1, 28, 28, 1)).numpy()[0]
    assert np.allclose(direct, acts["softmax"], atol=1e-6), "activation model shares the weights"


def test_save_load_round_trip(tmp_path):
    model = build_model(seed=3)
    path = save_model(model, tmp_path / "digits.keras")
    loaded = load_model(path)
    batch = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    assert np.allclose(model(batch).numpy(), loaded(batch).numpy(), atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["digits.keras"], "temporary file left behind"


def test_bad_model_files(tmp_path):
    import keras
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    with pytest.raises(ModelFileError, match="junk.keras: not a Keras model file"):
        load_model(junk)
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "missing.keras")
    inputs = keras.Input((32, 32, 3))
    other = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    other.save(tmp_path / "other.keras")
    with pytest.raises(ModelFileError, match="pipeviz needs 28x28x1 in"):
        load_model(tmp_path / "other.keras")


def test_unwritable_save_is_a_clear_error_and_keeps_the_old_file(tmp_path):
    with pytest.raises(ModelFileError, match="cannot write to"):
        save_model(build_model(), tmp_path / "no-such-folder" / "m.keras")
    with pytest.raises(ModelFileError, match="must end in .keras"):
        save_model(build_model(), tmp_path / "m.h5")
    target = tmp_path / "m.keras"
    target.write_bytes(b"precious")
    model = build_model()
    model.save = lambda *a, **k: (_ for _ in ()).throw(OSError("disk full"))
    with pytest.raises(ModelFileError, match="saving failed"):
        save_model(model, target)
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]
