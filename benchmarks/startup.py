"""Start-up: process start to the first window (the splash), the main window shown, and
ready to train.

Starts `python -m pipeviz --data PATH` (offscreen) several times; the app writes when its
splash was shown (needs only QtWidgets), when the main window was shown and first
painted, when its pyqtgraph panels were built (they load after the first paint), and when
the data was ready (shards already cached: the second and later launches, as a user sees
them), then exits.
Target: main window shown <= 1.5 s, ready to train <= 6 s.

    python benchmarks/startup.py [--data PATH] [--runs 5]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import parser_for, write_results

KEYS = ("splash", "shown", "first_paint", "plots", "ready")


def launch(data: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "startup.json"
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PIPEVIZ_OFFLINE": "1"}
        started = time.time()
        subprocess.run([sys.executable, "-m", "pipeviz", "--data", data, "--startup-report",
                        str(report)], env=env, check=True, timeout=300, capture_output=True)
        times = json.loads(report.read_text())
    return {k: times[k] - started for k in KEYS}


def main() -> None:
    parser = parser_for(__doc__, "startup")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    launch(args.data)  # the first launch writes the shards (if not cached) and warms the disk cache
    runs = [launch(args.data) for _ in range(args.runs)]
    result = {k: {"median_s": round(float(np.median([r[k] for r in runs])), 2),
                  "min_s": round(min(r[k] for r in runs), 2), "max_s": round(max(r[k] for r in runs), 2)}
              for k in KEYS}
    result["runs"] = args.runs
    print(f"{'from process start to':<24} {'median':>7} {'min':>6} {'max':>6}  target")
    for key, target in (("splash", ""), ("shown", "<= 1.5 s"), ("first_paint", ""),
                        ("plots", ""), ("ready", "<= 6 s")):
        r = result[key]
        print(f"{key.replace('_', ' '):<24} {r['median_s']:>6.2f}s {r['min_s']:>5.2f}s {r['max_s']:>5.2f}s  {target}")
    write_results(args.out, result)


if __name__ == "__main__":
    main()
