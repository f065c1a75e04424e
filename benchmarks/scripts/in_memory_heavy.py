"""A training script that is not input-bound: data in memory, a model that takes the time.

Written as a user outside pipeviz would write it (it never imports pipeviz): random 32x32
images and labels in numpy arrays, `from_tensor_slices -> shuffle -> batch -> prefetch`, and a
stack of convolutions trained with `model.fit`. The next batch is a slice of memory, ready
long before the step (tens of ms on a CPU) ends: pipeviz must call it not input-bound (under
5% input wait).

The truth (--truth): after the fit, input_truth.measure (in this folder) times the same
number of steps with the same model on this pipeline and on those batches held in memory,
in turn, 7 rounds: input_wait_share is the median of the rounds' 1 - in_memory / pipeline,
clamped at 0 (see input_truth.py). Printed as one JSON object on the last line of stdout.

    python benchmarks/scripts/in_memory_heavy.py             # ~15 s
    python benchmarks/scripts/in_memory_heavy.py --truth     # ~50 s, last line JSON
    pipeviz run --report --json benchmarks/scripts/in_memory_heavy.py
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import tensorflow as tf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps-per-epoch", type=int, default=30)
    parser.add_argument("--truth", action="store_true",
                        help="then measure the true input-wait share (last line, JSON)")
    args = parser.parse_args()

    tf.keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(2048, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 10, 2048)

    ds = (tf.data.Dataset.from_tensor_slices((x, y))
          .shuffle(2048, seed=2)
          .batch(args.batch_size)
          .repeat()
          .prefetch(tf.data.AUTOTUNE))

    model = tf.keras.Sequential([
        tf.keras.layers.Input((32, 32, 3)),
        tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        tf.keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(10),
    ])
    model.compile(optimizer="adam",
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(ds, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, verbose=2)

    if args.truth:
        from input_truth import measure  # beside this file

        print(json.dumps(measure(model, ds, args.steps_per_epoch)))


if __name__ == "__main__":
    main()
