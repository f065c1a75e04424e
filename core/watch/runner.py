"""The parent's side of `pipeviz run`: start the user's script in a child process, receive
its events onto an `EventChannel`, and end it on request within `STOP_WITHIN_S`.

The child runs in its own session (process group), so Ctrl+C in the terminal reaches only
pipeviz, which then ends the child in steps: SIGINT (Python's KeyboardInterrupt, so the
script's own `finally` blocks run), SIGTERM, then SIGKILL. A child blocked inside a
TensorFlow op sees no KeyboardInterrupt until the op returns; the later signals do not wait.
"""
from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ..events import ErrorEvent, EventChannel
from .events import ScriptFinished
from .wire import ENV_ADDRESS, ENV_TOKEN, Receiver

log = logging.getLogger(__name__)

STOP_WITHIN_S = 3.0
STOP_STEPS = ((signal.SIGINT, 1.2), (signal.SIGTERM, 1.0), (signal.SIGKILL, 0.5))
"""Each signal and how long to wait after it: 2.7 s in all, under STOP_WITHIN_S."""


class ScriptError(ValueError):
    """The script cannot be run: missing, a folder, unreadable, or not Python."""


def check_script(path: str | os.PathLike) -> Path:
    """The script as an absolute path, or ScriptError saying what is wrong and what to do."""
    if not str(path).strip():
        raise ScriptError("no script given: give the path of your training script (a .py file)")
    script = Path(path).expanduser()
    if not script.exists():
        raise ScriptError(f"{path}: no such file; give the path of your training script")
    if script.is_dir():
        raise ScriptError(f"{path} is a folder; give the path of a Python training script")
    try:
        source = script.read_bytes()
    except OSError as exc:
        raise ScriptError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    try:
        compile(source, str(script), "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        raise ScriptError(f"{path} is not a Python script{where}: "
                          f"{getattr(exc, 'msg', None) or exc}") from exc
    return script.absolute()


class ChildRun:
    """One run of a user's script; events go to `channel` (from the receiver's thread)."""

    def __init__(self, script: str | os.PathLike, args: list[str] | tuple[str, ...] = (),
                 channel: EventChannel | None = None, env: dict[str, str] | None = None,
                 stdout_to_stderr: bool = False):
        self.script = check_script(script)
        self.args = list(args)
        self.channel = channel if channel is not None else EventChannel()
        self._env = env
        self._stdout = sys.stderr.fileno() if stdout_to_stderr else None
        """Where the script's own prints go: the terminal, or stderr under --json."""
        self._process: subprocess.Popen | None = None
        self._receiver: Receiver | None = None
        self._finished_sent = threading.Event()
        self._stopping = threading.Lock()
        self.done = threading.Event()
        """Set when the child has exited and all its events are on the channel."""
        self.stop_requested = False

    def start(self) -> None:
        token = secrets.token_hex(16)
        self._receiver = Receiver(self._on_event, token)
        env = dict(os.environ if self._env is None else self._env)
        env[ENV_ADDRESS], env[ENV_TOKEN] = self._receiver.address, token
        command = [sys.executable, "-m", "pipeviz.core.watch.child", str(self.script), *self.args]
        self._process = subprocess.Popen(command, env=env, start_new_session=True,
                                         stdout=self._stdout)
        threading.Thread(target=self._wait, name="pipeviz-child-wait", daemon=True).start()

    def _on_event(self, event) -> None:
        if isinstance(event, ScriptFinished):
            self._finished_sent.set()
        self.channel.put(event)

    def _wait(self) -> None:
        code = self._process.wait()
        self._receiver.join(timeout=2.0)  # the last lines the child wrote
        self._receiver.close()
        if not self._finished_sent.is_set():  # killed, or died before it could say so
            if self.stop_requested:
                detail = "stopped by pipeviz"
            elif code < 0:
                detail = f"ended by signal {signal.Signals(-code).name}"
            else:
                detail = ""
            if detail:
                self.channel.put(ErrorEvent(f"the script was {detail}" if self.stop_requested
                                            else f"the script {detail}"))
            self.channel.put(ScriptFinished(exit_code=code))
        self.done.set()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def request_stop(self) -> None:
        """End the child (never blocks): the signals are sent from a thread."""
        if not self.running:
            return
        self.stop_requested = True
        threading.Thread(target=self.stop, name="pipeviz-child-stop", daemon=True).start()

    def stop(self) -> int | None:
        """End the child within STOP_WITHIN_S and return its exit code (blocks)."""
        with self._stopping:
            self.stop_requested = True
            for signum, wait_s in STOP_STEPS:
                if not self.running:
                    break
                try:
                    os.killpg(self._process.pid, signum)
                except ProcessLookupError:
                    break
                try:
                    self._process.wait(wait_s)
                except subprocess.TimeoutExpired:
                    continue
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the child exited and its events are all on the channel."""
        self.done.wait(timeout)
        return self.returncode


class Listener:
    """`pipeviz view`: the window's end for a script that connects by itself
    (`pipeviz.watch` in a notebook or `python train.py`); the same interface as ChildRun.
    There is no child to end: closing the window stops the watching, not the training."""

    def __init__(self, channel: EventChannel | None = None):
        self.channel = channel if channel is not None else EventChannel()
        self.token = secrets.token_hex(16)
        self.done = threading.Event()
        self.stop_requested = False
        self.script = None
        self._receiver: Receiver | None = None

    def start(self) -> str:
        """Listen; returns "address token", the line `pipeviz.watch` reads."""
        self._receiver = Receiver(self.channel.put, self.token)
        threading.Thread(target=self._wait, name="pipeviz-view-wait", daemon=True).start()
        return f"{self._receiver.address} {self.token}"

    def _wait(self) -> None:
        self._receiver.join()
        self.done.set()

    @property
    def running(self) -> bool:
        return self._receiver is not None and not self.done.is_set()

    @property
    def returncode(self) -> int | None:
        return None

    def request_stop(self) -> None:
        self.stop_requested = True
        if self._receiver is not None:
            self._receiver.close()
            self.done.set()

    def stop(self) -> None:
        self.request_stop()

    def wait(self, timeout: float | None = None) -> None:
        self.done.wait(timeout)
