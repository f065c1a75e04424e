"""The cost of watching: a script's own training time with and without `pipeviz run`.

Each example script runs in fresh processes, alternating plain (`python timed_fit.py
SCRIPT`) and watched (`pipeviz run --json timed_fit.py SCRIPT`), `--rounds` times. The time
is the wall clock around the script's `model.fit` calls (benchmarks/timed_fit.py), which
under pipeviz wraps pipeviz's own patch, so its set-up, stamps, reader thread, the socket and
the parent process (on the same cores) are all inside it. Reported: each script's median
watched/plain time ratio; throughput cost = 1 - plain/watched. Target (issue 14): <= 3%.

    python benchmarks/watch_overhead.py [--rounds 5] [--scripts a.py,b.py] [-- script args]
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import ROOT, parser_for, write_results

TIMED = str(ROOT / "benchmarks" / "timed_fit.py")
DEFAULT_SCRIPTS = {
    "images_on_disk": ["examples/images_on_disk.py", "--epochs", "2"],
    "text_pipeline": ["examples/text_pipeline.py", "--epochs", "2"],
    "compute_bound": ["examples/compute_bound.py", "--epochs", "2"],
}


def fit_seconds(command: list[str], env: dict) -> float:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = {**env, "PIPEVIZ_FIT_TIMES": out.name}
        result = subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
        return json.load(open(out.name))["fit_s"]


def measure(name: str, script_args: list[str], rounds: int) -> dict:
    env = dict(os.environ)
    plain_cmd = [sys.executable, TIMED, *script_args]
    watched_cmd = [sys.executable, "-m", "pipeviz", "run", "--json", TIMED, *script_args]
    plain, watched = [], []
    for r in range(rounds):
        order = [("plain", plain_cmd), ("watched", watched_cmd)]
        if r % 2:
            order.reverse()  # neither always runs first on a drifting machine
        for mode, command in order:
            (plain if mode == "plain" else watched).append(fit_seconds(command, env))
        print(f"  {name} round {r + 1}: plain {plain[-1]:.2f} s, watched {watched[-1]:.2f} s",
              flush=True)
    ratios = [w / p for p, w in zip(plain, watched)]
    ratio = statistics.median(ratios)
    return {"script": " ".join(script_args), "plain_s": plain, "watched_s": watched,
            "ratios": ratios, "median_ratio": ratio, "throughput_cost": 1 - 1 / ratio}


def main() -> None:
    parser = parser_for(__doc__, "watch_overhead")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scripts", default=",".join(DEFAULT_SCRIPTS),
                        help="names from %s, or paths" % ", ".join(DEFAULT_SCRIPTS))
    args = parser.parse_args()
    results = {"when": time.strftime("%Y-%m-%d %H:%M"), "rounds": args.rounds, "scripts": {}}
    for name in args.scripts.split(","):
        script_args = DEFAULT_SCRIPTS.get(name) or [name]
        results["scripts"][name] = measure(name, script_args, args.rounds)
    print(f"\n{'script':<18} {'plain s':>9} {'watched s':>10} {'ratio':>7} {'cost':>7}")
    for name, r in results["scripts"].items():
        print(f"{name:<18} {statistics.median(r['plain_s']):>9.2f} "
              f"{statistics.median(r['watched_s']):>10.2f} {r['median_ratio']:>7.3f} "
              f"{100 * r['throughput_cost']:>6.1f}%")
    write_results(args.out, results)


if __name__ == "__main__":
    main()
