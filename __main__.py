"""`pipeviz` / `python -m pipeviz`: the desktop app, and the `bench` sub-command."""
from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import signal
import sys
import threading
from pathlib import Path

from pipeviz.core import tfsetup
from pipeviz.core.config import PRESET_NAMES
from pipeviz.core.version import package_version


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (what is wrong, where help is) and exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


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
                         help="set the latency so that loading a batch takes as long as "
                              "training on it (the train step minus the pipeline's own work)")
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


def _add_run(subparsers) -> None:
    run = subparsers.add_parser(
        "run", help="run your own training script and watch its input pipeline",
        description="Run a Python training script unchanged, in a child process, and watch its "
                    "tf.data pipeline and model.fit: input wait, host and compute per step, the "
                    "stages of its pipeline, loss and metrics, and advice. Options for pipeviz "
                    "come before the script; everything after it is the script's own.")
    run.add_argument("--report", action="store_true",
                     help="no window: print the verdict and the per-stage table when it ends")
    run.add_argument("--json", action="store_true",
                     help="no window: print one JSON object when it ends (the script's own "
                          "output goes to stderr)")
    run.add_argument("--screenshot", metavar="PATH", type=Path,
                     help="save a PNG of the window when the script ends, or --train-seconds "
                          "after its first step (then the script is stopped and the exit code "
                          "is 0 once the PNG is saved), and close the window")
    run.add_argument("--train-seconds", type=float, default=20.0, metavar="N",
                     help="with --screenshot: seconds of training first (20)")
    run.add_argument("script", help="the training script (a .py file)")
    run.add_argument("script_args", nargs=argparse.REMAINDER, metavar="...",
                     help="arguments for the script")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="pipeviz", description="Watch a TensorFlow input pipeline feed a Keras CNN, live.")
    parser.add_argument("--data", metavar="PATH", help="folder of MNIST IDX files or a mnist.npz")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log more, TensorFlow's start-up messages included")
    parser.add_argument("--version", action="version", version=f"pipeviz {package_version()}")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="train, save a PNG of the window to PATH, and exit")
    parser.add_argument("--train-seconds", type=float, default=10.0, metavar="N",
                        help="with --screenshot: seconds of training first (10)")
    parser.add_argument("--startup-report", metavar="PATH", help=argparse.SUPPRESS)
    # (benchmarks/startup.py: write when the window showed and the data was ready, then exit)
    subparsers = parser.add_subparsers(dest="command")
    _add_bench(subparsers)
    _add_run(subparsers)
    subparsers.add_parser(
        "view", help="a window for pipeviz.watch() in a notebook or script",
        description="Open a window that waits for a script using pipeviz.watch(model, dataset) "
                    "to connect; pipeviz.watch starts it by itself when it is not run under "
                    "`pipeviz run`. Prints the address it listens on.")
    return parser


