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


def _script_traceback(exc: BaseException, script: str) -> str:
    """The traceback from the script's first frame on (pipeviz's runpy frames left out)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


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
    except BaseException as exc:  # noqa: BLE001  (KeyboardInterrupt included: say so)
        text = _script_traceback(exc, script)
        print(text, end="", file=sys.stderr, flush=True)
        code = 130 if isinstance(exc, KeyboardInterrupt) else 1
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
