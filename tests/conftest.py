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
    made Qt objects, so a later test's worker thread never destroys them (see gui/gcguard.py)."""
    yield
    if "PySide6.QtWidgets" in sys.modules:
        gc.collect()


@pytest.fixture(autouse=True)
def no_leftover_threads():
    """Fail any test that leaves a pipeviz worker thread running."""
    before = {t.ident for t in threading.enumerate()}
    yield
    leftover = [t for t in threading.enumerate()
                if t.ident not in before and t.name.startswith("pipeviz") and t.is_alive()
                and t.name != "pipeviz-mnist-download"]
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
def window(qtbot, small_data, tmp_path):
    """The main window on a small npz, data prepared, ready to train."""
    from pipeviz.core.config import PipelineConfig, TrainerConfig
    from pipeviz.core.session import Session
    from pipeviz.gui.window import MainWindow

    npz = tmp_path / "small.npz"
    np.savez(npz, x_train=small_data.train_images, y_train=small_data.train_labels)
    session = Session(npz, pipeline_config=PipelineConfig(storage_latency_ms=2),
                      trainer_config=TrainerConfig(epochs=50), cache_dir=tmp_path / "cache")
    win = MainWindow(session)
    qtbot.addWidget(win)
    win.show()
    session.prepare()
    qtbot.waitUntil(lambda: session.ready and win.controls.start_button.isEnabled(), timeout=60_000)
    yield win
    win.close()
    assert not session.training


