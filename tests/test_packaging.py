"""The package layout, the command line (in fresh interpreters) and the core/gui split."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pipeviz.core


def run(*args, env=None, timeout=300, cwd=None):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)


def test_installed_as_one_pipeviz_package(tmp_path):
    code = "import importlib.util as u; print(u.find_spec('core'), u.find_spec('gui'))"
    result = run("-c", code, cwd=tmp_path)  # away from the checkout, as a user would be
    assert result.stdout.strip() == "None None", "bare 'core'/'gui' packages must not be importable"


def test_bench_help_and_bad_flags():
    result = run("-m", "pipeviz", "bench", "--help")
    assert result.returncode == 0 and "--balance" in result.stdout and "--json" in result.stdout
    result = run("-m", "pipeviz", "bench", "--configs", "naive,turbo")
    assert result.returncode == 2 and "unknown config(s) turbo" in result.stderr
    result = run("-m", "pipeviz", "bench", "--balance", "--storage-latency-ms", "3")
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


def test_bench_json_on_small_data(small_data, tmp_path, capsys, monkeypatch):
    """`pipeviz bench --json --runs-dir --trace` (in this process: a fresh one spends ~20 s
    importing TensorFlow here): the table's figures add up, every measured second is in the
    window's wall time, the scalars go to one folder per config, the trace has one event per
    stage per measured batch."""
    from pipeviz.__main__ import main
    from pipeviz.core.tboard import read_scalars
    from pipeviz.core.timeline import SPANS
    npz = tmp_path / "small.npz"
    np.savez(npz, x_train=small_data.train_images, y_train=small_data.train_labels)
    monkeypatch.setenv("PIPEVIZ_CACHE_DIR", str(tmp_path / "cache"))
    trace = tmp_path / "trace.json"
    status = main(["bench", "--data", str(npz), "--steps", "40", "--warmup", "3", "--configs",
                   "prefetch", "--storage-latency-ms", "2", "--json", "--events", "both",
                   "--runs-dir", str(tmp_path / "runs"), "--trace", str(trace)])
    assert status == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["config"] for r in rows] == ["prefetch", "prefetch (events off)"]
    for row in rows:
        assert row["steps"] == 40 and row["images_per_s"] > 0 and row["mean_step_ms"] > 0
        assert (row["first_step"], row["last_step"], row["batch_size"]) == (4, 43, 32)
        assert row["images"] == 40 * 32
        assert row["images_per_s"] == pytest.approx(row["images"] / row["wall_s"])
        assert row["between_steps_s"] >= 0
        assert 0 <= row["idle_fraction"] <= 1
        parts = (row["input_wait_fraction"] + row["host_fraction"] + row["between_fraction"]
                 + row["compute_fraction"])
        assert abs(parts - 1) < 1e-6
        assert abs(row["idle_fraction"] - (1 - row["compute_fraction"])) < 1e-9
        assert row["verdict"].endswith("input-bound")
    scalars = read_scalars(tmp_path / "runs" / "prefetch")
    assert scalars["images_per_s"] and scalars["images_per_s"][-1][0] == 43
    assert read_scalars(tmp_path / "runs" / "prefetch-events-off")["loss"]
    document = json.loads(trace.read_text())
    boxes = [e for e in document["traceEvents"] if e["ph"] == "X"]
    assert len(boxes) == 40 * len(SPANS), "one event per stage per batch (events-on run only)"
    assert {e["name"] for e in boxes} == set(SPANS)
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in boxes)
    assert not list(tmp_path.glob(".trace.json.*")), "no temporary file left behind"


QT_PACKAGES = {"PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph"}


def imported_packages(path: Path) -> set[str]:
    """Every module a source file imports, anywhere in it (also inside functions), with
    relative imports resolved against the pipeviz package."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parent = "pipeviz.core." if node.level == 1 else "pipeviz." * (node.level > 1)
            found.add(parent + (node.module or ""))
    return found


def test_core_never_imports_qt_nor_the_gui():
    """core is plain Python + TensorFlow (tested headless, usable without a display): no
    core module imports a Qt binding, pyqtgraph or pipeviz.gui, directly or lazily. (The
    other core imports are the standard library, numpy, TensorFlow/Keras and core itself.)"""
    core_files = sorted(Path(pipeviz.core.__file__).parent.glob("*.py"))
    assert len(core_files) > 15
    offending = {}
    for path in core_files:
        bad = {m for m in imported_packages(path)
               if m.split(".")[0] in QT_PACKAGES or m.startswith("pipeviz.gui")}
        if bad:
            offending[path.name] = sorted(bad)
    assert not offending, offending
    assert "PySide6.QtCore" in imported_packages(Path(pipeviz.core.__file__).parents[1] / "gui" / "bridge.py")


def test_bad_data_path_is_a_clear_error(tmp_path):
    result = run("-m", "pipeviz", "bench", "--data", str(tmp_path), "--steps", "5")
    assert result.returncode == 2
    assert "holds no MNIST files" in result.stderr and "Traceback" not in result.stderr


def test_screenshot_run_trains_draws_and_exits_cleanly(small_data, tmp_path):
    """`pipeviz --screenshot` as documented: trains, draws a held-out digit, saves, and
    closes the window mid-training: the process exits within 3 s, code 0, no traceback."""
    from conftest import AppProcess, app_env
    npz = tmp_path / "small.npz"
    np.savez(npz, x_train=small_data.train_images, y_train=small_data.train_labels)
    shot = tmp_path / "shot.png"
    app = AppProcess(["--data", str(npz), "--screenshot", str(shot), "--train-seconds", "3"],
                     app_env(tmp_path))
    saved_at = app.wait_for_line("saved screenshot", 300)  # logged just before the close
    assert app.wait_end(30) == 0, app.stderr[-3000:]
    assert "Traceback" not in app.stderr
    assert app.ended_at - saved_at <= 3.0, f"exit took {app.ended_at - saved_at:.1f} s after the close"
    from PySide6.QtGui import QImage
    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1280, 800)
    pixels = np.frombuffer(image.convertToFormat(QImage.Format.Format_Grayscale8).constBits(),
                           np.uint8)
    assert pixels.std() > 20, "the screenshot is blank"
