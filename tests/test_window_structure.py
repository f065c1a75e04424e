"""Window-level truths: GUI actions never wait for a worker, nothing imports TensorFlow on
the GUI thread before the data is ready, an experiment asks before stopping a run, Start
after Load model trains on from it, the status texts, Epochs persisting, and the layout on
a 1280x720 screen."""
import subprocess
import sys

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from pipeviz.core.state import WorkerState
from test_session_actions import QUICK_S, SlowToStop, timed


def answer(monkeypatch, button) -> list:
    """Make QMessageBox.question answer `button`; returns the questions asked."""
    asked = []

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return button
    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def test_gui_actions_return_at_once_while_the_worker_is_slow_to_stop(window, qtbot, tmp_path):
    session = window.session
    worker = session.trainer = SlowToStop(session.channel, linger=1.5)
    window._update_buttons()
    assert window.controls.stop_button.isEnabled()
    assert timed(window.stop_training) < QUICK_S
    assert timed(window.reset) < QUICK_S
    assert not window.controls.start_button.isEnabled(), "Start waits for the reset"
    assert timed(window.menus.load_model_from, str(tmp_path / "missing.keras")) < QUICK_S
    qtbot.waitUntil(lambda: not worker.is_alive() and not session.busy, timeout=10_000)
    qtbot.waitUntil(lambda: window.controls.start_button.isEnabled(), timeout=5_000)
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=5_000)
    assert "missing.keras" in window.findChild(QMessageBox, "errorDialog").text()
    worker = session.trainer = SlowToStop(session.channel, linger=1.0)
    npz = tmp_path / "again.npz"
    npz.write_bytes(session.data_path.read_bytes())
    assert timed(window.use_data, str(npz)) < QUICK_S
    assert not window.controls.start_button.isEnabled()
    qtbot.waitUntil(lambda: session.ready and window.controls.start_button.isEnabled(), timeout=60_000)
    assert "again.npz" in window.source_label.text() and not worker.is_alive()


GUI_ACTIONS = r"""
import sys, threading
from importlib.abc import MetaPathFinder

on_gui_thread = []

class Spy(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in ("tensorflow", "keras") and threading.current_thread() is threading.main_thread():
            import traceback
            on_gui_thread.append(name + "\n" + "".join(traceback.format_stack(limit=12)))
        return None

sys.meta_path.insert(0, Spy())
import numpy as np
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QApplication, QCheckBox, QFileDialog, QMessageBox, QPushButton,
                               QSlider, QSpinBox)
app = QApplication([])
QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: ("", ""))
QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: ("", ""))
QFileDialog.getExistingDirectory = staticmethod(lambda *a, **k: "")
QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes)
from pipeviz.core.session import Session
from pipeviz.gui.window import MainWindow
window = MainWindow(Session(sys.argv[1]))
window.show()
app.processEvents()
done = []
for action in window.findChildren(QAction):
    if action.text() and "Quit" not in action.text():
        action.setEnabled(True)
        action.trigger()
        done.append(action.text())
        app.processEvents()
for button in window.findChildren(QPushButton):
    button.setEnabled(True)
    button.click()
    done.append(button.text())
    app.processEvents()
for box in window.findChildren(QCheckBox):
    box.click()
    app.processEvents()
window.controls.epochs_spin.setValue(9)
window.controls.latency_slider.setValue(30)
window.canvas.set_digit(np.eye(28, dtype=np.float32))
window.menus.save_model_to("model.keras")
window.menus.export_trace_to("trace.json")
window.run_experiment(20)
window._redraw()
app.processEvents()
print("ACTIONS", len(done), "Copy TensorBoard &command" in done)
print("TF ON GUI THREAD", len(on_gui_thread))
print("\n".join(on_gui_thread))
"""


