"""Issue 14's Done-when, on scripts written as outside users write them (benchmarks/scripts/,
they never import pipeviz): `pipeviz run --json` on

- sleepy_map.py (a serial map sleeping far longer than the step computes): must be highly
  input-bound, its input wait within 5 points of the truth;
- in_memory_heavy.py (data in memory, a conv stack): must be not input-bound;
- both: the stages listed must be the script's pipeline, from the source.

The truth comes from the same script run plainly with --truth (input_truth.py: the step on
the pipeline against the step on the same batches held in memory, paired rounds, median),
in its own process, never watched. Rounds alternate the truth run and the watched run.

    python benchmarks/outside_scripts.py [--rounds 3]
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from common import ROOT, parser_for, write_results

SCRIPTS = ROOT / "benchmarks" / "scripts"
CASES = {
    "sleepy_map": {"expect": "highly input-bound",
                   "kinds": ["source: tensor slices", "shuffle", "map", "batch", "repeat"]},
    "in_memory_heavy": {"expect": "not input-bound",
                        "kinds": ["source: tensor slices", "shuffle", "batch", "repeat",
                                  "prefetch"]},
}


def _last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def truth(name: str) -> dict:
    done = subprocess.run([sys.executable, str(SCRIPTS / f"{name}.py"), "--truth"], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ,
                                                               "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return _last_json(done.stdout)


def watched(name: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "pipeviz", "run", "--json",
                           str(SCRIPTS / f"{name}.py")], cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout)


def main() -> None:
    parser = parser_for(__doc__, "outside_scripts")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {"when": time.strftime("%Y-%m-%d %H:%M"), "cases": {}}
    for name, case in CASES.items():
        rows = []
        for r in range(args.rounds):
            pair = [("truth", truth), ("watched", watched)]
            if r % 2:
                pair.reverse()
            got = {label: run(name) for label, run in pair}
            report = got["watched"]
            row = {"truth": got["truth"]["input_wait_share"],
                   "truth_range": got["truth"].get("share_low_high"),
                   "pipeviz": report["input_wait_fraction"], "verdict": report["verdict"],
                   "kinds": [s["kind"] for s in report["stages"]],
                   "slowest": [s["kind"] for s in report["stages"] if s["slowest"]],
                   "steps": report["steps"], "examples_per_s": report["examples_per_s"]}
            row["points_off"] = 100 * abs(row["pipeviz"] - row["truth"])
            rows.append(row)
            print(f"{name} round {r + 1}: truth {100 * row['truth']:.1f}% pipeviz "
                  f"{100 * row['pipeviz']:.1f}% ({row['verdict']}), stages {row['kinds']}",
                  flush=True)
        off = statistics.median(r["points_off"] for r in rows)
        results["cases"][name] = {
            "rounds": rows, "median_points_off": off,
            "verdict_ok": all(r["verdict"] == case["expect"] for r in rows),
            "stages_ok": all(r["kinds"] == case["kinds"] for r in rows)}
    print(f"\n{'script':<16} {'truth':>7} {'pipeviz':>8} {'off':>6}  verdict ok  stages ok")
    for name, c in results["cases"].items():
        t = statistics.median(r["truth"] for r in c["rounds"])
        p = statistics.median(r["pipeviz"] for r in c["rounds"])
        print(f"{name:<16} {100 * t:>6.1f}% {100 * p:>7.1f}% {c['median_points_off']:>5.1f}  "
              f"{str(c['verdict_ok']):<10}  {c['stages_ok']}")
    write_results(args.out, results)


if __name__ == "__main__":
    main()
