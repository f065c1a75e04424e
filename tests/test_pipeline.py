from pathlib import Path

import numpy as np
import pytest

from conftest import busy
from pipeviz.core.config import AUTOTUNE, ConfigError, PipelineConfig, preset


def test_config_validation_names_the_knob():
    with pytest.raises(ConfigError, match="batch_size=0"):
        PipelineConfig(batch_size=0)
    with pytest.raises(ConfigError, match="prefetch=-5"):
        PipelineConfig(prefetch=-5)
    assert PipelineConfig().replace(prefetch=0).changed_fields(PipelineConfig()) == ("prefetch",)


def test_presets():
    naive = preset("naive", PipelineConfig(storage_latency_ms=3))
    assert (naive.prefetch, naive.parallel_reads, naive.parallel_map, naive.cache) == (0, 1, 1, False)
    assert naive.storage_latency_ms == 3
    assert preset("prefetch").prefetch == AUTOTUNE
    assert preset("all").cache and preset("all").parallel_reads > 1
    assert naive.augment and naive.parallel_augment == 1, "naive augments inline"
    assert not preset("no-augment").augment
    assert preset("parallel-augment").parallel_augment == AUTOTUNE
    assert preset("parallel-augment").replace(parallel_augment=1) == preset("naive")
    with pytest.raises(ConfigError, match="unknown config"):
        preset("turbo")


def test_tf_default_buffering_is_switched_off(small_shards):
    """With prefetch off, tf.data must not inject a prefetch or parallelize maps itself:
    no batch enters the (absent) buffer before the consumer asks for it. With prefetch on,
    batches are produced ahead while the consumer is busy."""
    import time
    from pipeviz.core.pipeline import TrainPipeline

    pipeline = TrainPipeline(small_shards)
    dataset, enqueued = pipeline.dataset(preset("naive"), epoch=0)
    options = dataset.options()
    assert options.experimental_optimization.apply_default_optimizations is False
    assert options.experimental_optimization.inject_prefetch is False
    assert options.experimental_optimization.map_parallelization is False
    assert options.autotune.enabled is False
    iterator = iter(dataset)
    for taken in range(1, 4):
        next(iterator)
        busy(0.1)  # a busy consumer: a hidden prefetch would fill up meanwhile
        assert int(enqueued.numpy()) == taken

    dataset, enqueued = pipeline.dataset(preset("naive").replace(prefetch=3), epoch=0)
    iterator = iter(dataset)
    next(iterator)
    deadline = time.monotonic() + 5
    while int(enqueued.numpy()) < 4 and time.monotonic() < deadline:
        busy(0.01)
    assert int(enqueued.numpy()) == 4, "prefetch(3) should hold 3 batches ahead of the consumer"


