"""Cost of the pipeline's event hooks (stage timestamps), isolated from training.

Iterates the same tf.data pipeline with and without the `tf.timestamp()` stamps, in
alternating rounds in one process, and compares the median time per batch; alternating
rounds see the same machine conditions, which matters on a machine with stalls. The step
loop's own three stamps per step are not included: they are how every step is measured.

    python benchmarks/event_hooks.py [--data PATH] [--batches 400] [--rounds 7]
"""
from __future__ import annotations

import time

import numpy as np

from common import parser_for, write_results


def time_batches(dataset, batches: int) -> np.ndarray:
    """Seconds to get each batch (after 20 warm-up batches)."""
    iterator = iter(dataset)
    for _ in range(20):
        next(iterator)
    times = np.empty(batches)
    for i in range(batches):
        started = time.perf_counter()
        next(iterator)
        times[i] = time.perf_counter() - started
    return times


def main() -> None:
    parser = parser_for(__doc__, "event_hooks")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from pipeviz.core.config import preset
    from pipeviz.core.datasets import load_path
    from pipeviz.core.pipeline import TrainPipeline
    from pipeviz.core.shards import prepare_shards

    pipeline = TrainPipeline(prepare_shards(load_path(args.data)))
    config = preset("naive")  # everything inline: hook costs land on the consumer's clock
    medians = {True: [], False: []}
    for round_ in range(args.rounds):
        for instrument in (True, False):
            dataset, _ = pipeline.dataset(config, epoch=round_, instrument=instrument)
            medians[instrument].append(float(np.median(time_batches(dataset, args.batches))))
    on, off = (1e6 * float(np.median(medians[k])) for k in (True, False))
    print(f"{'pipeline':<22} {'median us/batch':>16}")
    print(f"{'with stage stamps':<22} {on:>16.1f}")
    print(f"{'without':<22} {off:>16.1f}")
    print(f"cost of the stamps: {on - off:+.1f} us per batch "
          f"({args.rounds} alternating rounds of {args.batches} batches, batch 32, no latency)")
    write_results(args.out, {"with_us": on, "without_us": off, "cost_us": on - off,
                             "rounds": {str(k): v for k, v in medians.items()}})


if __name__ == "__main__":
    main()
