"""A training script whose input is far slower than its model: a serial map that sleeps.

Written as a user outside pipeviz would write it (it never imports pipeviz): feature vectors
in memory, a `map` whose Python function sleeps --sleep-ms per example (a stand-in for a slow
read or decode; `tf.numpy_function`, so tf.data will not parallelize it on its own), batched,
no prefetch, and a small dense model trained with `model.fit`. Each batch takes about
batch_size * sleep_ms (3 ms * 32 = 96 ms by default) to make; the step computes in a few ms.
pipeviz must call it highly input-bound, its input wait within 5 points of the truth.

The truth (--truth): after the fit, input_truth.measure (in this folder) times the same
number of steps with the same model on this pipeline and on those batches held in memory,
in turn, 7 rounds: input_wait_share is the median of the rounds' 1 - in_memory / pipeline
(the time the step would save if the input were free; see input_truth.py). It prints that
as one JSON object on the last line of stdout, with sleep_ms_per_batch, what the sleeps alone
predict.

    python benchmarks/scripts/sleepy_map.py                  # ~12 s
    python benchmarks/scripts/sleepy_map.py --truth          # ~50 s, last line JSON
    pipeviz run --report --json benchmarks/scripts/sleepy_map.py
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import tensorflow as tf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sleep-ms", type=float, default=3.0, help="per example")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps-per-epoch", type=int, default=40)
    parser.add_argument("--truth", action="store_true",
                        help="then measure the true input-wait share (last line, JSON)")
    args = parser.parse_args()

    tf.keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4096, 64)).astype(np.float32)
    y = (x[:, :8].sum(axis=1) > 0).astype(np.int64)

    def slow_read(features):
        time.sleep(args.sleep_ms / 1000)
        return features

    def load(features, label):
        features = tf.numpy_function(slow_read, [features], tf.float32)
        return tf.ensure_shape(features, (64,)), label

    ds = (tf.data.Dataset.from_tensor_slices((x, y))
          .shuffle(4096, seed=1)
          .map(load)
          .batch(args.batch_size)
          .repeat())

    model = tf.keras.Sequential([
        tf.keras.layers.Input((64,)),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dense(2),
    ])
    model.compile(optimizer="adam",
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(ds, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, verbose=2)

    if args.truth:
        from input_truth import measure  # beside this file

        truth = measure(model, ds, args.steps_per_epoch)
        truth["sleep_ms_per_batch"] = args.sleep_ms * args.batch_size
        print(json.dumps(truth))


if __name__ == "__main__":
    main()
