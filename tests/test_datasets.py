import time

import numpy as np
import pytest

from conftest import SHARED_MNIST, write_idx
from pipeviz.core import datasets
from pipeviz.core.datasets import find_data, load_folder, load_npz, load_path
from pipeviz.core.idx import IMAGES_MAGIC, LABELS_MAGIC, DataError


def idx_folder(tmp_path, split="t10k", n=50, gz=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"{split}-images-idx3-ubyte{suffix}",
              rng.integers(0, 256, (n, 28, 28)), IMAGES_MAGIC, gz)
    write_idx(tmp_path / f"{split}-labels-idx1-ubyte{suffix}",
              np.arange(n) % 10, LABELS_MAGIC, gz)
    return tmp_path


def test_single_split_folder_is_split_80_20(tmp_path):
    data = load_folder(idx_folder(tmp_path, "t10k", 50))
    assert len(data.train_images) == 40 and len(data.val_images) == 10
    assert data.source.kind == "folder" and not data.source.synthetic
    assert "t10k (50)" in data.source.description


def test_train_and_test_splits_are_used_as_such(tmp_path):
    idx_folder(tmp_path, "train", 30, gz=False)
    idx_folder(tmp_path, "t10k", 20)
    data = load_folder(tmp_path)
    assert len(data.train_images) == 30 and len(data.val_images) == 20


def test_folder_without_mnist_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="holds no MNIST files"):
        load_path(tmp_path)


def test_images_without_labels(tmp_path):
    idx_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="not its matching labels"):
        load_folder(tmp_path)


def test_npz_round_trip_and_bad_npz(tmp_path):
    x = np.zeros((10, 28, 28), np.uint8)
    y = np.arange(10, dtype=np.uint8)
    np.savez(tmp_path / "good.npz", x_train=x, y_train=y, x_test=x[:4], y_test=y[:4])
    data = load_npz(tmp_path / "good.npz")
    assert len(data.train_images) == 10 and len(data.val_images) == 4
    np.savez(tmp_path / "keys.npz", images=x)
    with pytest.raises(DataError, match="missing keys x_train/y_train"):
        load_npz(tmp_path / "keys.npz")
    np.savez(tmp_path / "shape.npz", x_train=np.zeros((10, 32, 32), np.uint8), y_train=y)
    with pytest.raises(DataError, match=r"shape \(10, 32, 32\)"):
        load_npz(tmp_path / "shape.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_npz(tmp_path / "junk.npz")


def test_keras_cache_is_found_through_keras_home(tmp_path, monkeypatch):
    (tmp_path / "datasets").mkdir()
    x = np.full((20, 28, 28), 7, np.uint8)
    np.savez(tmp_path / "datasets" / "mnist.npz", x_train=x, y_train=np.arange(20) % 10,
             x_test=x[:5], y_test=np.arange(5))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    data = find_data(allow_download=False)
    assert data.source.kind == "keras-cache" and len(data.train_images) == 20


def test_offline_with_nothing_cached_uses_labelled_synthetic(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    calls = []
    data = find_data(cache_dir=tmp_path, downloader=lambda timeout: calls.append(timeout))
    assert calls, "the download was not attempted"
    assert data.source.synthetic and "SYNTHETIC" in data.source.description
    assert len(data.train_images) + len(data.val_images) == datasets.SYNTHETIC_COUNT


def test_download_attempt_is_bounded_by_its_timeout():
    """The real Keras download (no network here, or a slow one) never blocks past the limit."""
    started = time.monotonic()
    datasets._download_with_timeout(1.0)
    assert time.monotonic() - started < 3.0


def test_real_mnist_test_split_loads():
    if not SHARED_MNIST.is_dir():
        pytest.skip(f"{SHARED_MNIST} not present")
    data = load_path(SHARED_MNIST)
    assert (len(data.train_images), len(data.val_images)) == (8000, 2000)
    assert data.train_images.shape[1:] == (28, 28)


def test_whole_float_labels_are_read_as_they_are(tmp_path):
    np.savez(tmp_path / "m.npz", x_train=np.zeros((10, 28, 28), np.uint8),
             y_train=np.arange(10, dtype=np.float32))
    data = load_npz(tmp_path / "m.npz")
    assert sorted(np.concatenate([data.train_labels, data.val_labels])) == list(range(10))
