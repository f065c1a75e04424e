"""The window, offscreen, driven as a user would. Qt failing to load fails these tests."""
import time

import numpy as np
import pytest
from PySide6.QtWidgets import QCheckBox, QPushButton, QSlider, QSpinBox, QTableWidget

from conftest import wait_until
from pipeviz.core.config import PipelineConfig
from pipeviz.core.learn import observe
from pipeviz.core.session import Session
from pipeviz.core.state import WorkerState
from pipeviz.gui.controls import MAX_LATENCY_MS
from pipeviz.gui.window import MainWindow


def test_widgets_have_stable_names(window):
    for name, kind in (("startButton", QPushButton), ("pauseButton", QPushButton),
                       ("stopButton", QPushButton), ("prefetchToggle", QCheckBox),
                       ("parallelReadsToggle", QCheckBox), ("storageLatencySlider", QSlider),
                       ("batchSizeSpin", QSpinBox), ("epochTable", QTableWidget),
                       ("clearCanvasButton", QPushButton), ("resetButton", QPushButton),
                       ("epochsSpin", QSpinBox), ("balanceLatencyButton", QPushButton),
                       ("augmentToggle", QCheckBox), ("parallelAugmentToggle", QCheckBox)):
        assert window.findChild(kind, name) is not None, name
    for name in ("pipelineDiagram", "lossPlot", "accuracyPlot", "idlePlot", "digitCanvas",
                 "activationsView", "predictionBars"):
        assert window.findChild(object, name) is not None, name
    assert "small.npz" in window.source_label.text()


def test_training_shows_real_steps_and_prefetch_toggles_live(window, qtbot):
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.plots.last_step >= 20, timeout=60_000)
    assert len(window.plots.series["loss"]) >= 20
    x, y = window.plots.loss_raw.getData()
    assert len(x) >= 20 and np.all(np.isfinite(y))
    assert window.diagram.buffer_enabled

    window.controls.prefetch_toggle.click()  # off, mid-epoch
    trainer = window.session.trainer
    qtbot.waitUntil(lambda: trainer.pipeline_config.prefetch == 0, timeout=10_000)
    qtbot.waitUntil(lambda: not window.diagram.buffer_enabled, timeout=5_000)
    qtbot.waitUntil(lambda: len(window.plots._markers) >= 3, timeout=10_000)
    steps_before = window.plots.last_step
    qtbot.waitUntil(lambda: window.plots.last_step > steps_before + 10, timeout=30_000)


def test_closing_mid_training_stops_the_worker(window, qtbot):
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.plots.last_step >= 5, timeout=60_000)
    trainer = window.session.trainer
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started <= 3.0, "closing the window took over 3 s"
    # It stops at its next step boundary: within the close on a quiet machine; this VM's
    # stalls (up to ~1.5 s) can push it past the window's 2 s wait, never far past.
    assert wait_until(lambda: not trainer.is_alive(), 10), "the worker is still running"
    assert trainer.state == WorkerState.STOPPED


