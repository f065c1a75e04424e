"""Desktop conventions: the icon and names the desktop shows, `pipeviz --version`, and a
terminal free of TensorFlow's start-up noise unless --verbose."""
from __future__ import annotations

import concurrent.futures
import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeviz.core import tfsetup
from pipeviz.core.version import package_version, pyproject_version

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "resources"


def python(code: str, env: dict[str, str] | None = None, timeout: float = 300):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env=env)


# ----- version -----------------------------------------------------------------------------
def test_version_prints_name_and_version_without_tensorflow_or_qt():
    code = ("import sys\nfrom pipeviz.__main__ import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit as exc:\n    code = exc.code\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'PySide6', 'pyqtgraph'))\n"
            "print('exit', code, 'heavy', heavy)")
    result = python(code)
    assert result.returncode == 0, result.stderr
    version_line, report = result.stdout.splitlines()
    assert version_line == f"pipeviz {package_version()}"
    assert report == "exit 0 heavy []"
    cli = subprocess.run([sys.executable, "-m", "pipeviz", "--version"], capture_output=True,
                         text=True, timeout=120)
    assert (cli.returncode, cli.stdout, cli.stderr) == (0, f"pipeviz {package_version()}\n", "")


def test_version_is_pyprojects(tmp_path):
    assert package_version() == pyproject_version()
    project = tmp_path / "pyproject.toml"
    project.write_text('[build-system]\nversion = "9"\n[project]\nname = "x"\nversion = "1.2.3"\n'
                       '[tool.other]\nversion = "7"\n')
    assert pyproject_version(project) == "1.2.3"
    project.write_text('[project]\nname = "x"\n[tool]\nversion = "7"\n')
    assert pyproject_version(project) is None
    assert pyproject_version(tmp_path / "missing.toml") is None


# ----- icon and desktop identity -----------------------------------------------------------
def test_icon_files_are_package_data():
    from importlib import resources

    names = {entry.name for entry in resources.files("pipeviz.resources").iterdir()}
    assert {"pipeviz.svg", "pipeviz.desktop", "pipeviz-16.png", "pipeviz-256.png"} <= names
    data = (ROOT / "pyproject.toml").read_text()
    for pattern in ('"*.png"', '"*.svg"', '"*.desktop"'):
        assert pattern in data.split("[tool.setuptools.package-data]")[1]


def test_desktop_file_names_pipeviz():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(RESOURCES / "pipeviz.desktop")
    desktop = entry["Desktop Entry"]
    assert (desktop["Type"], desktop["Name"], desktop["Exec"], desktop["Icon"]) == \
        ("Application", "pipeviz", "pipeviz", "pipeviz")
    assert desktop["StartupWMClass"] == "pipeviz"


def test_icon_renders_as_committed(tmp_path, qapp):
    """The committed PNGs are what make_icon.py draws from the committed SVG (no stale copy)."""
    sys.path.insert(0, str(RESOURCES))
    try:
        import make_icon
    finally:
        sys.path.remove(str(RESOURCES))
    svg = make_icon.write_svg(tmp_path)
    assert svg.read_text() == (RESOURCES / "pipeviz.svg").read_text()
    from PySide6.QtGui import QImage
    for path in make_icon.render_pngs(svg, tmp_path, sizes=(32, 256)):
        fresh, committed = QImage(str(path)), QImage(str(RESOURCES / path.name))
        assert fresh.size() == committed.size() and not committed.isNull()
        assert fresh.convertToFormat(committed.format()) == committed


def test_application_identity_and_window_icon(qapp, qtbot):
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QWidget

    from pipeviz.gui.app import app_icon, set_identity

    icon = app_icon()
    assert not icon.isNull()
    assert {size.width() for size in icon.availableSizes()} >= {16, 32, 48, 256}
    set_identity(qapp)
    assert qapp.applicationName() == qapp.applicationDisplayName() == "pipeviz"
    assert QGuiApplication.desktopFileName() == "pipeviz"
    assert qapp.applicationVersion() == package_version()
    window = QWidget()
    qtbot.addWidget(window)
    got = window.windowIcon().pixmap(32, 32).toImage()
    assert got == icon.pixmap(32, 32).toImage()


# ----- TensorFlow's start-up noise ---------------------------------------------------------
def test_native_log_filter_drops_absl_lines_and_forwards_the_rest(capfd):
    noise = [b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
             b"I0000 00:00:1795629363.564075   23640 cudart_stub.cc:31] Could not find cuda drivers\n",
             b"E0000 00:00:1795629371.242733   23640 cuda_platform.cc:52] failed call to cuInit\n"]
    native_filter = tfsetup.NativeLogFilter()
    with native_filter:
        os.write(2, noise[0] + noise[1][:20])  # a line split over two writes
        os.write(2, noise[1][20:] + b"kept: a native line\n")
        os.write(2, noise[2] + b"F0000 00:00:1795629371.242733   1 x.cc:1] fatal is kept\n")
        os.write(2, b"kept: the last words, no newline")
    assert capfd.readouterr().err.splitlines() == [
        "kept: a native line",
        "F0000 00:00:1795629371.242733   1 x.cc:1] fatal is kept",
        "kept: the last words, no newline"]
    assert native_filter.dropped == 3
    os.write(2, b"I0000 00:00:1.5 1 after.cc:1] after stop: not filtered\n")
    assert "after stop" in capfd.readouterr().err


def test_entry_sets_log_level_and_respects_the_users(monkeypatch):
    from pipeviz.__main__ import main

    for argv, preset, expected, filtered in ((["bench"], None, "2", True),
                                             (["--verbose", "bench"], None, "0", False),
                                             (["bench"], "1", "1", True)):
        if preset is None:
            monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
        else:
            monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", preset)
        monkeypatch.setattr(tfsetup, "_filter_native", None)
        with pytest.raises(SystemExit) as exit_:  # an unknown config: a usage error after set-up
            main([*argv, "--configs", "turbo"])
        assert exit_.value.code == 2
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == expected
        assert tfsetup._filter_native is filtered


NOISE_PROBE = ("import sys\nfrom pipeviz.core import tfsetup\n"
               "tfsetup.quiet_native_logs(verbose={verbose})\n"
               "tf = tfsetup.configure_tensorflow()\n"
               "print('configured', tf.__version__, file=sys.stderr)\n")


def test_tensorflow_start_up_is_quiet_unless_verbose():
    """In fresh interpreters: TensorFlow imported and its devices probed as pipeviz does it
    prints no native start-up lines, while a bare import shows what there is to hide, and
    --verbose (verbose=True) lets all of it through."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    # the three interpreters at once: each mostly waits for TensorFlow's start-up
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        bare, quiet, verbose = pool.map(lambda code: python(code, env), (
            "import tensorflow as tf\ntf.config.list_physical_devices()\n",
            NOISE_PROBE.format(verbose=False), NOISE_PROBE.format(verbose=True)))
    noise = [line for line in bare.stderr.splitlines() if tfsetup.NATIVE_NOISE.match(line)]
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.splitlines()[-1].startswith("configured ")
    leaked = [line for line in quiet.stderr.splitlines() if tfsetup.NATIVE_NOISE.match(line)
              or "cuda" in line.lower() or "oneDNN" in line]
    assert leaked == []
    if not noise:
        pytest.skip("this TensorFlow prints nothing at start-up here: nothing to show with --verbose")
    shown = [line for line in verbose.stderr.splitlines() if tfsetup.NATIVE_NOISE.match(line)]
    assert len(shown) >= len(noise), verbose.stderr
