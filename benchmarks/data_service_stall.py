"""A tf.data service worker dies under `pipeviz run`: the stall is named, Ctrl+C ends it all.

Issue 14: when a tf.data service worker dies, the consumer waits forever and TensorFlow says
nothing. This runs `pipeviz run --json examples/data_service.py --kill-worker-after-steps 3`
(a dispatcher in the script, two worker processes), waits past pipeviz's stall threshold
after the worker is killed, sends SIGINT to pipeviz as Ctrl+C in its terminal would, and
checks, from outside:

- training stopped after the kill (no epoch end: TensorFlow waits for the dead worker);
- the JSON report says the input stalled and names the killed worker's address;
- pipeviz exits 130 within a few seconds, and no worker process is left running.

Too slow for the test suite (three TensorFlow start-ups and a stall of 10 s or more).

    python benchmarks/data_service_stall.py [--rounds 1]
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import ROOT, parser_for, write_results

from pipeviz.core.watch.service import MIN_STALL_S

EXAMPLE = ROOT / "examples" / "data_service.py"
ARGS = ["--images", "1024", "--batch", "32", "--epochs", "1", "--kill-worker-after-steps", "3"]


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the script's child and its workers), from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = [], [pid]
    while frontier:
        frontier = [p for p, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def one_round() -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-m", "pipeviz", "run", "--json", str(EXAMPLE),
                                *ARGS], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    threading.Thread(target=lambda: err.extend(process.stderr), daemon=True).start()
    try:
        deadline = time.time() + 120
        while not any(x.startswith("killed") for x in err) and time.time() < deadline:
            if process.poll() is not None:
                raise RuntimeError("".join(err)[-3000:])
            time.sleep(0.1)
        killed = next(x for x in err if x.startswith("killed"))
        address = re.search(r"worker at (\S+)", killed).group(1)
        below = descendants(process.pid)
        time.sleep(MIN_STALL_S + 4)  # the stall threshold, and the watch's next check
        epoch_ended = any(re.match(r"\d+/\d+ - |trained", x) for x in err)
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=15)
        ended_s = time.monotonic() - sent
        time.sleep(1)
        left = [p for p in below if Path(f"/proc/{p}").exists()]
        report = json.loads(out.strip().splitlines()[-1])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stalled = report.get("stalled") or ""
    return {"killed_worker": address, "trained_on_after_kill": epoch_ended,
            "steps": report["steps"], "stalled": stalled,
            "names_the_worker": address in stalled, "exit_code": process.returncode,
            "ended_s_after_sigint": round(ended_s, 2), "processes_left": len(left),
            "ok": (not epoch_ended and address in stalled and process.returncode == 130
                   and not left)}


def main() -> int:
    parser = parser_for(__doc__, "data_service_stall")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    rounds = [one_round() for _ in range(args.rounds)]
    print(f"{'round':>5}  {'steps':>5}  {'stall names worker':>18}  {'exit':>4}  "
          f"{'ended (s)':>9}  {'left':>4}  ok")
    for i, r in enumerate(rounds, 1):
        print(f"{i:>5}  {r['steps']:>5}  {str(r['names_the_worker']):>18}  {r['exit_code']:>4}  "
              f"{r['ended_s_after_sigint']:>9}  {r['processes_left']:>4}  {r['ok']}")
    for r in rounds:
        print(f"  stall: {r['stalled']}")
    write_results(args.out, {"args": ARGS, "rounds": rounds})
    return 0 if all(r["ok"] for r in rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
