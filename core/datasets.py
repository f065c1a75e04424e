"""Finding MNIST where users keep it, in a fixed order, with a synthetic fallback.

Order (unless the user names a path): the Keras cache (`$KERAS_HOME/datasets/mnist.npz`,
default `~/.keras`), then `keras.datasets.mnist.load_data()` under a short timeout, then a
generated digit set that is always labelled synthetic. No step can hang on a network.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import limits, synthetic
from .idx import IMAGE_SIDE, DataError, load_idx_pair, open_data_file
from .safeio import is_special

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "t10k")
VALIDATION_FRACTION = 0.2
DOWNLOAD_TIMEOUT_S = 20.0
SYNTHETIC_COUNT = 10_000


@dataclass(frozen=True)
class DataSource:
    """Where the data came from, for the status line: kind is folder, npz, keras-cache,
    download or synthetic."""

    kind: str
    path: Path | None
    description: str

    @property
    def synthetic(self) -> bool:
        return self.kind == "synthetic"


@dataclass(frozen=True)
class MnistData:
    """Images (N, 28, 28) uint8 and labels (N,) uint8, split into train and validation."""

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    source: DataSource

    def fingerprint(self) -> str:
        """A content hash: the same pixels and labels give the same shard cache folder."""
        digest = hashlib.sha256()
        for array in (self.train_images, self.train_labels, self.val_images, self.val_labels):
            digest.update(str(array.shape).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]


def keras_cache_path() -> Path:
    """Where Keras keeps `mnist.npz`: `$KERAS_HOME/datasets`, default `~/.keras/datasets`."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "mnist.npz"


