"""The on-disk form of the data: TFRecord shards in a cache folder keyed by content.

Each record is 792 raw bytes: example id (int32 little-endian), label (int32), then the 784
pixels. Fixed-size raw records decode with one vectorized `decode_raw` per batch, far cheaper
than `tf.train.Example` parsing, and TFRecord's per-record CRC catches damaged files. The
folder is written under a temporary name and renamed into place, so a crash never leaves
half a cache behind; the temporary name records the writing process, and a later run removes
those of processes that are gone (kill -9). The manifest records each shard's size and
SHA-256: sizes are checked on every use, the checksums on the first use in a process (about
0.1 s for MNIST), and a mismatch or a malformed manifest rebuilds the cache with a one-line
notice.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .datasets import MnistData
from .safeio import remove_stale, temp_name

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
"""2: the manifest holds a SHA-256 per shard (version-1 caches are rebuilt once)."""
PIXELS = 28 * 28
HEADER_BYTES = 8
RECORD_BYTES = HEADER_BYTES + PIXELS
MANIFEST = "manifest.json"
ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]


class Cancelled(Exception):
    """Shard writing was cancelled (the app is closing); nothing was left behind."""


def default_cache_root() -> Path:
    """`$PIPEVIZ_CACHE_DIR`, else `$XDG_CACHE_HOME/pipeviz`, else `~/.cache/pipeviz`."""
    if os.environ.get("PIPEVIZ_CACHE_DIR"):
        return Path(os.environ["PIPEVIZ_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "pipeviz"


@dataclass(frozen=True)
class ShardSet:
    """The shard files of one dataset, ready for the pipeline to read."""

    folder: Path
    train_files: tuple[str, ...]
    val_files: tuple[str, ...]
    train_count: int
    val_count: int
    source_description: str


def encode_records(images: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(N, 792) uint8 rows: id and label as little-endian int32, then the pixels."""
    header = np.stack([ids.astype("<i4"), labels.astype("<i4")], axis=1).view(np.uint8)
    return np.concatenate([header, images.reshape(len(images), PIXELS)], axis=1)


def _write_split(folder: Path, split: str, images: np.ndarray, labels: np.ndarray,
                 num_shards: int, seed: int, progress: ProgressFn, done: int, total: int,
                 cancelled: CancelledFn) -> tuple[list[str], int]:
    import tensorflow as tf

    order = np.random.default_rng(seed).permutation(len(images))  # shuffle once, at write
    rows = encode_records(images[order], labels[order], order.astype(np.int32))
    names = []
    for shard, chunk in enumerate(np.array_split(rows, num_shards)):
        if cancelled():
            raise Cancelled(f"writing the shards in {folder} was cancelled")
        name = f"{split}-{shard:05d}-of-{num_shards:05d}.tfrecord"
        with tf.io.TFRecordWriter(str(folder / name)) as writer:
            for row in chunk:
                writer.write(row.tobytes())
        names.append(name)
        done += len(chunk)
        progress(done, total)
    return names, done


_verified: set[tuple[str, int]] = set()
"""(folder, manifest mtime) whose checksums this process has checked."""
_verified_lock = threading.Lock()


class BadCache(ValueError):
    """The cache folder does not hold what its manifest says (the message says what)."""


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _shard_names(manifest: dict, key: str) -> list[str]:
    names = manifest.get(key)
    if not isinstance(names, list) or not names or not all(
            isinstance(n, str) and n and os.path.basename(n) == n and not n.startswith(".")
            for n in names):
        raise BadCache(f"its manifest's {key} is not a list of shard file names")
    return names


def check_manifest(manifest: object, data: MnistData | None = None) -> dict:
    """The manifest if it has the shape this version writes (and, given `data`, the counts
    of that data); BadCache saying what is wrong otherwise."""
    if not isinstance(manifest, dict):
        raise BadCache(f"its manifest is {type(manifest).__name__}, not an object")
    if manifest.get("format") != FORMAT_VERSION:
        raise BadCache(f"its manifest has format {manifest.get('format')!r}, this version "
                       f"writes {FORMAT_VERSION}")
    names = _shard_names(manifest, "train_files") + _shard_names(manifest, "val_files")
    for key in ("sizes", "sha256"):
        table = manifest.get(key)
        if not isinstance(table, dict) or set(table) != set(names):
            raise BadCache(f"its manifest's {key} does not list every shard")
    if not all(isinstance(v, int) and v > 0 for v in manifest["sizes"].values()):
        raise BadCache("its manifest's sizes are not byte counts")
    for key in ("train_count", "val_count"):
        if not isinstance(manifest.get(key), int) or manifest[key] < 1:
            raise BadCache(f"its manifest's {key} is {manifest.get(key)!r}")
    if data is not None and (manifest["train_count"], manifest["val_count"]) != (
            len(data.train_images), len(data.val_images)):
        raise BadCache(f"its manifest counts {manifest['train_count']}+{manifest['val_count']} "
                       f"examples, the data has {len(data.train_images)}+{len(data.val_images)}")
    if not isinstance(manifest.get("source"), str):
        raise BadCache("its manifest does not say where the data came from")
    return manifest


