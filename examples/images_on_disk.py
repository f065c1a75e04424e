"""Train a small CNN on images decoded from files on disk: an input-bound pipeline as written.

What it shows: the usual first tf.data pipeline for a folder of pictures (list the files, read
each one, decode it, augment it, resize it, batch) with no map asking for parallel calls and
nothing prefetched, so the model waits for each batch to be decoded and augmented. The fix is
in the comment at `make_dataset`: parallel maps, a cache after the decode, the colour changes
after the resize, a prefetch after the batch (--fixed applies it).

The data are made up here: a few thousand 192x192 JPEG pictures of four shapes (circle, square,
triangle, cross) in random colours on shaded backgrounds, in one folder per class, written to a
temporary folder that is removed at the end (or to --data-dir, kept and reused).

    python examples/images_on_disk.py                      # 30-45 s here (15 s making images)
    pipeviz run examples/images_on_disk.py                 # the same, watched
    pipeviz run examples/images_on_disk.py --epochs 1 --steps-per-epoch 20   # a few seconds
    python examples/images_on_disk.py --fixed              # the pipeline with the fix applied

How input-bound it is, measured without pipeviz by benchmarks/scripts/input_truth.py (after
the script's own fit, 60 steps of the same model on the real pipeline, then on those batches
held in memory, 7 rounds; the share of the step spent waiting for input is the median of the
rounds' 1 - in_memory / pipeline). On the 2-core CPU machine this was written on (TensorFlow
2.21 CPU, load 2-4 from other jobs), default sizes:
    as written:  48.6 ms per step on the pipeline, 17.1 ms on in-memory batches: 65% input
                 wait (rounds 56-68%): highly input-bound (20% or more). A default run took
                 43.5 s, 28.2 s of it in fit (3 epochs, 80% accuracy at the end).
    --fixed:     34.7 ms against 21.8 ms: 30% (rounds 15-44%); fit took 11.6 s for the same 3
                 epochs. Still input-bound here: with two cores the parallel augment and the
                 model take turns on the same cores; with cores to spare it would not be.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np
import tensorflow as tf

CLASSES = ("circle", "square", "triangle", "cross")
STORED_SIZE = 192  # the pictures on disk, as a camera's would be bigger than the model's input


def draw_shape(kind: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """One uint8 RGB picture of `kind` at a random place, size and colour."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / np.float32(size)
    angle = rng.uniform(0, 2 * np.pi)
    shade = np.cos(angle) * xx + np.sin(angle) * yy  # a lit background, not a flat one
    background = (rng.uniform(0, 255, 3) * 0.6).astype(np.float32) + 40 * shade[..., None]
    cx, cy = rng.uniform(0.3, 0.7, 2)
    r = rng.uniform(0.12, 0.28)
    dx, dy = xx - cx, yy - cy
    if kind == "circle":
        mask = dx * dx + dy * dy < r * r
    elif kind == "square":
        mask = (np.abs(dx) < r * 0.85) & (np.abs(dy) < r * 0.85)
    elif kind == "triangle":
        mask = (dy < r * 0.8) & (dy > -r) & (np.abs(dx) < (dy + r) * 0.6)
    else:  # cross
        w = r * 0.3
        mask = ((np.abs(dx) < w) & (np.abs(dy) < r)) | ((np.abs(dy) < w) & (np.abs(dx) < r))
    colour = ((rng.uniform(0, 255, 3) + 128) % 256).astype(np.float32)  # not the background's
    image = np.where(mask[..., None], colour, background)
    image += rng.random(image.shape, dtype=np.float32) * 16 - 8  # a little sensor noise
    return np.clip(image, 0, 255).astype(np.uint8)


def write_images(folder: str, count: int, seed: int) -> None:
    """`count` JPEG files, one sub-folder per class; skipped when the folder already has them."""
    done = os.path.join(folder, ".complete")
    if os.path.exists(done):
        return
    rng = np.random.default_rng(seed)
    for name in CLASSES:
        os.makedirs(os.path.join(folder, name), exist_ok=True)
    for i in range(count):
        name = CLASSES[i % len(CLASSES)]
        data = tf.io.encode_jpeg(draw_shape(name, rng, STORED_SIZE), quality=90)
        tf.io.write_file(os.path.join(folder, name, f"{i:05d}.jpg"), data)
    open(done, "w").close()


