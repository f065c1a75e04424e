"""Reading MNIST's IDX files (plain or gzip), with errors that name the file and the problem."""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
IMAGE_SIDE = 28


class DataError(Exception):
    """Bad data: the message names the file (or folder) and says what is wrong and what to do."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def read_bytes(path: Path) -> bytes:
    """The file's bytes, un-gzipped when it is gzip (by content, not by name)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror or exc}); check its permissions") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(path, f"is a damaged gzip file ({exc}); download it again") from None


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
    images = parse_idx(read_bytes(images_path), images_path, IMAGES_MAGIC)
    labels = parse_idx(read_bytes(labels_path), labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(labels_path, f"holds {len(labels)} labels but {images_path.name} holds "
                                     f"{len(images)} images; the counts must agree")
    if labels.size and labels.max() > 9:
        raise DataError(labels_path, f"has label {int(labels.max())}; MNIST labels are 0-9")
    return images, labels
