"""`ChildRun`: a user's script in a child process, as `pipeviz run` starts it: its crash is
reported with the traceback, a script that never trains says so, and stopping ends it within
3 seconds. (A training child's events reaching the window: tests/test_runwindow.py; under
`pipeviz run --json`: tests/test_examples.py.)"""
from __future__ import annotations

import sys
import textwrap
import time

import pytest

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


def test_stop_ends_a_busy_child_within_3_s(tmp_path):
    # a C call that ignores KeyboardInterrupt until it returns, like a TensorFlow op
    script = write(tmp_path, """
        import time, signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("ready", flush=True)
        while True:
            time.sleep(10)
        """)
    channel = EventChannel()
    run = ChildRun(script, [], channel)
    run.start()
    deadline = time.time() + 30
    while not any(isinstance(e, ScriptStarted) for e in channel.drain()) and time.time() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    run.stop()
    assert not run.running
    assert time.monotonic() - started <= STOP_WITHIN_S
    assert run.done.wait(5)
    finished = [e for e in channel.drain() if isinstance(e, ScriptFinished)]
    assert finished and finished[-1].exit_code < 0


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


def test_the_cli_says_one_line_and_exits_2(tmp_path):
    import subprocess

    result = subprocess.run([sys.executable, "-m", "pipeviz", "run", "--report",
                             str(tmp_path / "missing.py")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such file" in result.stderr
