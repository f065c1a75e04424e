"""Overhead against plain Keras: `model.fit` against the app's instrumented trainer.

Same model (same seed), data, batch size, learning-rate schedule and pipeline (the `all`
preset, no storage latency), same steps per call (4), both epoch after epoch over the data
(a new iterator per epoch; no validation on either side). Rounds alternate model.fit, the
trainer with events on and the trainer with events off, in one process, so each sees the
same machine conditions; the median over rounds of each round's ratio to model.fit is
reported (a shared machine drifts between rounds; within one round the three runs see the
same conditions). Target (issue 10): trainer with events on >= 0.97x model.fit; the events
on/off difference is the hooks' cost.

    python benchmarks/keras_fit.py [--data PATH] [--steps 600] [--warmup 60] [--rounds 3]
"""
from __future__ import annotations

import time

import numpy as np

from common import parser_for, write_results


def fit_images_per_s(shards, config, steps: int, warmup: int, seed: int = 0) -> float:
    """Train with model.fit, epoch after epoch over the same pipeline (a new iterator per
    epoch, as the trainer makes), until warm-up + `steps` steps; images/s over the steps
    after `warmup`, timed by a callback at the end of each call of steps."""
    import keras
    from pipeviz.core.model import build_model
    from pipeviz.core.pipeline import TrainPipeline, steps_in
    from pipeviz.core.schedule import PlannedCosineDecay

    model = build_model(seed)
    model.compile(optimizer=keras.optimizers.Adam(PlannedCosineDecay(2e-3, warmup + steps)),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"],
                  steps_per_execution=4, jit_compile=False)  # the trainer does not use XLA either
    dataset, _ = TrainPipeline(shards, seed).dataset(config, epoch=0, instrument=False)
    dataset = dataset.map(lambda b: (b["image"], b["label"]))

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.marks: list[tuple[int, float]] = []
            self.done = 0

        def on_train_batch_end(self, batch, logs=None):
            self.done += 4  # one call of steps_per_execution steps
            self.marks.append((self.done, time.perf_counter()))
            if self.done >= warmup + steps:
                self.model.stop_training = True

    clock = Clock()
    epochs = -(-(warmup + steps) // steps_in(shards.train_count, config.batch_size)) + 1
    model.fit(dataset, epochs=epochs, callbacks=[clock], verbose=0)
    (b0, t0), (b1, t1) = next(m for m in clock.marks if m[0] >= warmup), clock.marks[-1]
    return (b1 - b0) * config.batch_size / (t1 - t0)


def main() -> None:
    parser = parser_for(__doc__, "keras_fit")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from pipeviz.core.bench import run_config
    from pipeviz.core.config import preset
    from pipeviz.core.datasets import find_data
    from pipeviz.core.shards import prepare_shards

    shards = prepare_shards(find_data(args.data))
    config = preset("all")
    rates: dict[str, list[float]] = {"model.fit": [], "trainer, events on": [], "trainer, events off": []}
    for round_ in range(args.rounds):
        rates["model.fit"].append(fit_images_per_s(shards, config, args.steps, args.warmup))
        for events in (True, False):
            # 4 steps per call on both sides: this compares the loops, not the call length
            result, _ = run_config(shards, "all", config, args.steps, args.warmup, events=events,
                                   trainer={"steps_per_execution": 4, "call_budget_ms": None})
            rates[f"trainer, events {'on' if events else 'off'}"].append(result.images_per_s)
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items()), flush=True)
    medians = {k: float(np.median(v)) for k, v in rates.items()}
    fit = np.array(rates["model.fit"])
    ratios = {k: float(np.median(np.array(v) / fit)) for k, v in rates.items()}
    print(f"\n{'run':<22} {'images/s (median)':>17} {'vs model.fit':>12}  rounds")
    for name, value in medians.items():
        print(f"{name:<22} {value:>17.0f} {ratios[name]:>11.3f}x  {', '.join(f'{r:.0f}' for r in rates[name])}")
    print("(vs model.fit: the median of each round's ratio)")
    hooks = 1 - float(np.median(np.array(rates["trainer, events on"]) / np.array(rates["trainer, events off"])))
    print(f"\ncost of the event hooks (on vs off, median of rounds): {hooks:.1%} of throughput")
    write_results(args.out, {"steps": args.steps, "warmup": args.warmup,
                             "config": config.describe(), "rounds": rates,
                             "medians": medians, "median_ratio_to_fit": ratios,
                             "hooks_cost_fraction": hooks})


if __name__ == "__main__":
    main()