def _bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from pipeviz.core.bench import parse_configs, run_bench
    from pipeviz.core.config import ConfigError
    from pipeviz.core.idx import DataError

    try:
        configs = parse_configs(args.configs)
    except ValueError as exc:
        parser.error(str(exc))
    _check_bench_ranges(args, parser)
    try:
        run_bench(args.data, args.steps, args.storage_latency_ms, args.balance, configs,
                  args.json, batch_size=args.batch_size, warmup=args.warmup, events=args.events,
                  runs_dir=args.runs_dir, trace=args.trace)
    except (DataError, ConfigError) as exc:
        print(f"pipeviz bench: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # an unreadable cache or folder, a full disk: one line
        return _failed("pipeviz bench", exc)
    return 0


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """`pipeviz run`: the script's exit code; 2 with one line when it cannot be run."""
    from pipeviz.core.watch.runner import ScriptError, check_script

    _check_screenshot_args(args, parser)
    args.screenshot_after_s = args.train_seconds

    try:
        check_script(args.script)
    except ScriptError as exc:
        print(f"pipeviz run: {exc}", file=sys.stderr)
        return 2
    try:
        if args.report or args.json:
            from pipeviz.core.watch.cli import run_headless

            return run_headless(args.script, args.script_args, args.json, args.report)
        no_display = _no_display("pipeviz run", "add --report or --json to watch without a "
                                 "window, or set QT_QPA_PLATFORM=offscreen with --screenshot")
        if no_display is not None:
            return no_display
        from pipeviz.gui.runwindow import run_app_for_child

        return run_app_for_child(args)
    except Exception as exc:
        return _failed("pipeviz run", exc)


def _check_bench_ranges(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Usage errors for values out of the ranges the configs define (core/config.py)."""
    from pipeviz.core.config import MAX_STEPS, ConfigError, PipelineConfig, TrainerConfig

    checks = (("--steps", lambda: TrainerConfig(max_steps=args.steps)),
              ("--warmup", lambda: TrainerConfig(measure_after_step=args.warmup or 0)),
              ("--batch-size", lambda: PipelineConfig(batch_size=args.batch_size)),
              ("--storage-latency-ms",
               lambda: PipelineConfig(storage_latency_ms=args.storage_latency_ms)))
    for option, make in checks:
        try:
            make()
        except ConfigError as exc:  # "name=value is out of range: hint" -> the option's words
            parser.error(f"{option} {str(exc).partition(' is ')[2] or exc}")
    if args.steps + (args.warmup or 0) > MAX_STEPS:
        parser.error(f"--steps plus --warmup must be at most {MAX_STEPS}")
    _check_output_folder(parser, "--trace", args.trace)


def _check_output_folder(parser: argparse.ArgumentParser, option: str, value) -> None:
    """A usage error, before any work, when the folder a file is to be written to is
    missing or read-only (not a failure, or a 'saved' message, after the run)."""
    if value:
        folder = Path(value).expanduser().absolute().parent
        if not folder.is_dir():
            parser.error(f"{option}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            parser.error(f"{option}: the folder {folder} is not writable")


def _no_display(prog: str, instead: str) -> int | None:
    """Exit code 2 after one line when a window cannot open: on Linux without DISPLAY or
    WAYLAND_DISPLAY, and no QT_QPA_PLATFORM chosen, Qt would abort the process (code 134)
    with a paragraph about platform plugins. None when a window can open."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM") or \
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    print(f"{prog}: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not "
          f"set): {instead}", file=sys.stderr)
    return 2


def _failed(prog: str, exc: BaseException) -> int:
    """An unexpected error: one line (the traceback only with --verbose), exit code 2."""
    from pipeviz.core.safeio import short_reason, verbose_logging

    text = getattr(exc, "strerror", None) and f"{exc.strerror}: {exc.filename}" or short_reason(exc)
    print(f"{prog}: {' '.join(text.split()) or type(exc).__name__}", file=sys.stderr)
    if verbose_logging():
        logging.getLogger("pipeviz").exception("details")
    return 2


def _check_app_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Output paths whose folder is missing or read-only, and times out of range, are usage
    errors before the window opens (not a 'saved' message for a file never written)."""
    _check_output_folder(parser, "--startup-report", args.startup_report)
    _check_screenshot_args(args, parser)


def _check_screenshot_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """--screenshot and --train-seconds, for the app and for `pipeviz run`."""
    _check_output_folder(parser, "--screenshot", args.screenshot)
    if args.screenshot and Path(args.screenshot).suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp"):
        parser.error("--screenshot: give a .png (or .jpg, .bmp) file name")
    if not (math.isfinite(args.train_seconds) and 0 <= args.train_seconds <= 3600):
        parser.error(f"--train-seconds: {args.train_seconds} is out of range: use 0 to 3600")


def main(argv: list[str] | None = None) -> int:
    """Ctrl+C before the window takes over SIGINT (or during bench) ends quietly: one line,
    exit code 130, no traceback. A handler, not `except KeyboardInterrupt`: an interrupt
    raised inside PySide6's or TensorFlow's import can abort the interpreter."""
    previous = _quiet_interrupts()
    try:
        return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _interrupted(signum, frame) -> None:
    tfsetup.restore_stderr()  # TensorFlow may be loading under the start-up log filter
    sys.stderr.write("pipeviz: interrupted\n")
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(130)  # nothing half-written: shards and models go through pid-stamped temporaries


def _quiet_interrupts():
    """Install `_interrupted` for SIGINT (main thread only); the handler it replaced."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, _interrupted)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    tfsetup.quiet_native_logs(verbose=args.verbose)  # before anything imports TensorFlow
    if args.command == "bench":
        logging.getLogger("pipeviz").setLevel(logging.INFO)
        status = _bench(args, parser)
        # The interpreter's last collection walks every TensorFlow object: 6.6 s after the
        # table was printed, measured here; frozen objects are skipped (1.1 s).
        gc.freeze()
        return status
    if args.command == "run":
        return _run(args, parser)
    if args.command == "view":
        no_display = _no_display("pipeviz view", "pipeviz.watch needs a desktop session; use "
                                 "`pipeviz run --report script.py` to watch without a window")
        if no_display is not None:
            return no_display
        from pipeviz.gui.runwindow import run_app_for_view

        return run_app_for_view()
    _check_app_args(args, parser)
    no_display = _no_display("pipeviz", "run it in a desktop session, or set "
                             "QT_QPA_PLATFORM=offscreen with --screenshot")
    if no_display is not None:
        return no_display
    try:
        from pipeviz.gui.app import run_app

        return run_app(args)
    except Exception as exc:
        return _failed("pipeviz", exc)


if __name__ == "__main__":
    sys.exit(main())