def make_dataset(folder: str, image_size: int, batch_size: int, seed: int,
                 fixed: bool = False) -> tf.data.Dataset:
    """Files -> (augmented image, label) batches.

    As written nothing is prefetched and no map asks for parallel calls. tf.data's default
    optimizations rescue part of it: the decode (stateless) is run in parallel for us, and
    the augment map is fused with the batch. But the augment uses random ops, which tf.data
    will not parallelize on its own, so it runs one picture at a time, and at 192x192 it is
    the slowest stage by far: the model waits for it every step.
    THE FIX (what --fixed does):
        .map(load, num_parallel_calls=tf.data.AUTOTUNE)     # decode on all cores
        .cache()                                            # decode each file once, not per epoch
        .shuffle(1024)                                      # the cache repeats one order
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE)  # after the cache: new each epoch;
                                                            # resize before the colour changes
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)                         # next batch made while this one trains
    """
    class_names = tf.constant(CLASSES)
    parallel = tf.data.AUTOTUNE if fixed else None

    def load(path):
        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        label = tf.argmax(tf.cast(tf.strings.split(path, os.sep)[-2] == class_names, tf.int32))
        return image, label  # uint8: a cache of these holds 110 KB a picture, not 440

    def augment(image, label):
        crop = int(STORED_SIZE * 0.85)
        image = tf.image.random_crop(image, (crop, crop, 3))
        image = tf.image.convert_image_dtype(image, tf.float32)
        if fixed:  # the colour changes on the model's 64x64, not on 163x163: 6x fewer pixels
            image = tf.image.resize(image, (image_size, image_size), antialias=True)
        image = tf.image.random_flip_left_right(image)
        image = tf.image.random_brightness(image, 0.15)
        image = tf.image.random_contrast(image, 0.8, 1.2)
        image = tf.image.random_saturation(image, 0.7, 1.3)
        image = tf.image.random_hue(image, 0.05)
        if not fixed:
            image = tf.image.resize(image, (image_size, image_size), antialias=True)
        return tf.clip_by_value(image, 0.0, 1.0), label

    files = tf.data.Dataset.list_files(os.path.join(folder, "*", "*.jpg"), shuffle=True, seed=seed)
    ds = files.map(load, num_parallel_calls=parallel)
    if fixed:
        ds = ds.cache().shuffle(1024, seed=seed)
    ds = ds.map(augment, num_parallel_calls=parallel).batch(batch_size)
    if fixed:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds


def make_model(image_size: int) -> tf.keras.Model:
    """A small CNN: cheap enough per step that the input pipeline is what's slow. Batch
    normalization after each convolution: without it a default run ended at 34% accuracy
    after 3 epochs, with it at 85%."""
    layers = tf.keras.layers
    model = tf.keras.Sequential([layers.Input((image_size, image_size, 3))])
    for filters, strides in ((16, 2), (32, 1), (64, 1)):
        model.add(layers.Conv2D(filters, 3, strides=strides, use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.ReLU())
        if filters < 64:
            model.add(layers.MaxPooling2D())
    model.add(layers.GlobalAveragePooling2D())
    model.add(layers.Dense(len(CLASSES)))
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="where the images go (kept, and reused next time); "
                                           "default: a temporary folder, removed at the end")
    parser.add_argument("--num-images", type=int, default=3000)
    parser.add_argument("--image-size", type=int, default=64, help="the model's input size")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="default: the whole folder each epoch")
    parser.add_argument("--fixed", action="store_true",
                        help="parallel maps, cache after the decode, prefetch (the fix)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    tf.keras.utils.set_random_seed(args.seed)
    folder = args.data_dir or tempfile.mkdtemp(prefix="images_on_disk-")
    try:
        started = time.perf_counter()
        write_images(folder, args.num_images, args.seed)
        print(f"{args.num_images} images in {folder} ({time.perf_counter() - started:.1f} s)")
        ds = make_dataset(folder, args.image_size, args.batch_size, args.seed, args.fixed)
        if args.steps_per_epoch:
            ds = ds.repeat()  # fit takes steps_per_epoch batches from an endless stream
        model = make_model(args.image_size)
        started = time.perf_counter()
        model.fit(ds, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, verbose=2)
        print(f"trained in {time.perf_counter() - started:.1f} s")
    finally:
        if not args.data_dir:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
