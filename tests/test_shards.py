import numpy as np

import pytest

from pipeviz.core.shards import Cancelled, _manifest_ok, prepare_shards


def test_shards_are_reused_and_damage_is_rebuilt(small_data, tmp_path):
    reports = []
    shards = prepare_shards(small_data, tmp_path, num_shards=4,
                            progress=lambda done, total: reports.append((done, total)))
    assert shards.train_count == 1200 and shards.val_count == 300
    assert reports[-1] == (1500, 1500) and len(reports) == 4 + 1
    assert not list(tmp_path.glob(".*tmp*")), "temporary folder left behind"
    first = {f: (tmp_path / f).stat().st_mtime_ns for f in shards.train_files}

    again = prepare_shards(small_data, tmp_path, num_shards=4, progress=reports.append)
    assert again == shards and len(reports) == 5, "a valid cache must be reused, not rewritten"
    assert first == {f: (tmp_path / f).stat().st_mtime_ns for f in again.train_files}

    victim = shards.folder / "train-00002-of-00004.tfrecord"
    victim.write_bytes(victim.read_bytes()[:-10])  # truncated behind the app's back
    size_before = victim.stat().st_size
    rebuilt = prepare_shards(small_data, tmp_path, num_shards=4)
    assert victim.stat().st_size == size_before + 10, "the truncated shard was not rebuilt"
    assert _manifest_ok(rebuilt.folder) is not None

    (shards.folder / "val-00000-of-00001.tfrecord").unlink()  # deleted behind its back
    assert _manifest_ok(shards.folder) is None
    prepare_shards(small_data, tmp_path, num_shards=4)
    assert (shards.folder / "val-00000-of-00001.tfrecord").is_file()


def test_records_round_trip_and_normalize(small_data, small_shards):
    import tensorflow as tf
    from pipeviz.core.pipeline import decode_normalize

    records = tf.data.TFRecordDataset(list(small_shards.train_files)).batch(2000)
    batch = decode_normalize(next(iter(records)))
    ids = batch["id"].numpy()
    assert sorted(ids.tolist()) == list(range(1200)), "every train example once, by id"
    images = batch["image"].numpy()[..., 0]
    assert np.allclose(images, small_data.train_images[ids] / 255.0)
    assert np.array_equal(batch["label"].numpy(), small_data.train_labels[ids])
    pixel = tf.constant([bytes(8) + bytes([150]) * 784])
    assert round(float(decode_normalize(pixel)["image"][0, 0, 0, 0]), 2) == 0.59  # the seed's example


def test_cancelled_writing_stops_at_the_next_shard_and_leaves_nothing(small_data, tmp_path):
    reports = []
    with pytest.raises(Cancelled):
        prepare_shards(small_data, tmp_path, num_shards=4,
                       progress=lambda done, total: reports.append(done),
                       cancelled=lambda: len(reports) >= 2)
    assert len(reports) == 2, "no shard is written after the cancel"
    assert not list(tmp_path.iterdir()), "a cancelled write leaves no folder behind"
    shards = prepare_shards(small_data, tmp_path, num_shards=4)  # a later run writes them all
    assert _manifest_ok(shards.folder) is not None
