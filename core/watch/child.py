"""`python -m pipeviz.core.watch.child script.py [args]`: run a user's script, watched.

Started by `runner.ChildRun`, never by hand. The script runs as `__main__` with its own
`sys.argv` and its folder first on `sys.path`, as `python script.py args` would run it;
`keras.Model.fit` is patched first (hook.py). What the script prints goes to the terminal
unchanged; a traceback is printed there as Python would and also sent to the window.
"""
from __future__ import annotations

import atexit
import os
import runpy
import sys
import threading
import time
import traceback

from .events import ScriptFinished, ScriptStarted
from .wire import ENV_ADDRESS, ENV_TOKEN, Sender


WATCH_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
"""pipeviz's own hook files: their frames (the patched fit) are not the script's."""


def _script_traceback(exc: BaseException, script: str) -> str:
    """The traceback as Python prints it for `python script.py`: from the script's first
    frame on (runpy's left out), without the frames of pipeviz's patched fit, in chained
    exceptions too."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    report = traceback.TracebackException(type(exc), exc, tb or exc.__traceback__)
    seen, stack = set(), [report]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.stack = traceback.StackSummary.from_list(
            [frame for frame in current.stack if not frame.filename.startswith(WATCH_DIR)])
        stack += [current.__cause__, current.__context__]
    return "".join(report.format())


def _where(exc: BaseException, script: str) -> str:
    """Where the script was when `exc` reached it: "KeyboardInterrupt at train.py:42"."""
    lines = [tb.tb_lineno for tb in _frames(exc.__traceback__)
             if tb.tb_frame.f_code.co_filename == script]
    line = lines[-1] if lines else None  # the innermost line of the script
    at = f" at {os.path.basename(script)}:{line}" if line is not None else ""
    return f"{type(exc).__name__}{at}"


def _frames(tb):
    """The traceback's entries, innermost last."""
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _exit_with_parent(sock_owner: Sender) -> None:
    """End this process when pipeviz goes away (its socket closes): a watched script must
    not train on, unseen, after the window that started it is gone."""
    def watch() -> None:
        while sock_owner.wait_closed_by_peer():
            pass
        if not sock_owner.closed:
            os.kill(os.getpid(), 15)

    threading.Thread(target=watch, name="pipeviz-parent-watch", daemon=True).start()


def run(script: str, args: list[str], sender: Sender) -> int:
    from . import hook

    sender.send(ScriptStarted(script, tuple(args), os.getpid(), time.time()))
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(script))
    hook.install(sender, when_imported=True)
    code, text = 0, ""
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except KeyboardInterrupt as exc:  # pipeviz stopped it (Ctrl+C, the window closed): not a crash
        print(f"pipeviz: the script was stopped ({_where(exc, script)})", file=sys.stderr,
              flush=True)
        code = 130
    except BaseException as exc:  # noqa: BLE001
        text = _script_traceback(exc, script)
        print(text, end="", file=sys.stderr, flush=True)
        code = 1
    finally:
        hook.finish()
    sender.send(ScriptFinished(code, text, hook.steps_run()))
    return code


def main(argv: list[str]) -> int:
    script, *args = argv
    sender = Sender(os.environ[ENV_ADDRESS], os.environ[ENV_TOKEN])
    _exit_with_parent(sender)
    try:
        return run(os.path.abspath(script), args, sender)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sender.close()


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # The exit handlers run, as `python script.py` runs them (the script's own, and
    # TensorFlow's that delete its autograph files from the temp folder); the rest of
    # Python's teardown does not: with TensorFlow loaded it can take seconds or abort.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