def test_no_gui_action_imports_tensorflow_on_the_gui_thread_before_the_data_is_ready(tmp_path):
    """Every menu action, button and knob, before the data is prepared (a fresh process,
    TensorFlow not loaded): none may import TensorFlow on the GUI thread (seconds frozen).
    Copy TensorBoard command did, through core.tboard."""
    result = subprocess.run([sys.executable, "-c", GUI_ACTIONS, str(tmp_path / "none.npz")],
                            capture_output=True, text=True, timeout=180, cwd=tmp_path,
                            env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    actions = next(line for line in lines if line.startswith("ACTIONS")).split()
    assert int(actions[1]) >= 15 and actions[2] == "True", result.stdout
    assert "TF ON GUI THREAD 0" in lines, result.stdout[-4000:]


def test_run_experiment_while_training_asks_before_stopping(window, qtbot, monkeypatch):
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.plots.last_step >= 5, timeout=60_000)
    trainer = window.session.trainer
    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    window.run_experiment(20, names=("naive",))
    assert len(asked) == 1 and "stop this training run" in asked[0]
    assert window.session.training and window.session.sweep is None, "No: the run goes on"
    asked = answer(monkeypatch, QMessageBox.StandardButton.Yes)
    window.run_experiment(20, names=("naive",))
    assert len(asked) == 1
    qtbot.waitUntil(lambda: len(window.experiment.sweeps) == 1, timeout=120_000)
    assert trainer.state == WorkerState.STOPPED
    asked = answer(monkeypatch, QMessageBox.StandardButton.Yes)
    window.run_experiment(20, names=("naive",))  # not training: no question
    assert asked == []
    qtbot.waitUntil(lambda: len(window.experiment.sweeps) == 2, timeout=120_000)


def test_start_after_load_model_trains_on_from_it(window, qtbot, tmp_path, monkeypatch):
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.plots.last_step >= 60, timeout=120_000)
    fresh_first_loss = window.timeline.events[0].loss
    window.stop_training()
    qtbot.waitUntil(lambda: window.controls.start_button.isEnabled(), timeout=10_000)
    trained_loss = float(np.mean([e.loss for e in window.timeline.last(10)]))
    window.menus.save_model_to(str(tmp_path / "trained.keras"))
    qtbot.waitUntil(lambda: "Saved the model" in window.statusBar().currentMessage(), timeout=30_000)
    window.reset()
    window.menus.load_model_from(str(tmp_path / "trained.keras"))
    qtbot.waitUntil(lambda: window.session.model_origin == "trained.keras", timeout=30_000)
    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    window.controls.start_button.click()
    assert asked == [], "a model pipeviz trained: no question"
    assert "Training on from trained.keras" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: len(window.timeline.events) >= 3, timeout=60_000)
    first_loss = window.timeline.events[0].loss
    assert first_loss < 0.5 * fresh_first_loss and first_loss < 2 * trained_loss + 0.1, (
        first_loss, fresh_first_loss, trained_loss)
    assert window.session.model_origin == "training from trained.keras"


def test_start_after_loading_another_models_shape_asks(window, qtbot, tmp_path, monkeypatch):
    from pipeviz.core.model import build_model, save_model
    save_model(build_model(conv_filters=8, dense_units=16), tmp_path / "other.keras")
    window.menus.load_model_from(str(tmp_path / "other.keras"))
    qtbot.waitUntil(lambda: window.session.model_origin == "other.keras", timeout=30_000)
    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    window.controls.start_button.click()
    assert len(asked) == 1 and "fresh model" in asked[0] and not window.session.training
    asked = answer(monkeypatch, QMessageBox.StandardButton.Yes)
    window.controls.start_button.click()
    assert len(asked) == 1 and window.session.training
    assert window.session.model_origin == "training"


def test_status_after_training_finishes_says_trained(window, qtbot):
    window.session.set_epochs(1)
    window.controls.epochs_spin.setValue(1)
    images, _ = window.session.sample_images
    window.canvas.set_digit(images[0])
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: "model: training" in window.digit.prediction_label.text(), timeout=60_000)
    trainer = window.session.trainer
    qtbot.waitUntil(lambda: trainer.state == WorkerState.FINISHED, timeout=120_000)
    qtbot.waitUntil(lambda: "model: trained" in window.digit.prediction_label.text(), timeout=5_000)
    assert "training" not in window.digit.prediction_label.text()
    assert "finished" in window.statusBar().currentMessage()


