"""Start the desktop app (and `--screenshot` runs for docs and checks)."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def run_app(args: argparse.Namespace) -> int:
    import time

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from .splash import show_splash

    app = QApplication.instance() or QApplication(sys.argv[:1])
    set_identity(app)
    splash = show_splash()  # on screen while the window's modules load (seconds, here)
    times = {"splash": time.time()}

    from pipeviz.core.session import Session

    from .settings import load_bool, load_pipeline_config, load_string
    from .window import MainWindow

    settings = QSettings()
    data = args.data or load_string(settings, "data_path")
    session = Session(data, pipeline_config=load_pipeline_config(settings),
                      write_scalars=load_bool(settings, "write_scalars", True))
    window = MainWindow(session, settings, defer_plots=True)
    window.show()
    splash.finish(window)
    times["shown"] = time.time()
    _close_on_signals(window)
    app.processEvents()  # paint it before pyqtgraph loads (seconds on a slow machine)
    times["first_paint"] = time.time()
    window.build_plot_panels()
    times["plots"] = time.time()
    QTimer.singleShot(0, session.prepare)  # the window says it loads TensorFlow and the data
    if args.screenshot:
        _schedule_screenshot(app, window, Path(args.screenshot), args.train_seconds)
    if getattr(args, "startup_report", None):
        _report_startup(app, window, Path(args.startup_report), times)
    status = app.exec()
    _end_process(session, settings, status)
    return status  # (not reached)


APP_NAME = "pipeviz"
"""The application's name, display name and desktop file name (resources/pipeviz.desktop):
what the desktop shows in its task bar and dock, instead of "python3"."""


def app_icon():
    """The app's icon from the PNGs shipped in pipeviz.resources (one per size, so each
    size is drawn for it, not scaled); an empty icon if they are missing."""
    from importlib import resources

    from PySide6.QtGui import QIcon

    icon = QIcon()
    folder = resources.files("pipeviz.resources")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith("pipeviz-") and entry.name.endswith(".png"):
            with resources.as_file(entry) as path:
                icon.addFile(str(path))
    if icon.isNull():
        log.warning("the pipeviz icon files are missing from %s", folder)
    return icon


def set_identity(app) -> None:
    """Name, version, icon and desktop file name, before any window is made: windows take
    the application's icon, and Wayland and X11 docks match the window to pipeviz.desktop
    by the desktop file name."""
    from pipeviz.core.version import package_version

    app.setApplicationName(APP_NAME)  # applicationDisplayName() follows it. Not set on its
    # own: Qt would then append " — pipeviz" to every window title on X11 and Windows.
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(package_version())
    app.setDesktopFileName(APP_NAME)
    app.setWindowIcon(app_icon())


def _close_on_signals(window) -> None:
    """Ctrl+C in the terminal (SIGINT) and SIGTERM close the window as its close button
    does: workers stop, settings are saved. Python runs signal handlers only between
    bytecodes, so a timer lets it in while Qt's event loop waits."""
    from PySide6.QtCore import QTimer

    def close(signum, frame) -> None:
        log.info("got signal %d: closing the window", signum)
        QTimer.singleShot(0, window.close)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, close)
    wake = QTimer(window)
    wake.timeout.connect(lambda: None)
    wake.start(200)


def _end_process(session, settings, status: int) -> None:
    """End the process once the window has closed (it stopped the workers and saved the
    settings). Not through Python's own shutdown: with TensorFlow loaded, that tears down
    hundreds of thousands of objects (7 s on a 2-core machine, measured), and a worker still
    inside a TensorFlow call that cannot be interrupted (a trace, the import) can make it
    abort in TensorFlow's C++ destructors. Settings and logs are flushed first; the trainer
    closed its TensorBoard files when it stopped."""
    if not session.close(timeout=0.0):
        log.info("a worker is still inside TensorFlow; exiting without waiting for it")
    from pipeviz.core.tfsetup import restore_stderr

    restore_stderr()  # closed while TensorFlow loaded: the last lines reach the terminal
    settings.sync()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _report_startup(app, window, path: Path, times: dict[str, float]) -> None:
    """Add when the data was ready to train to `times` (splash, window shown, first paint,
    plots built: wall clock, `time.time()`), write them and quit: benchmarks/startup.py
    measures from process start."""
    import json
    import time

    def on_state(event) -> None:
        if event.state in ("ready", "error"):
            times.update(ready=time.time(), state=event.state)
            path.write_text(json.dumps(times))
            window.close()
            app.exit(0 if event.state == "ready" else 1)

    window.bridge.state.connect(on_state)


def _save_image(pixmap, path: Path) -> bool:
    """Write the image through a temporary file renamed into place (never half a file);
    False, after one error line, when it cannot be written."""
    from pipeviz.core.safeio import temp_name

    tmp = path.parent / temp_name(path.stem, path.suffix)
    try:
        if not pixmap.save(str(tmp)):
            raise OSError(f"Qt could not write {path.suffix or 'the'} image")
        os.replace(tmp, path)
        return True
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        log.error("cannot save the screenshot %s: %s", path, exc)
        return False


def _schedule_screenshot(app, window, path: Path, train_seconds: float) -> None:
    """Once the data is ready: train for `train_seconds`, save a PNG of the window, quit."""
    from PySide6.QtCore import QTimer

    def on_state(event) -> None:
        if event.state == "ready":
            window.start_training()
            images, labels = window.session.sample_images
            window.canvas.set_digit(images[0])  # a real held-out digit, as if drawn
            log.info("drew a held-out %d on the canvas", labels[0])
            QTimer.singleShot(int(train_seconds * 1000), shoot)
        elif event.state == "error":
            log.error("cannot take a screenshot: %s", event.detail)
            window.close()
            app.exit(1)

    def shoot() -> None:
        saved = _save_image(window.grab(), path)
        if saved:
            log.warning("saved screenshot %s", path)
        window.close()
        app.exit(0 if saved else 2)

    window.resize(1280, 800)  # the documented size, whatever geometry was saved
    window.bridge.state.connect(on_state)
