"""Time between epochs: the gap from an epoch's last step to the next epoch's first, and
the parts of it (reading the iterator to its end, validation, the next pipeline).

Trains each config for a few epochs with validation on (as the app does) at a storage
latency, and prints each gap (the `between_s` the next epoch's first step carries) and the
time spent in the trainer's own boundary work, per gap.

    python benchmarks/epoch_gaps.py [--data PATH] [--configs naive,prefetch,all] [--epochs 4]
"""
from __future__ import annotations

import time

import numpy as np

from common import parser_for, write_results

PARTS = ("_finish_pass", "evaluate", "_new_segment")


def main() -> None:
    parser = parser_for(__doc__, "epoch_gaps")
    parser.add_argument("--configs", default="naive,prefetch,all")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    args = parser.parse_args()

    from pipeviz.core import trainer as trainer_module
    from pipeviz.core.config import PipelineConfig, TrainerConfig, preset
    from pipeviz.core.datasets import find_data
    from pipeviz.core.events import EventChannel, StepEvent
    from pipeviz.core.shards import prepare_shards

    spent: list[tuple[str, float]] = []

    def timed(name, method):
        def wrapper(self, *a, **k):
            started = time.perf_counter()
            try:
                return method(self, *a, **k)
            finally:
                if self.global_step > 0:  # boundary work, not the run's start
                    spent.append((name, time.perf_counter() - started))
        return wrapper
    for name in PARTS:
        setattr(trainer_module.Trainer, name, timed(name, getattr(trainer_module.Trainer, name)))

    shards = prepare_shards(find_data(args.data))
    results = {}
    for name in args.configs.split(","):
        spent.clear()
        channel = EventChannel(lossy_capacity=100_000)
        worker = trainer_module.Trainer(shards, preset(name, PipelineConfig(storage_latency_ms=args.latency_ms)),
                                        TrainerConfig(epochs=args.epochs), channel)
        worker.start()
        worker.join()
        steps = [e for e in channel.drain() if isinstance(e, StepEvent)]
        gaps = [e.between_s for a, e in zip(steps, steps[1:]) if e.epoch != a.epoch]
        parts = {part: [round(s, 3) for n, s in spent if n == part] for part in PARTS}
        results[name] = {"gaps_s": [round(g, 3) for g in gaps], "parts_s": parts}
        print(f"{name:<9} gaps {', '.join(f'{g:.2f}' for g in gaps)} s; " +
              "; ".join(f"{p.strip('_')} {np.sum(v):.2f} s over {len(v)}" for p, v in parts.items()),
              flush=True)
    write_results(args.out, {"latency_ms": args.latency_ms, "epochs": args.epochs, "configs": results})


if __name__ == "__main__":
    main()
