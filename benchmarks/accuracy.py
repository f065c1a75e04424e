"""Accuracy after 5 epochs on real MNIST, against the seed's trace (loss 0.25, accuracy 0.93).

Trains on the 8,000-image train part of ../shared/data/mnist (the genuine 10k test split,
split 80/20) and evaluates on the 2,000 held out. Prints a table, writes JSON.

    python benchmarks/accuracy.py [--data PATH] [--epochs 5] [--out benchmarks/results/accuracy.json]
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict

from common import parser_for, write_results
from pipeviz.core.state import WorkerState

SEED_TRACE = {"loss": 0.25, "accuracy": 0.93}


def main() -> None:
    parser = parser_for(__doc__, "accuracy")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from pipeviz.core.config import PipelineConfig, TrainerConfig
    from pipeviz.core.datasets import load_path
    from pipeviz.core.shards import prepare_shards
    from pipeviz.core.trainer import Trainer

    data = load_path(args.data)
    shards = prepare_shards(data)
    trainer = Trainer(shards, PipelineConfig(), TrainerConfig(epochs=args.epochs))
    started = time.time()
    trainer.start()
    trainer.join()
    if trainer.state != WorkerState.FINISHED:
        raise SystemExit(f"training ended in state {trainer.state}")
    print(f"data: {data.source.description}; {shards.train_count} train, {shards.val_count} held out")
    print(f"{'epoch':>5} {'loss':>7} {'acc':>7} {'val loss':>9} {'val acc':>8} {'seconds':>8} {'idle':>6}")
    for s in trainer.history:
        print(f"{s.epoch + 1:>5} {s.train_loss:>7.4f} {s.train_accuracy:>7.4f} {s.val_loss:>9.4f} "
              f"{s.val_accuracy:>8.4f} {s.seconds:>8.1f} {s.idle_fraction:>6.1%}")
    last = trainer.history[-1]
    print(f"seed trace after 5 epochs: loss {SEED_TRACE['loss']}, accuracy {SEED_TRACE['accuracy']}; "
          f"pipeviz: train loss {last.train_loss:.4f}, held-out accuracy {last.val_accuracy:.4f} "
          f"({time.time() - started:.0f} s)")
    write_results(args.out, {"data": data.source.description, "seed_trace": SEED_TRACE,
                             "epochs": [asdict(s) for s in trainer.history]})


if __name__ == "__main__":
    main()
