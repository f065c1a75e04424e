"""`pipeviz` / `python -m pipeviz`: the desktop app, and the `bench` sub-command."""
from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path

from pipeviz.core.config import PRESET_NAMES


def _add_bench(subparsers) -> None:
    bench = subparsers.add_parser(
        "bench", help="train under several pipeline configs and print a table",
        description="Run the same training under several tf.data configurations, one after "
                    "another, and report images/s and where each step's time went.")
    bench.add_argument("--data", metavar="PATH", help="folder of MNIST IDX files or a mnist.npz")
    bench.add_argument("--steps", type=int, default=300, help="measured steps per config (300)")
    latency = bench.add_mutually_exclusive_group()
    latency.add_argument("--storage-latency-ms", type=float, default=0.0, metavar="MS",
                         help="simulated storage latency per batch read (0)")
    latency.add_argument("--balance", action="store_true",
                         help="set the latency to the measured train-step time")
    bench.add_argument("--configs", default=",".join(PRESET_NAMES),
                       help=f"comma-separated, from {', '.join(PRESET_NAMES)} (all)")
    bench.add_argument("--batch-size", type=int, default=32)
    bench.add_argument("--warmup", type=int, default=None,
                       help="unmeasured steps first (default: one epoch and 10 steps)")
    bench.add_argument("--events", choices=("on", "off", "both"), default="on",
                       help="stage stamps and step events: on, off, or both to measure their cost")
    bench.add_argument("--json", action="store_true", help="print only a JSON array")
    bench.add_argument("--runs-dir", metavar="DIR", type=Path,
                       help="write each config's TensorBoard scalars to DIR/<config>")
    bench.add_argument("--trace", metavar="FILE", type=Path,
                       help="write the measured batches' stage spans as a Chrome trace (JSON) "
                            "that Perfetto and chrome://tracing open")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeviz", description="Watch a TensorFlow input pipeline feed a Keras CNN, live.")
    parser.add_argument("--data", metavar="PATH", help="folder of MNIST IDX files or a mnist.npz")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="train, save a PNG of the window to PATH, and exit")
    parser.add_argument("--train-seconds", type=float, default=10.0, metavar="N",
                        help="with --screenshot: seconds of training first (10)")
    parser.add_argument("--startup-report", metavar="PATH", help=argparse.SUPPRESS)
    # (benchmarks/startup.py: write when the window showed and the data was ready, then exit)
    subparsers = parser.add_subparsers(dest="command")
    _add_bench(subparsers)
    return parser


def _bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from pipeviz.core.bench import parse_configs, run_bench
    from pipeviz.core.config import ConfigError
    from pipeviz.core.idx import DataError

    try:
        configs = parse_configs(args.configs)
    except ValueError as exc:
        parser.error(str(exc))
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    try:
        run_bench(args.data, args.steps, args.storage_latency_ms, args.balance, configs,
                  args.json, batch_size=args.batch_size, warmup=args.warmup, events=args.events,
                  runs_dir=args.runs_dir, trace=args.trace)
    except (DataError, ConfigError) as exc:
        print(f"pipeviz bench: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if args.command == "bench":
        logging.getLogger("pipeviz").setLevel(logging.INFO)
        status = _bench(args, parser)
        # The interpreter's last collection walks every TensorFlow object: 6.6 s after the
        # table was printed, measured here; frozen objects are skipped (1.1 s).
        gc.freeze()
        return status
    from pipeviz.gui.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
