"""The on-disk form of the data: TFRecord shards in a cache folder keyed by content.

Each record is 792 raw bytes: example id (int32 little-endian), label (int32), then the 784
pixels. Fixed-size raw records decode with one vectorized `decode_raw` per batch, far cheaper
than `tf.train.Example` parsing, and TFRecord's per-record CRC catches damaged files. The
folder is written under a temporary name and renamed into place, so a crash never leaves
half a cache behind; a manifest with file sizes lets a later run detect a damaged cache
and rebuild it.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .datasets import MnistData

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
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


def _manifest_ok(folder: Path) -> dict | None:
    """The manifest if every shard it lists is present with its recorded size, else None."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        for name, size in manifest["sizes"].items():
            actual = (folder / name).stat().st_size
            if actual != size:
                log.warning("shard %s is %d bytes, expected %d: rebuilding the cache",
                            folder / name, actual, size)
                return None
        return manifest
    except FileNotFoundError as exc:
        if (folder / MANIFEST).exists():
            log.warning("shard cache %s is missing %s: rebuilding it", folder, exc.filename)
        return None
    except (OSError, ValueError, KeyError) as exc:
        log.warning("shard cache %s is unreadable (%s): rebuilding it", folder, exc)
        return None


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
    manifest = _manifest_ok(folder)
    if manifest is not None:
        log.info("reusing shards in %s", folder)
        return _shard_set(folder, manifest)
    progress = progress or (lambda done, total: None)
    cancelled = cancelled or (lambda: False)
    tmp = cache_root / f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}"
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
                    "sizes": {n: (tmp / n).stat().st_size for n in train_files + val_files}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %d shards to %s", len(train_files) + len(val_files), folder)
    return _shard_set(folder, manifest)