def split_train_validation(images: np.ndarray, labels: np.ndarray, seed: int = 0
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded 80/20 split, for sources that hold a single split (like the 10k test set)."""
    order = np.random.default_rng(seed).permutation(len(images))
    cut = int(round(len(images) * (1 - VALIDATION_FRACTION)))
    train, val = order[:cut], order[cut:]
    return images[train], labels[train], images[val], labels[val]


def _make(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray] | None,
          source: DataSource) -> MnistData:
    if val is None:
        x_train, y_train, x_val, y_val = split_train_validation(*train)
    else:
        (x_train, y_train), (x_val, y_val) = train, val
    where = source.path or source.description
    if len(x_train) == 0:
        raise DataError(where, "holds no training examples; give a file with MNIST images in it")
    if len(x_val) == 0:
        raise DataError(where, f"leaves no examples to validate on ({len(x_train)} in all); "
                               "give at least 2 examples (or a test split)")
    return MnistData(x_train, y_train, x_val, y_val, source)


def _idx_file(folder: Path, split: str, kind: str) -> Path | None:
    """The IDX file of a split in a folder, under the usual names, gzipped or not."""
    ndim = 3 if kind == "images" else 1
    for stem in (f"{split}-{kind}-idx{ndim}-ubyte", f"{split}-{kind}.idx{ndim}-ubyte"):
        for name in (stem, stem + ".gz"):
            special = is_special(folder / name)
            if special:
                raise DataError(folder / name, f"is {special}, not a regular file; "
                                               "give MNIST data files")
            if (folder / name).is_file():
                return folder / name
    return None


def load_folder(folder: Path) -> MnistData:
    """A folder of MNIST IDX files (train and/or t10k); one split alone is split 80/20."""
    pairs = {}
    for split in SPLIT_NAMES:
        images, labels = _idx_file(folder, split, "images"), _idx_file(folder, split, "labels")
        if images and labels:
            pairs[split] = load_idx_pair(images, labels)
        elif images or labels:
            found = (images or labels).name
            raise DataError(folder, f"has {found} but not its matching "
                                    f"{'labels' if images else 'images'} file")
    if not pairs:
        if (folder / "mnist.npz").is_file() or is_special(folder / "mnist.npz"):
            return load_npz(folder / "mnist.npz")
        raise DataError(folder, "holds no MNIST files: expected train-images-idx3-ubyte[.gz] "
                                "and train-labels-idx1-ubyte[.gz] (or t10k-*), or mnist.npz")
    splits = ", ".join(f"{name} ({len(pair[0]):,})" for name, pair in pairs.items())
    source = DataSource("folder", folder, f"MNIST IDX files in {folder}: {splits}")
    if len(pairs) == 2:
        return _make(pairs["train"], pairs["t10k"], source)
    return _make(next(iter(pairs.values())), None, source)


def _check_shapes(path: Path, images: np.ndarray, labels: np.ndarray, name: str) -> None:
    """Shapes and dtypes (no values are read: this also runs on an npz's headers alone)."""
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(path, f"x_{name} has shape {images.shape}; expected (N, 28, 28) pixels")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(path, f"y_{name} has shape {labels.shape} for {len(images)} images; "
                              "expected one label per image")
    if images.dtype != np.uint8:
        raise DataError(path, f"x_{name} has dtype {images.dtype}; expected uint8 pixels 0-255")
    if labels.dtype.kind not in "iuf":
        raise DataError(path, f"y_{name} has dtype {labels.dtype}; expected whole-number labels 0-9")


def _check_arrays(path: Path, images: np.ndarray, labels: np.ndarray, name: str) -> None:
    _check_shapes(path, images, labels, name)
    _check_labels(path, labels, name)


def _check_labels(path: Path, labels: np.ndarray, name: str) -> None:
    """Whole numbers 0-9. Float labels are taken only when every one is a whole number
    (3.0): 2.5 or NaN would be truncated to a different class, so they are refused."""
    if labels.dtype.kind == "f" and labels.size:
        bad = labels[~np.isfinite(labels) | (labels != np.round(labels))]
        if bad.size:
            raise DataError(path, f"y_{name} holds {bad.size} labels that are not whole numbers "
                                  f"(e.g. {bad[0]!r}); expected labels 0-9")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(path, f"y_{name} has labels outside 0-9")


NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _npz_header(path: Path, archive: zipfile.ZipFile, key: str) -> np.ndarray:
    """A stand-in with the shape and dtype of one array of the archive (no memory), after
    checking that it is a plain array of a size this machine can hold and that the archive's
    entry is as long as its header says."""
    info = archive.getinfo(key + ".npy")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        header_len = member.tell()
    if dtype.hasobject:
        raise DataError(path, f"{key} holds Python objects; only plain numeric arrays are read")
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes > limits.memory_budget():
        raise DataError(path, f"{key} has shape {shape} ({nbytes / 2**30:.1f} GiB), more than "
                              "this machine can hold; the file is damaged or not MNIST")
    if info.file_size != header_len + nbytes:
        raise DataError(path, f"{key} is {info.file_size} bytes but its header promises "
                              f"{header_len + nbytes}; the file is damaged")
    return np.broadcast_to(np.zeros((), dtype), shape)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays pipeviz uses (NPZ_KEYS) of a regular .npz file (others are not read), read
    only once every header agrees with MNIST's shapes: a small file that would expand to
    gigabytes of the wrong thing is refused before it is expanded."""
    with open_data_file(path) as raw:
        with zipfile.ZipFile(raw) as archive:
            names = {n[:-4] for n in archive.namelist() if n.endswith(".npy")}
            headers = {key: _npz_header(path, archive, key) for key in NPZ_KEYS if key in names}
            if not {"x_train", "y_train"} <= headers.keys():
                raise DataError(path, "is missing keys x_train/y_train (has: "
                                      f"{', '.join(sorted(names)) or 'none'}); expected a Keras mnist.npz")
            for split in ("train", "test"):
                if {f"x_{split}", f"y_{split}"} <= headers.keys():
                    _check_shapes(path, headers[f"x_{split}"], headers[f"y_{split}"], split)
            arrays = {}
            for key in headers:
                with archive.open(key + ".npy") as member:
                    arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
            return arrays


def load_npz(path: Path, kind: str = "npz") -> MnistData:
    """A Keras-style `mnist.npz` (x_train, y_train and optionally x_test, y_test)."""
    try:
        arrays = _read_npz(path)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error) as exc:
        raise DataError(path, f"is not a readable .npz file ({exc})") from None
    _check_arrays(path, arrays["x_train"], arrays["y_train"], "train")
    train = arrays["x_train"], arrays["y_train"].astype(np.uint8, copy=False)
    val = None
    if {"x_test", "y_test"} <= arrays.keys():
        _check_arrays(path, arrays["x_test"], arrays["y_test"], "test")
        val = arrays["x_test"], arrays["y_test"].astype(np.uint8, copy=False)
    description = f"MNIST {path} ({len(train[0]):,} train" + (f", {len(val[0]):,} test)" if val else ")")
    return _make(train, val, DataSource(kind, path, description))


def load_path(path: Path | str) -> MnistData:
    """The data a user named: a folder of IDX files or an `.npz` file."""
    path = Path(path).expanduser()
    try:
        if path.is_dir():
            return load_folder(path)
        if not path.exists():
            raise DataError(path, "does not exist; give a folder of MNIST IDX files or a mnist.npz")
    except OSError as exc:  # a name too long, a folder that cannot be listed, ...
        raise DataError(path, f"cannot be read ({exc.strerror or exc})") from None
    special = is_special(path)
    if special:
        raise DataError(path, f"is {special}, not a regular file; give a folder of MNIST "
                              "IDX files or a mnist.npz")
    if path.suffix == ".npz":
        return load_npz(path)
    raise DataError(path, "is neither a folder of MNIST IDX files nor a .npz file")


def _download_with_timeout(timeout_s: float) -> tuple | None:
    """`keras.datasets.mnist.load_data()` in a daemon thread; None if it fails or runs late."""
    result: list = []

    def fetch() -> None:
        try:
            import keras
            result.append(keras.datasets.mnist.load_data())
        except Exception as exc:  # any network or file problem means: not available
            log.info("MNIST download failed: %s", exc)

    worker = threading.Thread(target=fetch, name="pipeviz-mnist-download", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        log.warning("MNIST download did not finish within %.0f s; not waiting for it", timeout_s)
        return None
    return result[0] if result else None


def synthetic_data(count: int = SYNTHETIC_COUNT, seed: int = 0,
                   cache_dir: Path | None = None) -> MnistData:
    """The generated digit set (cached as an npz, since generating takes a few seconds)."""
    cached = cache_dir / f"synthetic-v1-{count}-{seed}.npz" if cache_dir else None
    if cached and cached.is_file():
        with np.load(cached) as npz:
            images, labels = npz["images"], npz["labels"]
    else:
        images, labels = synthetic.generate(count, seed)
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".tmp{os.getpid()}.npz")
            np.savez(tmp, images=images, labels=labels)
            os.replace(tmp, cached)
    description = f"SYNTHETIC generated digits ({count:,}): no MNIST found offline"
    return _make((images, labels), None, DataSource("synthetic", None, description))


def offline_requested() -> bool:
    return os.environ.get("PIPEVIZ_OFFLINE", "") not in ("", "0")


def find_data(path: Path | str | None = None, *, allow_download: bool = True,
              download_timeout_s: float = DOWNLOAD_TIMEOUT_S, cache_dir: Path | None = None,
              downloader: Callable[[float], tuple | None] = _download_with_timeout) -> MnistData:
    """The data to train on, from the first source that has it (see the module docstring).

    A named path that is bad raises DataError (the user asked for it); a bad Keras cache
    file is logged and skipped, so the app still starts.
    """
    if path is not None:
        return load_path(path)
    cache_file = keras_cache_path()
    if cache_file.is_file():
        try:
            return load_npz(cache_file, kind="keras-cache")
        except DataError as exc:
            log.warning("ignoring the Keras MNIST cache: %s", exc)
    if allow_download and not offline_requested():
        downloaded = downloader(download_timeout_s)
        if downloaded is not None:
            (x_train, y_train), (x_test, y_test) = downloaded
            source = DataSource("download", cache_file, f"MNIST downloaded by Keras to {cache_file}")
            return _make((x_train, y_train), (x_test, y_test), source)
    return synthetic_data(cache_dir=cache_dir)
