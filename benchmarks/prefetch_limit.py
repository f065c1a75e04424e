"""Prefetch at the limit: storage latency balanced against the train step.

With the read as long as the step, a serial pipeline takes load + compute per step and a
prefetching one max(load, compute): the limit is 2x. The train step is measured first and
the latency set to it; then naive and prefetch alternate for several rounds in one process
(so both see the same machine conditions). Targets: prefetch >= 1.8x naive images/s; input
wait <= 5% with prefetch and >= 40% without; total idle (wait + host) <= 10% with prefetch.

    python benchmarks/prefetch_limit.py [--data PATH] [--steps 300] [--rounds 3]
        [--steps-per-execution 4] [--call-budget-ms 0] [--prefetch-buffer N]
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np

from common import parser_for, write_results


def main() -> None:
    parser = parser_for(__doc__, "prefetch_limit")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps-per-execution", type=int, default=4,
                        help="the most train steps per tf.function call (4); the host gaps "
                             "fall between calls")
    parser.add_argument("--call-budget-ms", type=float, default=0,
                        help="fewer steps per call beyond this time, as the app does (25); "
                             "the default 0 keeps every call at --steps-per-execution steps, so "
                             "naive (slower steps) and prefetch pay the same per-call cost and "
                             "differ only by prefetching")
    parser.add_argument("--prefetch-buffer", type=int, default=None,
                        help="batches in the prefetch buffer (default: the preset's autotune); "
                             "a call takes steps-per-execution batches from it at once")
    args = parser.parse_args()

    from pipeviz.core.bench import measure_balance, run_config
    from pipeviz.core.config import PipelineConfig, preset
    from pipeviz.core.datasets import find_data
    from pipeviz.core.shards import prepare_shards
    from pipeviz.core.steploop import StepLoop

    shards = prepare_shards(find_data(args.data))
    loop = StepLoop()  # traced once; every run starts from the same initial weights
    latency = round(measure_balance(shards, 32, loop=loop).latency_ms, 2)
    base = PipelineConfig(storage_latency_ms=latency)
    trainer = {"steps_per_execution": args.steps_per_execution,
               "call_budget_ms": args.call_budget_ms or None}
    results = {"naive": [], "prefetch": []}
    for round_ in range(args.rounds):
        for name in results:
            config = preset(name, base)
            if name == "prefetch" and args.prefetch_buffer is not None:
                config = config.replace(prefetch=args.prefetch_buffer)
            results[name].append(run_config(shards, name, config, args.steps, args.warmup,
                                            loop=loop, trainer=trainer)[0])
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {r[-1].images_per_s:.0f} images/s"
                                                  for n, r in results.items()), flush=True)

    def med(name: str, field: str) -> float:
        return float(np.median([getattr(r, field) for r in results[name]]))
    rows = {name: {f: med(name, f) for f in ("images_per_s", "input_wait_fraction", "host_fraction",
                                             "idle_fraction", "mean_step_ms", "steps_per_call")} for name in results}
    speedup = rows["prefetch"]["images_per_s"] / rows["naive"]["images_per_s"]
    step_speedup = rows["naive"]["mean_step_ms"] / rows["prefetch"]["mean_step_ms"]
    print(f"\nstorage latency {latency} ms per batch = the measured train step; medians of "
          f"{args.rounds} rounds; trainer {trainer}; prefetch buffer "
          f"{args.prefetch_buffer or 'autotune'}")
    print(f"{'config':<9} {'images/s':>9} {'wait':>6} {'host':>6} {'idle':>6} {'ms/step':>9} {'steps/call':>10}")
    for name, r in rows.items():
        print(f"{name:<9} {r['images_per_s']:>9.0f} {r['input_wait_fraction']:>6.1%} "
              f"{r['host_fraction']:>6.1%} {r['idle_fraction']:>6.1%} {r['mean_step_ms']:>7.2f}ms "
              f"{r['steps_per_call']:>10.1f}")
    print(f"\nprefetch speedup: {speedup:.2f}x images/s (target >= 1.8x, limit 2x); "
          f"{step_speedup:.2f}x in mean step time")
    write_results(args.out, {
        "storage_latency_ms": latency, "trainer": trainer,
        "prefetch_buffer": args.prefetch_buffer,
        "medians": rows, "speedup": speedup,
        "mean_step_speedup": step_speedup,
        "rounds": {n: [asdict(r) for r in rs] for n, rs in results.items()}})


if __name__ == "__main__":
    main()
