"""The tf.data input pipeline: read shards in parallel, shuffle, batch, normalize, prefetch.

    shard files --interleave(parallel reads, simulated storage latency)--> records
      [--cache-->] [--filter(not yet trained this epoch)-->] --shuffle(per-epoch seed)-->
      --batch (stamp t_started when asked, t_loaded when built)--> --map(decode + normalize, parallel)--> stamp t_normalized
      [--map(augment, parallel; see core/augment.py)--> stamp t_augmented]
      --> stamp t_enqueued --[prefetch(N)]--> the train step

Honest switches: tf.data's default static optimizations inject a prefetch, parallelize maps
and autotune buffers, so a pipeline with prefetch "off" would still overlap loading with
training and hide the stall. Every dataset built here turns those off and enables only what
its `PipelineConfig` asks for (autotune only when a knob is AUTOTUNE).

Timestamps are `tf.timestamp()` ops inside the pipeline's own functions: they cost no
Python and hold no GIL, and they travel with each batch to the train step.
"""
from __future__ import annotations

import threading

import numpy as np
import tensorflow as tf

from .augment import augment_traced
from .config import AUTOTUNE, LATENCY_PER_FILE, PipelineConfig
from .shards import HEADER_BYTES, PIXELS, ShardSet

DATA_THREADS = 8
"""tf.data's private thread pool. Most of its threads sleep in simulated storage latency, so
this can exceed the core count without competing with the train step."""

STAMP_KEYS = ("t_started", "t_loaded", "t_normalized", "t_augmented", "t_enqueued")
"""Stage stamps each batch carries. With augment off, t_augmented = t_normalized."""


def _knob(value: int) -> int:
    return tf.data.AUTOTUNE if value == AUTOTUNE else value


def sleep_dataset(dataset: tf.data.Dataset, microseconds: int) -> tf.data.Dataset:
    """Sleep before producing each element, in tf.data's C++ thread (the GIL stays free).

    `tf.data.experimental.sleep` left the public API, so this wraps the `SleepDataset` op.
    """
    flat_specs = tf.nest.flatten(dataset.element_spec)
    variant = tf.raw_ops.SleepDataset(
        input_dataset=tf.data.experimental.to_variant(dataset),
        sleep_microseconds=tf.constant(microseconds, tf.int64),
        output_types=[spec.dtype for spec in flat_specs],
        output_shapes=[spec.shape for spec in flat_specs])
    return tf.data.experimental.from_variant(variant, dataset.element_spec)


def pipeline_options(config: PipelineConfig) -> tf.data.Options:
    """Options that make every feature do exactly what the config says, and no more."""
    options = tf.data.Options()
    optimization = options.experimental_optimization
    optimization.apply_default_optimizations = False
    optimization.inject_prefetch = False
    optimization.map_parallelization = False
    optimization.parallel_batch = False
    optimization.seq_interleave_prefetch = False
    optimization.filter_parallelization = False
    optimization.map_and_batch_fusion = False
    options.autotune.enabled = config.uses_autotune
    options.threading.private_threadpool_size = DATA_THREADS
    options.threading.max_intra_op_parallelism = 1
    options.deterministic = True
    return options


def record_ids(records: tf.Tensor) -> tf.Tensor:
    """Example ids (int32) from raw records (works for one record or a batch)."""
    return tf.io.decode_raw(tf.strings.substr(records, 0, 4), tf.int32)[..., 0]


def decode_normalize(records: tf.Tensor) -> dict[str, tf.Tensor]:
    """A batch of raw records -> images in [0, 1] (pixel 150 -> 150/255 = 0.59), labels, ids."""
    raw = tf.io.decode_raw(records, tf.uint8)
    header = tf.io.decode_raw(tf.strings.substr(records, 0, HEADER_BYTES), tf.int32)
    pixels = tf.reshape(raw[:, HEADER_BYTES:HEADER_BYTES + PIXELS], [-1, 28, 28, 1])
    return {"image": tf.cast(pixels, tf.float32) / 255.0,
            "label": header[:, 1], "id": header[:, 0]}


