import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import write_idx
from pipeviz.core.idx import IMAGES_MAGIC, LABELS_MAGIC, DataError, load_idx_pair, parse_idx, read_bytes


def make_pair(tmp_path, n=5, gz=False, images_n=None, labels=None):
    images = np.arange(images_n or n, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10 if labels is None else labels
    suffix = ".gz" if gz else ""
    return (write_idx(tmp_path / f"i{suffix}", images, IMAGES_MAGIC, gz),
            write_idx(tmp_path / f"l{suffix}", labels, LABELS_MAGIC, gz))


@pytest.mark.parametrize("gz", [False, True])
def test_reads_images_and_labels(tmp_path, gz):
    images, labels = load_idx_pair(*make_pair(tmp_path, 7, gz))
    assert images.shape == (7, 28, 28) and images.dtype == np.uint8
    assert images[3, 10, 10] == 3
    assert list(labels) == [0, 1, 2, 3, 4, 5, 6]


def test_wrong_magic_names_file_and_problem(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((2, 28, 28)), LABELS_MAGIC)
    with pytest.raises(DataError, match="wrong magic number 0x00000801") as info:
        parse_idx(read_bytes(path), path, IMAGES_MAGIC)
    assert info.value.path == path


def test_truncated_file(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((3, 28, 28)), IMAGES_MAGIC)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated: header promises 3 images"):
        parse_idx(read_bytes(path), path, IMAGES_MAGIC)


def test_counts_that_disagree(tmp_path):
    with pytest.raises(DataError, match="5 labels but i holds 4 images"):
        load_idx_pair(*make_pair(tmp_path, 5, images_n=4))


def test_images_not_28x28(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((2, 32, 32)), IMAGES_MAGIC)
    with pytest.raises(DataError, match="32x32 pixels; MNIST images are 28x28"):
        parse_idx(read_bytes(path), path, IMAGES_MAGIC)


def test_label_out_of_range(tmp_path):
    with pytest.raises(DataError, match="label 12"):
        load_idx_pair(*make_pair(tmp_path, 3, labels=np.array([1, 12, 3], np.uint8)))


def test_damaged_gzip_and_missing_file(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(bytes(range(256)) * 40)[:200])
    with pytest.raises(DataError, match="damaged gzip"):
        read_bytes(path)
    with pytest.raises(DataError, match="file not found"):
        read_bytes(tmp_path / "nope")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([IMAGES_MAGIC, LABELS_MAGIC]))
def test_fuzz_parser_only_raises_data_error(tmp_path_factory, junk, magic):
    """Random bytes, alone or behind a valid magic, either parse or raise DataError."""
    path = tmp_path_factory.getbasetemp() / "fuzz"
    for data in (junk, struct.pack(">I", magic) + junk):
        try:
            parse_idx(data, path, magic)
        except DataError:
            pass
