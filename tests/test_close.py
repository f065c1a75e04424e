"""Closing the app while it works: it exits within 3 s with code 0 and no traceback.

Mid-training in a fresh process is `test_packaging.py`'s screenshot run; mid-sweep and
mid-training in the test process are in test_window*.py. Here: mid-preparation, both ways.
"""
import signal
import time

import numpy as np

from conftest import AppProcess, app_env, wait_until


def test_ctrl_c_while_the_data_is_being_prepared_exits_cleanly(small_data, tmp_path):
    """In a fresh process the preparation is importing TensorFlow (which cannot be
    interrupted) when the window shows: Ctrl+C must still end the process at once."""
    npz = tmp_path / "small.npz"
    np.savez(npz, x_train=small_data.train_images, y_train=small_data.train_labels)
    app = AppProcess(["-v", "--data", str(npz)], app_env(tmp_path))
    app.wait_for_line("state: preparing", 120)
    sent = time.monotonic()
    app.proc.send_signal(signal.SIGINT)
    assert app.wait_end(30) == 0, app.stderr[-3000:]
    # While the dynamic loader maps TensorFlow's native library (1-4 s here, once per
    # process) it holds the GIL: no Python code runs, the close included. TensorFlow
    # prints its oneDNN line as that load ends; the 3 s count from then if it came later.
    loaded = app.line_time("oneDNN")
    counted_from = max(sent, loaded) if loaded is not None else sent
    assert app.ended_at - counted_from <= 3.0, (
        f"exit took {app.ended_at - counted_from:.1f} s after Ctrl+C (or the native load)")
    assert "Traceback" not in app.stderr and "closing the window" in app.stderr
    assert not list((tmp_path / "cache").glob("*tmp*")), "half-written shards left behind"


def test_closing_the_window_mid_preparation_ends_the_loader(qtbot, small_data, tmp_path, caplog):
    """In this process TensorFlow is already loaded, so the loader is reading the data,
    building the model or writing shards when the window closes: it stops at its next check."""
    import pipeviz.core.trainer  # noqa: F401  (TensorFlow loaded, as in the rest of the suite)
    from pipeviz.core.session import Session
    from pipeviz.gui.window import MainWindow

    npz = tmp_path / "small.npz"
    np.savez(npz, x_train=small_data.train_images, y_train=small_data.train_labels)
    session = Session(npz, cache_dir=tmp_path / "cache")
    win = MainWindow(session)
    qtbot.addWidget(win)
    win.show()
    session.prepare()
    assert not session.ready, "preparing takes longer than this: the close comes mid-preparation"
    started = time.monotonic()
    win.close()
    assert time.monotonic() - started <= 3.0
    # it gives up at its next check (data read, model built, or the next shard)
    assert wait_until(lambda: not session._loader.is_alive(), 10), "the loader is still running"
    assert not session.ready
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    assert not list((tmp_path / "cache").glob(".*tmp*")), "half-written shards left behind"
