"""Train a heavier CNN on data already in memory: a compute-bound job, input well under 5%.

What it shows: the other side of the verdict. The images are numpy arrays in memory, fed
through from_tensor_slices -> cache -> shuffle -> batch -> prefetch(AUTOTUNE), so the next
batch is always ready; the model (a stack of 3x3 convolutions) is what takes the time. Nothing
to fix in the input here: a faster step needs a smaller model or a faster device.

The data are made up here: noisy 32x32 striped patterns, ten classes, one per stripe angle.

    python examples/compute_bound.py                       # about 20-30 s here
    pipeviz run examples/compute_bound.py                  # the same, watched
    pipeviz run examples/compute_bound.py --epochs 1 --steps-per-epoch 10   # a few seconds

Measured without pipeviz by benchmarks/scripts/input_truth.py (49 steps on the pipeline, then
on those batches held in memory, 7 rounds, median of the rounds' 1 - in_memory / pipeline) on
the 2-core CPU machine this was written on (TensorFlow 2.21 CPU, load 3-4 from other jobs):
110 ms per step on the pipeline, 116 ms in memory: 2% input wait, within the noise (rounds
-22% to +16%): not input-bound. A default run took 21 s, 16 s of it in fit.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import tensorflow as tf

CLASSES = 10
SIZE = 32


def make_arrays(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` float32 images (stripes at one of CLASSES angles, random phase, colour and
    noise) and their int64 labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, count)
    angle = labels * (np.pi / CLASSES) + rng.normal(0, 0.05, count)
    frequency = rng.uniform(2.0, 4.0, count) * 2 * np.pi / SIZE
    phase = rng.uniform(0, 2 * np.pi, count)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    along = (np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy)
    stripes = 0.5 + 0.5 * np.sin(along * frequency[:, None, None] + phase[:, None, None])
    colour = rng.uniform(0.3, 1.0, (count, 1, 1, 3))
    images = stripes[..., None] * colour + rng.normal(0, 0.15, (count, SIZE, SIZE, 3))
    return images.astype(np.float32), labels.astype(np.int64)


def make_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int,
                 seed: int) -> tf.data.Dataset:
    """The input done right: in memory, cached, shuffled per epoch, batched, prefetched."""
    return (tf.data.Dataset.from_tensor_slices((images, labels))
            .cache()
            .shuffle(len(images), seed=seed)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE))


def make_model() -> tf.keras.Model:
    """Six 3x3 convolutions at full and half resolution: tens of ms per batch on a CPU."""
    conv = lambda n: tf.keras.layers.Conv2D(n, 3, padding="same", activation="relu")  # noqa: E731
    model = tf.keras.Sequential([
        tf.keras.layers.Input((SIZE, SIZE, 3)),
        conv(16), conv(16), tf.keras.layers.MaxPooling2D(),
        conv(32), conv(32), tf.keras.layers.MaxPooling2D(),
        conv(64), conv(64),
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(CLASSES),
    ])
    model.compile(optimizer="adam",
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=3200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="default: every image each epoch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    tf.keras.utils.set_random_seed(args.seed)
    images, labels = make_arrays(args.num_images, args.seed)
    ds = make_dataset(images, labels, args.batch_size, args.seed)
    if args.steps_per_epoch:
        ds = ds.repeat()  # fit takes steps_per_epoch batches from an endless stream
    model = make_model()
    started = time.perf_counter()
    model.fit(ds, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, verbose=2)
    print(f"trained in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
