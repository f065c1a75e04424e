"""Shared fixtures. Tests make their own small data, so they run anywhere; the one test on
real MNIST reads ../shared/data/mnist beside the project root."""
from __future__ import annotations

import gc
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorBoard run folders of the tests' training runs go to a temporary folder, not ~/pipeviz-runs
os.environ["PIPEVIZ_RUNS_DIR"] = tempfile.mkdtemp(prefix="pipeviz-test-runs-")

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


@pytest.fixture(autouse=True)
def collect_qt_garbage_on_this_thread():
    """Collect cycles (with dead Qt widgets in them) on the main thread after each test that
    made Qt objects, so a later test's worker thread never destroys them (see gui/gcguard.py).
    The survivors are then frozen: a full collection over TensorFlow's objects takes seconds
    here, and the next test's collection only needs to look at what that test made."""
    yield
    if "PySide6.QtWidgets" in sys.modules:
        gc.collect()
        gc.freeze()


@pytest.fixture(autouse=True)
def workers_at_normal_priority():
    """Each test starts as a process without a window: a Session switches the workers'
    lower priority on for the rest of the process (core/priority.py), and a trainer test
    after it would otherwise time its input threads at nice 10 against TensorFlow's pools,
    which the test process made at normal priority."""
    from pipeviz.core import priority
    priority.workers_yield_to_gui(False)
    yield


DOWNLOAD, RETIRE = "pipeviz-mnist-download", "pipeviz-retire-iterator"
RETIRE_WAIT_S = 15.0
"""A retired iterator's teardown waits inside TensorFlow (core/pipeline.retire_iterator):
most end within a few seconds, and are waited for so that the next test does not share the
cores with them; after a minute of autotuned training one can take tens of seconds (38 s
measured here, the GIL free: training went on), on a daemon thread made for that wait, so
it is then left to end in the background rather than failed."""


@pytest.fixture(autouse=True)
def no_leftover_threads():
    """Fail any test that leaves a pipeviz worker thread running (the download goes on in
    the background by design; a retired iterator's teardown, see RETIRE_WAIT_S)."""
    before = {t.ident for t in threading.enumerate()}
    yield
    started = [t for t in threading.enumerate()
               if t.ident not in before and t.name.startswith("pipeviz") and t.is_alive()]
    deadline = time.monotonic() + RETIRE_WAIT_S
    for thread in (t for t in started if t.name == RETIRE):
        thread.join(max(0.0, deadline - time.monotonic()))
    leftover = [t for t in started if t.name not in (DOWNLOAD, RETIRE)]
    for thread in leftover:
        thread.join(10)
    still = [t.name for t in leftover if t.is_alive()]
    assert not still, f"test left threads running: {still}"


@pytest.fixture(scope="session")
def small_data():
    """1,500 generated digits (1,200 train / 300 validation), made once per session."""
    from pipeviz.core.datasets import synthetic_data
    return synthetic_data(count=1500, seed=1)


@pytest.fixture(scope="session")
def small_shards(small_data, tmp_path_factory):
    from pipeviz.core.shards import prepare_shards
    return prepare_shards(small_data, tmp_path_factory.mktemp("shards"), num_shards=8)


@pytest.fixture(scope="session")
def shared_loop():
    from pipeviz.core.steploop import StepLoop
    return StepLoop()


@pytest.fixture
def step_loop(shared_loop):
    """One traced step loop for the session's trainers (a trace costs seconds here), reset to
    its initial weights and optimizer state for each test."""
    shared_loop.reset()
    return shared_loop


@pytest.fixture(scope="session")
def sweep_loop():
    """One traced step loop for the session's experiment sweeps (each sweep resets it per
    config), as a Session keeps one for its sweeps apart from the loop its training uses."""
    from pipeviz.core.steploop import StepLoop
    return StepLoop()


def write_idx(path: Path, array: np.ndarray, magic: int, gz: bool = False) -> Path:
    """Write an IDX file (optionally gzipped) the way MNIST's are written."""
    import gzip
    import struct
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def wait_until(condition, timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll `condition` until it is true or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        threading.Event().wait(interval)
    return bool(condition())


def busy(seconds: float) -> None:
    """Stand-in for a consumer doing `seconds` of work (releases the GIL, like real work)."""
    threading.Event().wait(seconds)


@pytest.fixture
def window(qtbot, small_data, tmp_path, step_loop, sweep_loop):
    """The main window on a small npz, data prepared, ready to train (on the session's
    shared step loop: Start resets it to the initial weights, as the app does)."""
    from pipeviz.core.config import PipelineConfig, TrainerConfig
    from pipeviz.core.session import Session
    from pipeviz.gui.window import MainWindow

    npz = tmp_path / "small.npz"
    np.savez(npz, x_train=small_data.train_images, y_train=small_data.train_labels)
    session = Session(npz, pipeline_config=PipelineConfig(storage_latency_ms=2),
                      trainer_config=TrainerConfig(epochs=50), cache_dir=tmp_path / "cache",
                      step_loop=step_loop, sweep_loop=sweep_loop)
    win = MainWindow(session)
    qtbot.addWidget(win)
    win.show()
    session.prepare()
    qtbot.waitUntil(lambda: session.ready and win.controls.start_button.isEnabled(), timeout=60_000)
    yield win
    win.close()  # the close tests time this; here only: every worker ends (an uninterruptible
    # trace on a slow machine can outlast the window's 3 s wait, and must still end)
    assert wait_until(lambda: not session.training and not session.sweeping, 60)




class AppProcess:
    """`python -m pipeviz ...` in a fresh interpreter, its stderr read line by line with the
    time each line arrived, so a test can act on a log line and time the exit after it."""

    def __init__(self, args: list[str], env: dict[str, str]):
        import subprocess
        self.lines: list[tuple[float, str]] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeviz", *args], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.ended_at: float | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))
        self.proc.wait()
        self.ended_at = time.monotonic()

    def wait_for_line(self, text: str, timeout: float) -> float:
        """When a stderr line containing `text` arrived (fails the test after `timeout`)."""
        assert wait_until(lambda: self.line_time(text) is not None or self.ended_at is not None,
                          timeout), f"no {text!r} within {timeout} s:\n{self.stderr[-3000:]}"
        at = self.line_time(text)
        assert at is not None, f"ended before {text!r}:\n{self.stderr[-3000:]}"
        return at

    def line_time(self, text: str) -> float | None:
        return next((t for t, line in list(self.lines) if text in line), None)

    def wait_end(self, timeout: float) -> int:
        self._reader.join(timeout)
        if self.ended_at is None:
            self.proc.kill()
            raise AssertionError(f"still running after {timeout} s:\n{self.stderr[-3000:]}")
        return self.proc.returncode

    @property
    def stderr(self) -> str:
        return "\n".join(line for _, line in list(self.lines))


def app_env(tmp_path: Path) -> dict[str, str]:
    """An environment for the app in a subprocess: offscreen, its own settings and caches."""
    return {**os.environ, "PIPEVIZ_CACHE_DIR": str(tmp_path / "cache"),
            "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "PIPEVIZ_OFFLINE": "1"}