def normalized_pixel(value: int) -> float:
    """What the pipeline's own normalize step makes of a raw pixel value (150 -> 0.59)."""
    record = np.zeros(HEADER_BYTES // 4, np.int32).tobytes() + bytes([value]) * PIXELS
    return float(decode_normalize(tf.constant([record]))["image"][0, 0, 0, 0])


def _read_shards(files: list[str], config: PipelineConfig, keep: tf.Tensor | None) -> tf.data.Dataset:
    """Records from the shard files, `parallel_reads` files at once, paying the storage
    latency per read request (a block of batch_size records, or a whole file)."""
    latency_us = int(round(config.storage_latency_ms * 1000))
    per_file = config.latency_per == LATENCY_PER_FILE

    def read_file(path: tf.Tensor) -> tf.data.Dataset:
        if per_file and latency_us:
            records = sleep_dataset(tf.data.Dataset.from_tensors(path), latency_us)
            records = records.flat_map(tf.data.TFRecordDataset)
        else:
            records = tf.data.TFRecordDataset(path)
        if keep is not None:
            records = records.filter(lambda record: tf.gather(keep, record_ids(record)))
        if latency_us and not per_file:
            records = sleep_dataset(records.batch(config.batch_size), latency_us).unbatch()
        return records

    reads = config.parallel_reads
    files_ds = tf.data.Dataset.from_tensor_slices(files)
    if reads == 1:
        return files_ds.interleave(read_file, cycle_length=1, block_length=1)
    return files_ds.interleave(read_file, cycle_length=reads, block_length=1,
                               num_parallel_calls=reads, deterministic=True)


def _stamp(key: str):
    def add_stamp(element: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        with tf.control_dependencies(tf.nest.flatten(element)):
            return {**element, key: tf.timestamp()}
    return add_stamp


def _stamp_requests(batches: tf.data.Dataset) -> tf.data.Dataset:
    """Stamp when each batch was asked for (`t_started`) and when it was built (`t_loaded`),
    in one map: `zip` pulls its inputs in order, so a clock dataset ahead of the batches
    reads the time just before the batch is assembled. (A per-record stamp would tell the
    same, but costs a map call per record.)"""
    clock = tf.data.Dataset.range(1 << 62).map(lambda _: tf.timestamp())

    def stamped(t_started: tf.Tensor, records: tf.Tensor) -> dict[str, tf.Tensor]:
        with tf.control_dependencies([records]):
            return {"records": records, "t_started": t_started, "t_loaded": tf.timestamp()}
    return tf.data.Dataset.zip((clock, batches)).map(stamped)


def _enter_buffer(counter: tf.Variable, instrument: bool):
    """Count each batch as it enters the prefetch buffer (and stamp when, if instrumented)."""
    def enter(element: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        with tf.control_dependencies(tf.nest.flatten(element)):
            bump = counter.assign_add(1)
        with tf.control_dependencies([bump]):
            stamp = {"t_enqueued": tf.timestamp()} if instrument else {}
            return {**{k: tf.identity(v) for k, v in element.items()}, **stamp}
    return enter


def _map(batches: tf.data.Dataset, function, parallel: int) -> tf.data.Dataset:
    """`map`, inline when `parallel` is 1, else that many calls at once (order kept)."""
    if parallel == 1:
        return batches.map(function)
    return batches.map(function, num_parallel_calls=_knob(parallel), deterministic=True)


def _batches(records: tf.data.Dataset, config: PipelineConfig, seed: int, instrument: bool,
             enqueued: tf.Variable) -> tf.data.Dataset:
    batches = records.shuffle(config.shuffle_buffer, seed=seed).batch(config.batch_size)
    batches = _stamp_requests(batches) if instrument else batches.map(lambda r: {"records": r})

    def normalize(element: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        out = {**{k: v for k, v in element.items() if k != "records"},
               **decode_normalize(element["records"])}
        if not instrument:
            return out
        out = _stamp("t_normalized")(out)
        return out if config.augment else {**out, "t_augmented": out["t_normalized"]}

    def augment(element: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        out = augment_traced(element, tf.constant(seed, tf.int64))
        return _stamp("t_augmented")(out) if instrument else out

    batches = _map(batches, normalize, config.parallel_map)
    if config.augment:
        batches = _map(batches, augment, config.parallel_augment)
    batches = batches.map(_enter_buffer(enqueued, instrument))
    if config.prefetch != 0:
        batches = batches.prefetch(_knob(config.prefetch))
    return batches.with_options(pipeline_options(config))


class StaleCache(Exception):
    """A pipeline built ahead would have replaced the cache of the knobs in use."""


class TrainPipeline:
    """Builds each epoch's training dataset, and keeps the in-memory cache between them.

    The cache holds the shard records (upstream of the shuffle, as the tf.data guide
    advises, so each epoch is still reshuffled). tf.data only keeps an in-memory cache
    once one pass has read it to the end; until then, an epoch resumed mid-way after a
    reconfiguration reads the remaining records from disk.
    """

    def __init__(self, shards: ShardSet, seed: int = 0):
        self.shards = shards
        self.seed = seed
        self._cached: tf.data.Dataset | None = None
        self._cache_key: tuple | None = None
        self.cache_complete = False
        self._lock = threading.Lock()  # the trainer builds the next epoch on another thread

    @staticmethod
    def _cache_key_of(config: PipelineConfig) -> tuple:
        """The knobs upstream of the cache: changing any of them makes a new, empty cache."""
        return (config.parallel_reads, config.storage_latency_ms, config.latency_per, config.batch_size)

    def _cache_source(self, config: PipelineConfig, create: bool = True) -> tf.data.Dataset:
        """The cached records for `config`'s upstream knobs; a new, empty cache when they
        changed (or, with `create=False`, StaleCache: a pipeline built ahead for knobs that
        are no longer current must not replace the cache the running epoch fills)."""
        key = self._cache_key_of(config)
        if self._cached is None or key != self._cache_key:
            if not create:
                raise StaleCache(f"the cache now holds other knobs than {config.describe()}")
            self._cached = _read_shards(list(self.shards.train_files), config, None).cache()
            self._cache_key, self.cache_complete = key, False
        return self._cached

    def cache_ready_for(self, config: PipelineConfig) -> bool:
        return self.cache_complete and self._cache_key == self._cache_key_of(config)

    def uses_cache(self, config: PipelineConfig, resuming: bool) -> bool:
        """Read through the cache: on a fresh epoch (which fills it), or when it is complete."""
        return config.cache and (not resuming or self.cache_ready_for(config))

    def dataset(self, config: PipelineConfig, epoch: int, remaining: np.ndarray | None = None,
                rebuild: int = 0, instrument: bool = True,
                ahead: bool = False) -> tuple[tf.data.Dataset, tf.Variable]:
        """The batches of `epoch` that are still to train (`remaining`: bool per example id,
        None for a fresh epoch), and a counter of batches that entered the prefetch buffer.
        `rebuild` varies the shuffle after a reconfiguration; `ahead`: built ahead of its
        epoch on another thread (it never replaces the cache, see `_cache_source`)."""
        seed = self.seed * 1_000_003 + epoch * 1009 + rebuild
        keep = None if remaining is None else tf.constant(remaining, tf.bool)
        if self.uses_cache(config, resuming=remaining is not None):
            with self._lock:
                records = self._cache_source(config, create=not ahead)
            if keep is not None:
                records = records.filter(lambda record: tf.gather(keep, record_ids(record)))
        else:
            order = np.random.default_rng(seed).permutation(len(self.shards.train_files))
            records = _read_shards([self.shards.train_files[i] for i in order], config, keep)
        enqueued = tf.Variable(0, dtype=tf.int64, trainable=False, name="batches_enqueued")
        return _batches(records, config, seed, instrument, enqueued), enqueued

    def mark_pass_complete(self, config: PipelineConfig) -> None:
        """An iterator over the cached source reached its end: tf.data now keeps the cache."""
        if config.cache and self._cache_key == self._cache_key_of(config):
            self.cache_complete = True


def validation_dataset(shards: ShardSet, batch_size: int = 500) -> tf.data.Dataset:
    """Validation batches straight from the shards: no latency, no shuffle."""
    records = tf.data.TFRecordDataset(list(shards.val_files))
    return records.batch(batch_size).map(decode_normalize).prefetch(2)


def retire_iterator(box: list) -> None:
    """Destroy the iterator in `box` (a list holding its only reference) on a short-lived
    thread of its own. Tearing down an iterator whose pipeline autotunes can take seconds
    inside TensorFlow (measured here: 1.1-1.7 s more at some epoch ends of the prefetch
    config, none for naive; up to 38 s for an iterator retired after a minute of live
    prefetch toggles, with the GIL free: training went on); on the training thread that
    would stall the next step."""
    threading.Thread(target=box.clear, name="pipeviz-retire-iterator", daemon=True).start()


def steps_in(example_count: int, batch_size: int) -> int:
    return -(-example_count // batch_size)
