"""The true share of a Keras training step spent waiting for input, measured without pipeviz.

    python benchmarks/scripts/input_truth.py examples/images_on_disk.py [its args]

runs the script as `python script.py args` would, with `keras.Model.fit` wrapped: the script's
first fit on a `tf.data.Dataset` runs as written, then (model traced, files in the page cache)
the same model trains `steps` more steps (one fit of one epoch each), alternately, on

  - the script's own dataset, and
  - the same number of its batches taken once and held in memory (`take(steps).cache()`,
    filled before timing, then prefetched), which costs the step next to nothing to read,

`rounds` times each. Each fit is timed from the end of its first step to the end of its last
(a callback's wall clock at each batch end), so what a fit call costs once (setup, a new
iterator, a shuffle buffer filled) is left out: the steady state per step. What the step
spends waiting for its input is the difference: each round's pair gives a share
1 - in_memory / pipeline, and input_wait_share is the median of the rounds' shares (clamped
at 0; share_low_high gives their range, the noise). It is the time fit would save if the
input were free, the quantity pipeviz's verdict is about, measured from wall clocks alone.
Pairs, not two medians, because the two runs of a pair see the same load from other
processes (under a load of 4 on 2 cores, one round can run 50% slower than the next). The last line printed is one
JSON object. Other scripts import `measure`.

The model keeps learning while it is timed; that changes its weights, not the cost of a step.
Where the input pipeline and the model compete for the same CPU cores, the in-memory run also
frees the cores the pipeline used, and that counts as input cost here, as it should.
"""
from __future__ import annotations

import json
import os
import runpy
import statistics
import sys
import time


def _seconds_per_step(model, dataset, steps: int) -> float:
    """One epoch of `steps` steps of fit; the wall time per step from the end of its first
    step to the end of its last, so what fit does once per call (its setup, a new iterator,
    a shuffle buffer filled) is left out and only the steady state is timed."""
    import keras

    marks: list[tuple[int, float]] = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            marks.append((batch, time.perf_counter()))

    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[Clock()])
    (first, t0), (last, t1) = marks[0], marks[-1]
    return (t1 - t0) / max(1, last - first)


def measure(model, dataset, steps: int, rounds: int = 7) -> dict:
    """Time `steps` steps of `model.fit` on `dataset`, then on `steps` of its batches held in
    memory, `rounds` times in turn; the share from each pair, and their median. `dataset`
    yields at least `steps` batches per iteration (or repeats)."""
    import tensorflow as tf

    held = dataset.take(steps).cache()
    for _ in held:  # fill the cache before anything is timed
        pass
    held = held.prefetch(tf.data.AUTOTUNE)
    _seconds_per_step(model, held, steps)  # warm: a new dataset can cost fit a first-call setup
    pipeline, in_memory = [], []
    for _ in range(rounds):
        pipeline.append(_seconds_per_step(model, dataset, steps))
        in_memory.append(_seconds_per_step(model, held, steps))
    shares = sorted(1.0 - m / p for p, m in zip(pipeline, in_memory))
    return {
        "input_wait_share": round(max(0.0, statistics.median(shares)), 4),
        "share_low_high": [round(shares[0], 4), round(shares[-1], 4)],
        "step_ms_pipeline": round(statistics.median(pipeline) * 1000, 2),
        "step_ms_in_memory": round(statistics.median(in_memory) * 1000, 2),
        "steps": steps,
        "rounds": rounds,
        "pipeline_ms": [round(t * 1000, 2) for t in pipeline],
        "in_memory_ms": [round(t * 1000, 2) for t in in_memory],
    }


def _steps_of(dataset, asked: int | None, cap: int) -> int:
    """The steps one timed run takes: the script's steps_per_epoch, else the dataset's length
    without its last (maybe partial) batch, at most `cap`."""
    import tensorflow as tf

    if asked:
        return min(asked, cap)
    n = int(dataset.cardinality())
    if n in (tf.data.INFINITE_CARDINALITY, tf.data.UNKNOWN_CARDINALITY):
        return cap
    return max(1, min(n - 1, cap))


def run_script(script: str, args: list[str], cap: int = 60, rounds: int = 7) -> dict | None:
    """Run `script` as __main__ with fit wrapped; the measurement of its first fit, or None."""
    import keras
    import tensorflow as tf

    result: dict = {}
    original_fit = keras.Model.fit

    def fit(self, x=None, *a, **kw):
        history = original_fit(self, x, *a, **kw)
        if not result and isinstance(x, tf.data.Dataset):
            keras.Model.fit = original_fit  # the timed fits below are plain fits
            result.update(measure(self, x, _steps_of(x, kw.get("steps_per_epoch"), cap), rounds))
        return history

    keras.Model.fit = fit
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        keras.Model.fit = original_fit
    return result or None


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    script, *args = sys.argv[1:]
    result = run_script(script, args)
    if result is None:
        print("input_truth: the script never called model.fit on a tf.data.Dataset",
              file=sys.stderr)
        return 1
    result["script"] = " ".join(sys.argv[1:])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
