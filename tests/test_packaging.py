"""The package layout and entry points, checked in fresh interpreters."""
import json
import pkgutil
import subprocess
import sys

import numpy as np

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


def test_bench_json_on_small_data_and_core_never_loads_qt(small_data, tmp_path):
    """`pipeviz bench --json`, in an interpreter that first imports every core module: the
    table's figures add up, and nothing in core (nor the bench) loaded a Qt binding."""
    import os
    modules = [f"pipeviz.core.{m.name}" for m in pkgutil.iter_modules(pipeviz.core.__path__)]
    assert "pipeviz.core.trainer" in modules
    npz = tmp_path / "small.npz"
    np.savez(npz, x_train=small_data.train_images, y_train=small_data.train_labels)
    env = {**os.environ, "PIPEVIZ_CACHE_DIR": str(tmp_path / "cache")}
    args = ["bench", "--data", str(npz), "--steps", "20", "--warmup", "3", "--configs", "prefetch",
            "--storage-latency-ms", "2", "--json", "--events", "both"]
    code = (f"import sys\nfor m in {modules!r}: __import__(m)\n"
            f"from pipeviz.__main__ import main\nstatus = main({args!r})\n"
            "print('qt modules:', [m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'pyqtgraph')], file=sys.stderr)\n"
            "sys.exit(status)")
    result = run("-c", code, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == "qt modules: []"
    rows = json.loads(result.stdout)
    assert [r["config"] for r in rows] == ["prefetch", "prefetch (events off)"]
    assert rows[0]["median_step_ms"] > 0 and rows[1]["median_step_ms"] is None
    for row in rows:
        assert row["steps"] == 20 and row["images_per_s"] > 0
        assert 0 <= row["idle_fraction"] <= 1
        parts = row["input_wait_fraction"] + row["host_fraction"] + row["compute_fraction"]
        assert abs(parts - 1) < 1e-6
        assert abs(row["idle_fraction"] - (1 - row["compute_fraction"])) < 1e-9


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
