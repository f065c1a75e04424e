"""`ChildRun`: a user's script in a child process, as `pipeviz run` starts it: its crash is
reported with the traceback, a script that never trains says so, and stopping ends it within
3 seconds. (A training child's events reaching the window: tests/test_runwindow.py; under
`pipeviz run --json`: tests/test_examples.py.)"""
from __future__ import annotations

import sys
import textwrap
import time

import pytest
from conftest import wait_until

from pipeviz.core.events import EventChannel
from pipeviz.core.watch.events import ScriptFinished, ScriptStarted
from pipeviz.core.watch.runner import STOP_WITHIN_S, ChildRun, ScriptError, check_script
from pipeviz.core.watch.summary import RunSummary

def write(tmp_path, text, name="train.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def run_to_end(script, args=(), timeout=120):
    channel = EventChannel(lossy_capacity=1 << 16)
    run = ChildRun(script, list(args), channel)
    run.start()
    assert run.done.wait(timeout), "the child did not end"
    summary = RunSummary()
    events = channel.drain()
    for event in events:
        summary.add(event)
    return run, summary, events


def test_a_crash_is_reported_with_its_traceback(tmp_path):
    script = write(tmp_path, """
        def load():
            raise FileNotFoundError("no such dataset: /data/train")
        load()
        """)
    run, summary, events = run_to_end(script, ["--data", "/data/train"])
    assert isinstance(events[0], ScriptStarted) and events[0].argv == ("--data", "/data/train")
    assert run.returncode == 1
    text = summary.finished.traceback
    assert "FileNotFoundError: no such dataset: /data/train" in text
    assert str(script) in text and "runpy" not in text  # the script's frames, not pipeviz's
    assert summary.finished.steps == 0 and summary.verdict == "no training steps"


def test_a_script_that_never_trains_says_so_and_keeps_its_exit_code(tmp_path):
    done = tmp_path / "atexit-ran"
    run, summary, _ = run_to_end(write(tmp_path, f"""
        import atexit, pathlib, sys
        atexit.register(pathlib.Path({str(done)!r}).touch)
        print('hello')
        sys.exit(3)
        """))
    assert run.returncode == 3
    assert summary.finished.exit_code == 3 and summary.finished.steps == 0
    assert summary.finished.traceback == ""
    assert done.exists()  # its exit handlers ran, as under plain python


def start_until_ready(script, channel, capfd) -> ChildRun:
    """Start `script` in a child and return once it printed "ready" (its own set-up done:
    a signal before then would reach pipeviz's start-up, not the script)."""
    run = ChildRun(script, [], channel)
    run.start()
    printed: list[str] = []

    def ready() -> bool:
        printed.append(capfd.readouterr().out)
        return "ready" in "".join(printed)

    wait_until(ready, 30, interval=0.05)
    return run


def test_stop_ends_a_busy_child_within_3_s(tmp_path, capfd):
    # a C call that ignores KeyboardInterrupt until it returns, like a TensorFlow op
    script = write(tmp_path, """
        import time, signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("ready", flush=True)
        while True:
            time.sleep(10)
        """)
    channel = EventChannel()
    run = start_until_ready(script, channel, capfd)  # it ignores SIGINT from now on
    started = time.monotonic()
    run.stop()
    assert not run.running
    assert time.monotonic() - started <= STOP_WITHIN_S
    assert run.done.wait(5)
    finished = [e for e in channel.drain() if isinstance(e, ScriptFinished)]
    assert finished and finished[-1].exit_code < 0


def test_a_stop_interrupts_the_script_with_one_line_not_a_traceback(tmp_path, capfd):
    """Ctrl+C or closing the window stops the script with SIGINT: it is not a crash, so the
    terminal gets one line saying where it stopped, the window no traceback, and the exit
    code is 130, as a shell reports Ctrl+C."""
    script = write(tmp_path, """
        import time
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
        """)
    channel = EventChannel()
    run = start_until_ready(script, channel, capfd)
    assert run.stop() == 130 and run.done.wait(5)
    finished = [e for e in channel.drain() if isinstance(e, ScriptFinished)]
    assert finished[-1].exit_code == 130 and finished[-1].traceback == ""
    err = capfd.readouterr().err
    assert "pipeviz: the script was stopped (KeyboardInterrupt at train.py:5)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("content, words", [
    (None, "no such file"), (b"\x00\x01not python {{", "not a Python script"),
    ("def broken(:\n", "not a Python script (line 1)")])
def test_scripts_that_cannot_run_get_a_clear_message(tmp_path, content, words):
    path = tmp_path / "x.py"
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ScriptError, match=words.replace("(", r"\(").replace(")", r"\)")):
        check_script(path)


def test_a_folder_is_not_a_script(tmp_path):
    with pytest.raises(ScriptError, match="is a folder"):
        check_script(tmp_path)
    with pytest.raises(ScriptError, match="no script given"):
        check_script("")  # (Path("") is the current folder)


def test_the_cli_says_one_line_and_exits_2(tmp_path):
    import subprocess

    result = subprocess.run([sys.executable, "-m", "pipeviz", "run", "--report",
                             str(tmp_path / "missing.py")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such file" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="DISPLAY is X11's (Linux)")
@pytest.mark.parametrize("argv", [["run", "train.py"], ["view"], []], ids=["run", "view", "app"])
def test_no_display_is_one_line_not_a_qt_abort(tmp_path, argv):
    """Without a display Qt aborts the process (code 134) with a paragraph on platform
    plugins; pipeviz says what to do instead in one line, exit code 2, before any child."""
    import os
    import subprocess

    write(tmp_path, "print('never run')\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([sys.executable, "-m", "pipeviz", *argv], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "no display" in result.stderr
    assert "never run" not in result.stdout



def test_the_traceback_is_the_script_s_without_pipeviz_s_frames():
    """A script that raises inside fit: its traceback as Python prints it, without the
    frames of pipeviz's patched fit (nor runpy's), in a chained exception too."""
    from pipeviz.core.watch import child
    script, ns = "/home/me/train.py", {}
    exec(compile("def fit(f):\n    return f()\n", child.WATCH_DIR + "hook.py", "exec"), ns)
    exec(compile("def boom():\n    raise ValueError('bad shape')\n"
                 "def main(fit):\n    try:\n        fit(boom)\n"
                 "    except ValueError as e:\n        raise RuntimeError('fit failed') from e\n",
                 script, "exec"), ns)
    try:
        ns["main"](ns["fit"])
    except RuntimeError as exc:
        text = child._script_traceback(exc, script)
    assert "hook.py" not in text
    assert "ValueError: bad shape" in text and "RuntimeError: fit failed" in text
    assert text.count(f'File "{script}"') == 3  # main (twice: each exception) and boom