def test_epochs_persist_between_launches(qtbot, tmp_path, caplog):
    from pipeviz.core.session import Session
    from pipeviz.gui.window import EPOCHS_KEY, MainWindow
    path = str(tmp_path / "settings.ini")
    settings = QSettings(path, QSettings.Format.IniFormat)
    first = MainWindow(Session(), settings)
    qtbot.addWidget(first)
    first.controls.epochs_spin.setValue(17)
    first.close()
    settings.sync()
    again = MainWindow(Session(), QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    assert again.controls.epochs_spin.value() == 17 and again.session.trainer_config.epochs == 17
    again.close()
    for bad in ("many", "0", "99999999"):
        settings = QSettings(path, QSettings.Format.IniFormat)
        settings.setValue(EPOCHS_KEY, bad)
        settings.sync()
        win = MainWindow(Session(), QSettings(path, QSettings.Format.IniFormat))
        qtbot.addWidget(win)
        assert win.controls.epochs_spin.value() == Session().trainer_config.epochs, bad
        assert f"ignoring saved setting {EPOCHS_KEY}" in caplog.text
        win.close()


def test_window_fits_1280x720_and_the_epoch_table_needs_no_horizontal_scrolling(window, qtbot):
    from pipeviz.core.events import EpochSummary
    for page in (window.learn, window.experiment, window.live_timeline, window.plots):
        window.show_tab(page)
        assert window.showing(page) and window.tabs.currentWidget().isAncestorOf(page) \
            or window.tabs.currentWidget() is page
    window.controls.start_button.click()  # the live figures' texts wrap: they must not
    qtbot.waitUntil(lambda: window.plots.last_step >= 20, timeout=60_000)  # grow the pages
    images, _ = window.session.sample_images
    window.canvas.set_digit(images[0])
    window._redraw()
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720 - 40, hint  # (title bar, panel)
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: window.size().toTuple() == (1280, 720), timeout=5_000)
    for epoch in range(3):
        window._on_epoch(EpochSummary(epoch, 100, 0.123456, 0.987654, 0.23456, 0.91234,
                                      123.4, 0.456, 1234.5, 0.3, 1.0, "moderately input-bound"))
    table = window.epoch_table
    qtbot.wait(50)
    columns = table.columnCount()
    right = table.columnViewportPosition(columns - 1) + table.columnWidth(columns - 1)
    assert right <= table.viewport().width() + 1, (right, table.viewport().width())
    for column in range(columns):
        assert table.columnWidth(column) >= table.horizontalHeader().sectionSizeHint(column) - 1 \
            or column == columns - 1, column
    assert table.columnWidth(columns - 1) >= 150, "the observation has room to read"
    for name in ("startButton", "prefetchToggle", "epochsSpin", "applyAdviceButton"):
        from PySide6.QtWidgets import QWidget
        widget = window.findChild(QWidget, name)
        assert widget.width() >= widget.minimumSizeHint().width() - 1, name
    # the live plots and the digit panel fit without scrolling at this size
    qtbot.wait(100)
    plots = window.tabs.widget(0)  # the live plots: the viewport's height, or their minimum
    needed = max(plots.viewport().height(), window.plots.minimumSizeHint().height())  # (scrolling)
    assert abs(plots.widget().height() - needed) <= 1, "sized to their preferred height (1,500 px)"
    assert plots.verticalScrollBar().maximum() == plots.widget().height() - plots.viewport().height()
    digit = window.findChild(type(plots), "digitScroll")  # the digit panel all there, scrolling
    page = digit.widget()
    dash = np.zeros((28, 28), np.float32)
    dash[14, 8:20] = 1  # "unsure": the reading grows a line
    for drawing in (images[0], dash):
        window.canvas.set_digit(drawing)
        window._redraw()
        qtbot.wait(100)
        assert page.height() >= window.digit.minimumSizeHint().height() - 1
        assert digit.verticalScrollBar().maximum() == max(0, page.height() - digit.viewport().height())
        bottom = window.digit.activations.geometry().bottom()
        assert bottom <= page.height(), "the last layer (Dense units) is cut off"
    assert "unsure" in window.digit.prediction_label.text()


def test_pause_and_resume_go_through_the_session(window, qtbot):
    window.controls.start_button.click()
    qtbot.waitUntil(lambda: window.plots.last_step >= 3, timeout=60_000)
    window.controls.pause_button.click()
    qtbot.waitUntil(lambda: window.session.paused, timeout=30_000)
    qtbot.waitUntil(lambda: window.controls.pause_button.text() == "Resume", timeout=5_000)
    qtbot.wait(300)  # the last steps before the pause reach the window
    status, last = window.step_label.text(), window.plots.last_step
    qtbot.wait(1500)  # paused: redraws go on, and the status's images/s must not move
    assert window.step_label.text() == status and "images/s" in status
    window.controls.pause_button.click()
    qtbot.waitUntil(lambda: not window.session.paused, timeout=10_000)
    qtbot.waitUntil(lambda: window.controls.pause_button.text() == "Pause", timeout=5_000)
    assert window.session.training
    qtbot.waitUntil(lambda: window.plots.last_step > last + 3, timeout=30_000)
    after = [e for e in window.timeline.last(50) if e.step > last]
    assert max(e.wall_s for e in after) < 1.0, "the 1.5 s pause is in no step's time"
