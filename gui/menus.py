"""The File and Run menus and the file actions behind them: open another data source, save
and load the model, export the step trace, TensorBoard scalars, profile and command.

Everything slow happens off the GUI thread (the Session's helper threads, the trace
writer); the outcome comes back as an event, which the window routes to `on_action_done`,
`on_trace_written` and `on_profile_captured`. What the menus say goes out as signals
(`message`, `error`); the experiment items ask the window (`experiment_requested`,
`cancel_requested`), which owns the run controls.
"""
from __future__ import annotations

import threading
from typing import Callable, Sequence

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow

from pipeviz.core.events import ActionDone, ProfileCaptured, StepEvent
from pipeviz.core.session import Session
from pipeviz.core.state import SessionAction
from pipeviz.core.trace import TraceWritten

PROFILE_STEPS = 20


class MenuActions(QObject):
    message = Signal(str, int)      # a status-bar message and how long to show it (ms)
    error = Signal(str)             # something failed: the window shows a dialog
    data_changing = Signal(str)     # another data source is being prepared
    experiment_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, window: QMainWindow, session: Session, settings: QSettings | None,
                 trace_steps: Callable[[], Sequence[StepEvent]]):
        """`trace_steps`: the steps File > Export trace writes (the window keeps them)."""
        super().__init__(window)
        self.window = window
        self.session = session
        self.settings = settings
        self._trace_steps = trace_steps
        self.actions: dict[str, QAction] = {}
        self._build_file_menu()
        self._build_run_menu()

    def _add(self, menu, key: str, text: str, shortcut: str | None, slot) -> QAction:
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        self.actions[key] = action
        return action

    def _build_file_menu(self) -> None:
        menu = self.window.menuBar().addMenu("&File")
        for key, text, shortcut, slot in (
                ("open_folder", "Open data &folder…", "Ctrl+O", self.open_data_folder),
                ("open_npz", "Open MNIST &npz…", None, self.open_data_npz),
                ("save_model", "&Save model…", "Ctrl+S", self.save_model),
                ("load_model", "&Load model…", "Ctrl+L", self.load_model),
                ("export_trace", "Export &trace…", None, self.export_trace),
                ("quit", "&Quit", "Ctrl+Q", self.window.close)):
            self._add(menu, key, text, shortcut, slot)

    def _build_run_menu(self) -> None:
        menu = self.window.menuBar().addMenu("&Run")
        for key, text, shortcut, slot in (
                ("experiment", "Run &experiment", "Ctrl+E", self.experiment_requested.emit),
                ("cancel", "&Cancel experiment", None, self.cancel_requested.emit),
                ("profile", f"Capture &profile ({PROFILE_STEPS} steps)", "Ctrl+P", self.capture_profile),
                ("scalars", "Write &TensorBoard scalars", None, self.set_write_scalars),
                ("tensorboard", "Copy TensorBoard &command", None, self.copy_tensorboard_command)):
            self._add(menu, key, text, shortcut, slot)
        self.actions["scalars"].setCheckable(True)
        self.actions["scalars"].setChecked(self.session.write_scalars)

    def set_enabled(self, ready: bool, running: bool, sweeping: bool) -> None:
        self.actions["experiment"].setEnabled(ready and not sweeping)
        self.actions["cancel"].setEnabled(sweeping)
        self.actions["profile"].setEnabled(running)

    # ----- Run ---------------------------------------------------------------------------
    def capture_profile(self) -> None:
        try:
            folder = self.session.capture_profile(PROFILE_STEPS)
        except Exception as exc:
            self.error.emit(str(exc))
            return
        self.message.emit(f"Profiling {PROFILE_STEPS} steps into {folder}…", 8000)

    def set_write_scalars(self, on: bool) -> None:
        self.session.write_scalars = bool(on)
        if self.settings is not None:
            self.settings.setValue("write_scalars", bool(on))

    def tensorboard_command(self) -> str:
        return self.session.tensorboard_command

    def copy_tensorboard_command(self) -> None:
        QApplication.clipboard().setText(self.tensorboard_command())
        self.message.emit(f"Copied: {self.tensorboard_command()}", 8000)

    def on_profile_captured(self, event: ProfileCaptured) -> None:
        if event.error:
            self.error.emit(f"Profile capture failed: {event.error}")
        else:
            self.message.emit(f"Profiled {event.steps} steps into {event.logdir}: open it with "
                              f"{self.tensorboard_command()} (Profile tab)", 15000)

    # ----- File --------------------------------------------------------------------------
    def open_data_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open a folder of MNIST IDX files")
        if folder:
            self.use_data(folder)

    def open_data_npz(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a Keras mnist.npz", "",
                                              "NumPy archives (*.npz)")
        if path:
            self.use_data(path)

    def use_data(self, path: str) -> None:
        """Switch to another data source (training and experiments stop; the data is
        prepared in the background)."""
        self.session.change_data(path)
        self.data_changing.emit(path)
        if self.settings is not None:
            self.settings.setValue("data_path", path)

    def save_model(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save the model", "pipeviz-mnist.keras",
                                              "Keras models (*.keras)")
        if path:
            self.save_model_to(path)

    def save_model_to(self, path: str) -> None:
        """Save on a helper thread; ActionDone says where, or why not."""
        try:
            self.session.save_model_later(path)
        except RuntimeError as exc:  # no model yet: say so, stay usable
            self.error.emit(str(exc))

    def load_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Load a model", "", "Keras models (*.keras)")
        if path:
            self.load_model_from(path)

    def load_model_from(self, path: str) -> None:
        """Load on a helper thread; ActionDone says it is in use, or why not."""
        self.session.load_model(path)
        self.message.emit(f"Loading {path}…", 8000)

    def on_action_done(self, event: ActionDone) -> None:
        """What a finished session action means to the person who asked for it."""
        if event.error:
            self.error.emit(event.error)
        elif event.what == SessionAction.SAVE_MODEL:
            self.message.emit(f"Saved the model to {event.detail}", 8000)
        elif event.what == SessionAction.LOAD_MODEL:
            self.message.emit(f"Predicting with {event.detail}; Start trains on from it, "
                              "Reset starts over", 10000)

    def export_trace(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export the step trace",
                                              "pipeviz-trace.json", "Chrome trace (*.json)")
        if path:
            self.export_trace_to(path)

    def export_trace_to(self, path: str) -> threading.Thread | None:
        """Write the latest steps' stage spans as a Chrome trace (Perfetto opens it) on a
        thread; a TraceWritten event on the session's channel reports it."""
        from pipeviz.core.trace import export_in_background

        steps = self._trace_steps()
        if not steps:
            self.error.emit("Nothing to export yet: train a few steps first.")
            return None
        label = f"pipeviz: steps {steps[0].step}-{steps[-1].step}"
        return export_in_background(path, label, steps, self.session.channel)

    def on_trace_written(self, event: TraceWritten) -> None:
        if event.error:
            self.error.emit(f"Could not write the trace to {event.path}: {event.error}")
        else:
            self.message.emit(f"Exported {event.steps:,} steps to {event.path}: open it "
                              "in ui.perfetto.dev or chrome://tracing", 10000)
