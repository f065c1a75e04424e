"""`pipeviz run --report / --json script.py`: watch a script without a window and print
what was seen when it ends (for CI jobs and SSH sessions).

With `--json` the script's own standard output is passed to standard error, so standard
output holds the one JSON object and nothing else.
"""
from __future__ import annotations

import json
import signal
import sys
import threading

from ..events import EventChannel
from .runner import ChildRun
from .summary import RunSummary

POLL_S = 0.1


def run_headless(script: str, args: list[str], as_json: bool, report: bool) -> int:
    """Run the script to its end (or Ctrl+C, or SIGTERM: the child is ended within 3 s and
    the report covers what ran), then print the report and/or the JSON."""
    from . import advice as advice_module, history, report as report_module

    channel = EventChannel(lossy_capacity=1 << 16)
    run = ChildRun(script, args, channel, stdout_to_stderr=as_json)
    summary = RunSummary()
    interrupted = threading.Event()

    def on_interrupt(signum, frame) -> None:
        interrupted.set()
        run.request_stop()

    previous = {s: signal.signal(s, on_interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        run.start()
        while not run.done.wait(POLL_S):
            summary.add_all(channel.drain())
        summary.add_all(channel.drain())
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    advice = advice_module.advise(summary)
    comparison = history.exchange(summary, advice)
    if report or not as_json:
        print(report_module.text_report(summary, comparison, advice),
              file=sys.stderr if as_json else sys.stdout, flush=True)
    if as_json:
        print(json.dumps(report_module.json_report(summary, comparison, advice)), flush=True)
    code = run.returncode
    return 130 if interrupted.is_set() else (code if code is not None else 1)