def _check_files(folder: Path, manifest: dict) -> None:
    """Sizes always; checksums once per process (and again if the manifest is rewritten)."""
    for name, size in manifest["sizes"].items():
        actual = (folder / name).stat().st_size
        if actual != size:
            raise BadCache(f"shard {name} is {actual} bytes, expected {size}")
    key = (str(folder), (folder / MANIFEST).stat().st_mtime_ns)
    with _verified_lock:
        if key in _verified:
            return
    for name, expected in manifest["sha256"].items():
        if file_digest(folder / name) != expected:
            raise BadCache(f"shard {name} does not match its checksum (its content changed)")
    with _verified_lock:
        _verified.add(key)


def _manifest_ok(folder: Path, data: MnistData | None = None) -> dict | None:
    """The manifest if every shard it lists is present with its recorded size and content,
    else None (after a one-line notice, when there was a cache to rebuild)."""
    if not (folder / MANIFEST).exists():
        if folder.exists():
            log.warning("shard cache %s has no manifest: rebuilding it", folder)
        return None
    try:
        manifest = check_manifest(json.loads((folder / MANIFEST).read_text()), data)
        _check_files(folder, manifest)
        return manifest
    except FileNotFoundError as exc:
        log.warning("shard cache %s is missing %s: rebuilding it", folder, Path(exc.filename).name)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        log.warning("shard cache %s is damaged (%s): rebuilding it", folder,
                    getattr(exc, "strerror", None) or exc)
    return None


def invalidate(shards: ShardSet) -> None:
    """Forget a cache found damaged while reading it (a shard changed after it was checked):
    its manifest is removed, so the next preparation rebuilds it."""
    try:
        (shards.folder / MANIFEST).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not mark the shard cache %s for rebuilding: %s", shards.folder, exc)
    with _verified_lock:
        _verified.difference_update({key for key in _verified if key[0] == str(shards.folder)})


def _shard_set(folder: Path, manifest: dict) -> ShardSet:
    return ShardSet(folder=folder,
                    train_files=tuple(str(folder / n) for n in manifest["train_files"]),
                    val_files=tuple(str(folder / n) for n in manifest["val_files"]),
                    train_count=manifest["train_count"], val_count=manifest["val_count"],
                    source_description=manifest["source"])


def prepare_shards(data: MnistData, cache_root: Path | None = None, num_shards: int = 16,
                   progress: ProgressFn | None = None, seed: int = 0,
                   cancelled: CancelledFn | None = None) -> ShardSet:
    """Write `data` as TFRecord shards once; later calls with the same content reuse them.
    `cancelled` is asked before each shard: when it says True, the partly written folder is
    removed and `Cancelled` raised (a closing app must not wait for the whole cache)."""
    cache_root = Path(cache_root) if cache_root else default_cache_root()
    folder = cache_root / f"mnist-{data.fingerprint()}-v{FORMAT_VERSION}-{num_shards}shards"
    remove_stale(cache_root)
    manifest = _manifest_ok(folder, data)
    if manifest is not None:
        log.info("reusing shards in %s", folder)
        return _shard_set(folder, manifest)
    progress = progress or (lambda done, total: None)
    cancelled = cancelled or (lambda: False)
    tmp = cache_root / temp_name(folder.name)
    tmp.mkdir(parents=True)
    try:
        total = len(data.train_images) + len(data.val_images)
        val_shards = max(1, num_shards // 4)
        train_files, done = _write_split(tmp, "train", data.train_images, data.train_labels,
                                         num_shards, seed, progress, 0, total, cancelled)
        val_files, _ = _write_split(tmp, "val", data.val_images, data.val_labels,
                                    val_shards, seed + 1, progress, done, total, cancelled)
        manifest = {"format": FORMAT_VERSION, "source": data.source.description,
                    "train_files": train_files, "val_files": val_files,
                    "train_count": len(data.train_images), "val_count": len(data.val_images),
                    "sizes": {n: (tmp / n).stat().st_size for n in train_files + val_files},
                    "sha256": {n: file_digest(tmp / n) for n in train_files + val_files}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
        with _verified_lock:  # just written from the data in memory: no need to read it back
            _verified.add((str(folder), (folder / MANIFEST).stat().st_mtime_ns))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %d shards to %s", len(train_files) + len(val_files), folder)
    return _shard_set(folder, manifest)
