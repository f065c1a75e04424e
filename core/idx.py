"""Reading MNIST's IDX files (plain or gzip), with errors that name the file and the problem.

Streaming and bounded: the header is read first, and then at most the bytes it promises (plus
one, to notice extra bytes), so a small gzip that expands to gigabytes is rejected after
reading what an MNIST file of its header's size holds, never read whole; a header that
promises more than this machine can hold is rejected before any pixel is read.
"""
from __future__ import annotations

import contextlib
import gzip
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from . import limits
from .safeio import NotRegularFile, open_regular

IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
IMAGE_SIDE = 28


class DataError(Exception):
    """Bad data: the message names the file (or folder) and says what is wrong and what to do."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def open_data_file(path: Path) -> BinaryIO:
    """A regular file opened for reading; DataError for a missing, unreadable or special one."""
    try:
        return open_regular(path)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except NotRegularFile as exc:
        raise DataError(path, f"{exc.strerror}; give an MNIST data file") from None
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror or exc}); check its permissions") from None


def _read(stream: BinaryIO, path: Path, size: int, gzipped: bool) -> bytes:
    """Up to `size` bytes (fewer at the end of the data)."""
    try:
        return stream.read(size)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(path, f"is a damaged gzip file ({exc}); download it again") from None
    except OSError as exc:
        if gzipped:
            raise DataError(path, f"is a damaged gzip file ({exc}); download it again") from None
        raise DataError(path, f"cannot be read ({exc.strerror or exc})") from None


@contextlib.contextmanager
def _stream(path: Path) -> Iterator[tuple[BinaryIO, bool]]:
    """The file's content as a stream, un-gzipped when it is gzip (by content, not by name)."""
    with open_data_file(path) as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic != b"\x1f\x8b":
            yield raw, False
        else:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield unzipped, True


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes, un-gzipped when it is gzip; at most `limit` of them (all if None)."""
    with _stream(path) as (stream, gzipped):
        return _read(stream, path, -1 if limit is None else limit, gzipped)


def read_idx(path: Path, expect_magic: int) -> np.ndarray:
    """An IDX file parsed as `parse_idx` does, reading at most what its header promises."""
    header_len = 4 + 4 * (expect_magic & 0xFF)
    with _stream(path) as (stream, gzipped):
        head = _read(stream, path, header_len, gzipped)
        if len(head) < header_len:
            return parse_idx(head, path, expect_magic)  # raises: too short, wrong magic
        check_header(head, path, expect_magic)
        promised = int(np.prod(struct.unpack(f">{expect_magic & 0xFF}I", head[4:]), dtype=np.int64))
        body = _read(stream, path, promised, gzipped)
        if len(body) == promised and _read(stream, path, 1, gzipped):
            kind = "images" if expect_magic == IMAGES_MAGIC else "labels"
            raise DataError(path, f"holds more bytes than its header promises "
                                  f"({struct.unpack('>I', head[4:8])[0]} {kind}); "
                                  "it is damaged or not an MNIST file")
    return parse_idx(head + body, path, expect_magic)


def check_header(head: bytes, path: Path, expect_magic: int) -> None:
    """Magic, image size and a size this machine can hold, from the header alone."""
    kind = "images" if expect_magic == IMAGES_MAGIC else "labels"
    ndim = expect_magic & 0xFF
    (magic,) = struct.unpack(">I", head[:4])
    if magic != expect_magic:
        raise DataError(path, f"wrong magic number 0x{magic:08x}: expected 0x{expect_magic:08x} "
                              f"for an MNIST {kind} file")
    dims = struct.unpack(f">{ndim}I", head[4:4 + 4 * ndim])
    if kind == "images" and tuple(dims[1:]) != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(path, f"images are {dims[1]}x{dims[2]} pixels; MNIST images are 28x28")
    size = int(np.prod(dims, dtype=np.int64))
    if size > limits.memory_budget():
        raise DataError(path, f"header promises {dims[0]:,} {kind} ({size / 2**30:.1f} GiB), more "
                              "than this machine can hold; the file is damaged or not MNIST")


def parse_idx(data: bytes, path: Path, expect_magic: int) -> np.ndarray:
    """Parse IDX bytes into a uint8 array, checking magic, header and exact length."""
    kind = "images" if expect_magic == IMAGES_MAGIC else "labels"
    ndim = expect_magic & 0xFF
    header_len = 4 + 4 * ndim
    if len(data) < 4:
        raise DataError(path, f"is too short to be an IDX {kind} file ({len(data)} bytes)")
    (magic,) = struct.unpack(">I", data[:4])
    if magic != expect_magic:
        raise DataError(path, f"wrong magic number 0x{magic:08x}: expected 0x{expect_magic:08x} "
                              f"for an MNIST {kind} file")
    if len(data) < header_len:
        raise DataError(path, f"truncated header: {len(data)} bytes, need {header_len}")
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    expected = header_len + int(np.prod(dims, dtype=np.int64))
    if len(data) < expected:
        raise DataError(path, f"truncated: header promises {dims[0]} {kind} ({expected} bytes) "
                              f"but the file has {len(data)} bytes")
    if len(data) > expected:
        raise DataError(path, f"has {len(data) - expected} unexpected bytes after {dims[0]} {kind}")
    if kind == "images" and tuple(dims[1:]) != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(path, f"images are {dims[1]}x{dims[2]} pixels; MNIST images are 28x28")
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims)


def load_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 from a matching pair of IDX files."""
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(labels_path, f"holds {len(labels)} labels but {images_path.name} holds "
                                     f"{len(images)} images; the counts must agree")
    if labels.size and labels.max() > 9:
        raise DataError(labels_path, f"has label {int(labels.max())}; MNIST labels are 0-9")
    return images, labels