def test_remaining_filter_yields_exactly_the_untrained(small_shards):
    from pipeviz.core.pipeline import TrainPipeline

    remaining = np.zeros(small_shards.train_count, bool)
    remaining[::7] = True
    dataset, enqueued = TrainPipeline(small_shards).dataset(
        PipelineConfig(batch_size=16), epoch=1, remaining=remaining, rebuild=3)
    ids = np.concatenate([b["id"].numpy() for b in dataset])
    assert sorted(ids) == list(np.flatnonzero(remaining))
    assert int(enqueued.numpy()) == -(-remaining.sum() // 16)


def test_stamps_follow_the_stages_in_order(small_shards):
    from pipeviz.core.pipeline import TrainPipeline

    for config in (PipelineConfig(storage_latency_ms=2), preset("naive", PipelineConfig(storage_latency_ms=2))):
        _check_stamps(TrainPipeline(small_shards).dataset(config, epoch=0)[0], config.parallel_reads == 1)


def _check_stamps(dataset, one_read_per_batch: bool) -> None:
    for batch in dataset.take(5):
        assert (batch["t_started"] <= batch["t_loaded"] <= batch["t_normalized"]
                <= batch["t_augmented"] <= batch["t_enqueued"])
        if one_read_per_batch:  # reading one file, each batch pays the latency once
            assert batch["t_loaded"] - batch["t_started"] >= 0.0019
        images = batch["image"].numpy()
        assert images.min() >= 0 and images.max() <= 1 and images.shape[1:] == (28, 28, 1)


def test_augment_stage_stamps_and_varies_the_images(small_shards, small_data):
    """Augment on: its stamp comes after normalize and takes time; the MNIST examples keep
    their ids and labels (a few printed-style digits follow them, labels but no ids), and
    the images differ from the plain pipeline's. Augment off: the very same images as
    decoding the records, t_augmented = t_normalized."""
    from pipeviz.core.pipeline import TrainPipeline

    pipeline = TrainPipeline(small_shards)
    on = preset("naive").replace(batch_size=20)
    off = on.replace(augment=False)
    plain = next(iter(pipeline.dataset(off, epoch=0)[0]))
    varied = next(iter(pipeline.dataset(on, epoch=0)[0]))
    assert np.array_equal(plain["id"], varied["id"]) and plain["id"].shape == (20,)
    assert plain["t_augmented"] == plain["t_normalized"]
    assert varied["t_normalized"] < varied["t_augmented"] <= varied["t_enqueued"]
    labels = varied["label"].numpy()
    assert len(labels) == 25 and np.array_equal(labels[:20], plain["label"].numpy())
    assert set(labels[20:]) <= set(range(10))
    images = varied["image"].numpy()
    assert images.shape == (25, 28, 28, 1) and images.min() >= 0 and images.max() <= 1
    assert np.abs(images[:20] - plain["image"].numpy()).mean() > 0.02, "augmented"
    for i, image in zip(plain["id"].numpy(), plain["image"].numpy()):
        assert np.allclose(image[:, :, 0], small_data.train_images[i] / 255.0), "augment off: as decoded"


def test_augment_is_reproducible_and_parallelism_does_not_change_it(small_shards):
    from pipeviz.core.pipeline import TrainPipeline

    pipeline = TrainPipeline(small_shards)
    serial = [b["image"].numpy() for b in pipeline.dataset(preset("naive"), epoch=0)[0].take(3)]
    parallel = [b["image"].numpy() for b in
                pipeline.dataset(preset("parallel-augment"), epoch=0)[0].take(3)]
    assert all(np.array_equal(a, b) for a, b in zip(serial, parallel))


def test_per_epoch_shuffle_differs(small_shards):
    from pipeviz.core.pipeline import TrainPipeline

    pipeline = TrainPipeline(small_shards)
    first = [b["id"].numpy() for b in pipeline.dataset(preset("naive"), epoch=0)[0].take(3)]
    again = [b["id"].numpy() for b in pipeline.dataset(preset("naive"), epoch=0)[0].take(3)]
    other = [b["id"].numpy() for b in pipeline.dataset(preset("naive"), epoch=1)[0].take(3)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again)), "same epoch, same order"
    assert not np.array_equal(first[0], other[0]), "each epoch is reshuffled"


def test_cache_serves_later_epochs_from_memory(small_shards, tmp_path):
    """Once a pass has filled the cache, a later epoch reads nothing from storage: with the
    shard files moved away it still yields every example (a timing check flaked on a
    stalling VM; this checks the behaviour itself)."""
    import shutil
    from pipeviz.core.pipeline import TrainPipeline

    pipeline = TrainPipeline(small_shards)
    config = preset("cache", PipelineConfig(storage_latency_ms=1, batch_size=100))
    dataset, _ = pipeline.dataset(config, epoch=0)
    first = np.concatenate([b["id"].numpy() for b in dataset])
    pipeline.mark_pass_complete(config)
    assert pipeline.cache_complete
    moved = tmp_path / "moved"
    moved.mkdir()
    for path in small_shards.train_files:
        shutil.move(path, moved)
    try:
        dataset, _ = pipeline.dataset(config, epoch=1)
        second = np.concatenate([b["id"].numpy() for b in dataset])
    finally:
        for path in small_shards.train_files:
            shutil.move(str(moved / Path(path).name), path)
    assert sorted(first) == sorted(second) == list(range(small_shards.train_count))
    assert not np.array_equal(first, second), "the cached epoch is still reshuffled"
    uncached = TrainPipeline(small_shards)
    for path in small_shards.train_files[:1]:
        shutil.move(path, moved)
    try:
        import tensorflow as tf
        with pytest.raises(tf.errors.NotFoundError):
            for _ in uncached.dataset(preset("naive"), epoch=1)[0]:
                pass
    finally:
        shutil.move(str(moved / Path(small_shards.train_files[0]).name), small_shards.train_files[0])


def test_cache_completeness_belongs_to_the_knobs_that_filled_it(small_shards):
    from pipeviz.core.pipeline import TrainPipeline

    pipeline = TrainPipeline(small_shards)
    config = preset("cache", PipelineConfig(batch_size=100))
    dataset, _ = pipeline.dataset(config, epoch=0)
    for _ in dataset:
        pass
    pipeline.mark_pass_complete(config)
    assert pipeline.uses_cache(config, resuming=True)
    changed = config.replace(parallel_reads=2)  # upstream of the cache: a new, empty one
    assert not pipeline.uses_cache(changed, resuming=True)
    assert pipeline.uses_cache(changed, resuming=False)
    assert pipeline.uses_cache(config.replace(prefetch=2), resuming=True), "downstream knob"