def drag(widget, points):
    """A stroke made of real mouse events with the left button held (QTest's mouseMove
    alone does not drag)."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    def send(kind, point, button, buttons):
        pos = QPointF(*point)
        event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons,
                            Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(widget, event)

    left = Qt.MouseButton.LeftButton
    send(QEvent.Type.MouseButtonPress, points[0], left, left)
    for point in points[1:]:
        send(QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton, left)
    send(QEvent.Type.MouseButtonRelease, points[-1], left, Qt.MouseButton.NoButton)


def test_drawing_updates_prediction_and_activations(window, qtbot):
    assert window.canvas.is_empty() and window.digit.prediction_bars.probabilities is None
    drag(window.canvas, [(85, 20 + 6 * i) for i in range(22)])  # a vertical stroke: a "1"
    assert not window.canvas.is_empty()
    assert window.prediction is not None, "lifting the pen predicts at once, not a frame later"
    bars = window.digit.prediction_bars.probabilities
    assert bars is not None and abs(bars.sum() - 1) < 1e-4
    assert window.digit.activations.prediction is window.prediction
    assert len(window.digit.activations._images) == len(window.digit.activations.ROWS) == 6, "every layer shown"
    assert window.digit.preview.pixmap() is not None and not window.digit.preview.pixmap().isNull()
    ink = window.prediction.image
    assert ink[:, 12:16].sum() > ink[:, :8].sum(), "the model input is the centred stroke"
    window.digit.clear_button.click()
    qtbot.waitUntil(lambda: window.prediction is None, timeout=5_000)
    assert window.digit.prediction_bars.probabilities is None


def test_prediction_works_while_training_and_with_a_loaded_model(window, qtbot, tmp_path):
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.plots.last_step >= 10, timeout=60_000)
    images, labels = window.session.sample_images
    window.canvas.set_digit(images[0])
    qtbot.waitUntil(lambda: window.prediction is not None, timeout=5_000)
    assert window.session.model_origin == "training"
    window.stop_training()
    qtbot.waitUntil(lambda: not window.session.training, timeout=10_000)
    target = tmp_path / "model.keras"
    window.menus.save_model_to(str(target))  # on a helper thread: the status line says when
    qtbot.waitUntil(lambda: "Saved the model" in window.statusBar().currentMessage(), timeout=30_000)
    assert target.is_file()
    window.canvas.clear()
    window.menus.load_model_from(str(target))
    qtbot.waitUntil(lambda: window.session.model_origin == "model.keras", timeout=30_000)
    window.canvas.set_digit(images[1])
    qtbot.waitUntil(lambda: "model.keras" in window.digit.prediction_label.text(), timeout=5_000)
    assert window.prediction is not None and window.digit.prediction_bars.top == window.prediction.digit


def test_bad_files_give_a_dialog_and_the_app_stays_usable(window, qtbot, tmp_path):
    from PySide6.QtWidgets import QMessageBox
    junk = tmp_path / "junk.keras"
    junk.write_text("no model here")
    window.menus.load_model_from(str(junk))
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=30_000)
    dialog = window.findChild(QMessageBox, "errorDialog")
    assert "junk.keras" in dialog.text()
    dialog.close()
    window.menus.save_model_to(str(tmp_path / "missing-folder" / "m.keras"))
    qtbot.waitUntil(lambda: any("cannot write" in d.text() for d in window.findChildren(QMessageBox)),
                    timeout=30_000)
    assert window.controls.start_button.isEnabled()


def test_settings_round_trip(tmp_path):
    from PySide6.QtCore import QSettings
    from pipeviz.gui.settings import load_pipeline_config, save_pipeline_config
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    config = PipelineConfig(prefetch=0, cache=True, batch_size=64, storage_latency_ms=3.5,
                            augment=False, parallel_augment=1)
    save_pipeline_config(settings, config)
    settings.sync()
    again = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    assert load_pipeline_config(again) == config
    again.setValue("pipeline/batch_size", "zero")
    assert load_pipeline_config(again).batch_size == 32, "a bad saved value falls back"


def test_reset_balance_and_live_epochs(window, qtbot):
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.plots.last_step >= 15, timeout=60_000)
    in_force = window.session.pipeline_config.storage_latency_ms / 1e3
    window.controls.balance_button.click()
    steps = window.recent_steps[-200:]
    # the pipeline's own work: the read less the latency in force, normalize, augment
    own = [max(0.0, e.t_loaded - e.read_start - in_force) + (e.t_normalized - e.t_loaded)
           + (e.t_augmented_or_normalized - e.t_normalized) for e in steps]
    expected = 1e3 * max(0.0, float(np.median([e.compute_s for e in steps])) - float(np.median(own)))
    latency = window.session.pipeline_config.storage_latency_ms
    assert abs(latency - min(expected, MAX_LATENCY_MS)) <= 0.11, (latency, expected)
    window.controls.epochs_spin.setValue(1)  # live: this run ends after its first epoch
    trainer = window.session.trainer
    qtbot.waitUntil(lambda: trainer.state == WorkerState.FINISHED, timeout=120_000)
    qtbot.waitUntil(lambda: window.epoch_table.rowCount() == 1, timeout=5_000)
    assert len(trainer.history) == 1
    summary = trainer.history[0]
    row = [window.epoch_table.item(0, c).text() for c in range(window.epoch_table.columnCount())]
    assert row == ["1", f"{summary.train_loss:.4f}", f"{summary.train_accuracy:.4f}",
                   f"{summary.val_loss:.4f}", f"{summary.val_accuracy:.4f}",
                   f"{summary.seconds:.1f}", f"{100 * summary.idle_fraction:.0f}",
                   observe(summary, None, ["storage_latency_ms"])]
    assert window.session.model_origin == "trained"
    window.controls.reset_button.click()
    assert window.epoch_table.rowCount() == 0 and window.plots.last_step == 0
    assert window.session.model_origin == "untrained"
    from pipeviz.core.model import build_model
    fresh = build_model(window.session.trainer_config.seed).get_weights()
    shown = window.session.predictor.model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(shown, fresh)), "reset: the seed's fresh model"
    assert window.controls.start_button.isEnabled()


def test_nan_loss_does_not_break_the_plots(qtbot):
    from pipeviz.gui.plots import LivePlots
    from test_events import step
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.show()
    events = [step(n) for n in range(1, 50)]
    events[20] = events[20].__class__(**{**{f: getattr(events[20], f) for f in events[20].__slots__},
                                         "loss": float("nan")})
    plots.add_steps(events)
    plots.refresh()
    plots.repaint()
    x, y = plots.loss_smooth.getData()
    assert len(x) == 49 and np.isfinite(y).all()


def test_splash_then_window_show_before_pyqtgraph_and_tensorflow_load():
    """The start-up order `pipeviz` uses: the splash and then the main window (its plot
    tabs saying they load) show before pyqtgraph is imported; the plot panels are built
    after; TensorFlow is imported only later, by the data loader."""
    import subprocess
    import sys
    code = ("import sys; from PySide6.QtWidgets import QApplication; app = QApplication([]);"
            "from pipeviz.gui.splash import show_splash; splash = show_splash();"
            "image = splash.grab().toImage();"
            "print('splash', splash.isVisible(), 'pyqtgraph' in sys.modules,"
            " image.pixelColor(40, 130).name() != image.pixelColor(5, 5).name());"
            "from pipeviz.core.session import Session; from pipeviz.gui.window import MainWindow;"
            "w = MainWindow(Session(), defer_plots=True); w.show(); splash.finish(w);"
            "app.processEvents();"
            "print('window', w.isVisible(), 'pyqtgraph' in sys.modules, splash.isVisible(),"
            " w.tabs.widget(0).text(), w.bridge.timer.isActive());"
            "w.build_plot_panels(); app.processEvents();"
            "print('plots', w.tab_page(0) is w.plots, w.tabs.tabText(2), w.tab_page(2) is w.experiment,"
            " w.bridge.timer.isActive(), 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-3:] == [
        "splash True False True", "window True False False Loading the plots… False",
        "plots True Experiment True True False"]


def test_bad_data_path_gives_a_dialog_and_another_can_be_opened(qtbot, tmp_path, small_data):
    from PySide6.QtWidgets import QMessageBox
    empty = tmp_path / "empty"
    empty.mkdir()
    session = Session(empty, cache_dir=tmp_path / "cache")
    win = MainWindow(session)
    qtbot.addWidget(win)
    win.show()
    session.prepare()
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, "errorDialog") is not None, timeout=60_000)
    assert "holds no MNIST files" in win.findChild(QMessageBox, "errorDialog").text()
    assert not win.controls.start_button.isEnabled()
    npz = tmp_path / "good.npz"
    np.savez(npz, x_train=small_data.train_images, y_train=small_data.train_labels)
    win.use_data(str(npz))
    qtbot.waitUntil(lambda: session.ready and win.controls.start_button.isEnabled(), timeout=60_000)
    assert "good.npz" in win.source_label.text()
    win.close()


def test_export_trace_and_the_figures_beside_the_idle_plot(window, qtbot, tmp_path):
    """File > Export trace writes the trained steps' stage spans as a Chrome trace (off the
    GUI thread); the figures above the idle plot and the status bar read the same numbers."""
    import json
    from PySide6.QtWidgets import QMessageBox
    from pipeviz.core.stepstats import WINDOW_STEPS, StepStats
    from pipeviz.core.timeline import SPANS

    assert window.menus.export_trace_to(str(tmp_path / "none.json")) is None  # nothing trained yet
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=5_000)
    assert "Nothing to export" in window.findChild(QMessageBox, "errorDialog").text()
    window.findChild(QMessageBox, "errorDialog").close()
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.plots.last_step >= 30, timeout=60_000)
    window.stop_training()
    trainer = window.session.trainer
    qtbot.waitUntil(lambda: not window.session.training, timeout=10_000)
    qtbot.waitUntil(lambda: window.plots.last_step == trainer.global_step, timeout=5_000)
    steps = list(window.trace_steps)
    assert steps[-1].step == trainer.global_step
    thread = window.menus.export_trace_to(str(tmp_path / "trace.json"))
    thread.join(30)
    qtbot.waitUntil(lambda: "Exported" in window.statusBar().currentMessage(), timeout=5_000)
    boxes = [e for e in json.loads((tmp_path / "trace.json").read_text())["traceEvents"]
             if e["ph"] == "X"]
    assert len(boxes) == len(SPANS) * len(steps)
    window.plots.refresh()
    latest = StepStats.of(steps[-WINDOW_STEPS:])
    assert window.plots.latest.images_per_s == pytest.approx(latest.images_per_s)
    assert f"idle <b>{100 * latest.idle_fraction:.0f}%</b>" in window.plots.idle_figures.text()
    window._redraw()
    assert f"{latest.images_per_s:,.0f} images/s" in window.step_label.text()
