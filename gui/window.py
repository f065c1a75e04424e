"""The main window: pipeline diagram on top, controls and epoch table left, plots right."""
from __future__ import annotations

import logging
import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QMainWindow, QMessageBox, QProgressBar,
                               QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from pipeviz.core.config import ConfigError
from pipeviz.core.events import ConfigApplied, EpochSummary, StateChanged
from pipeviz.core.session import READY, Session
from pipeviz.core.timeline import Timeline

from .bridge import EventBridge
from .controls import ControlPanel
from .diagram import PipelineDiagram
from .plots import LivePlots

log = logging.getLogger(__name__)

REPLAY_DELAY_S = 0.25
"""The diagram shows the pipeline this far behind real time, so that every batch it draws
has already been reported with all its stage timestamps."""
CLOSE_TIMEOUT_S = 3.0
EPOCH_COLUMNS = ("epoch", "loss", "accuracy", "val loss", "val acc", "time (s)", "idle %")


def bottleneck_text(steps) -> str:
    """A plain-language line on what bounds the step, from the recent steps' breakdown."""
    wall = sum(e.wall_s for e in steps)
    if not steps or wall <= 0:
        return ""
    wait, host = (sum(getattr(e, f) for e in steps) / wall for f in ("input_wait_s", "host_s"))
    if wait >= max(host, 0.2):
        return f"input-bound: {wait:.0%} of each step waits for data"
    if host >= 0.2:
        return f"host-bound: {host:.0%} of each step is Python/host overhead"
    return f"compute-bound: the accelerator computes {1 - wait - host:.0%} of each step"


class MainWindow(QMainWindow):
    def __init__(self, session: Session):
        super().__init__()
        self.setWindowTitle("pipeviz: a TensorFlow input pipeline, live")
        self.session = session
        self.timeline = Timeline()
        self.recent_steps: list = []
        self.bridge = EventBridge(session.channel, self)
        self._build()
        self._connect()
        self.resize(1280, 800)
        self.bridge.start()

    # ----- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        self.diagram = PipelineDiagram()
        self.controls = ControlPanel(self.session.pipeline_config)
        self.plots = LivePlots()
        self.epoch_table = QTableWidget(0, len(EPOCH_COLUMNS))
        self.epoch_table.setObjectName("epochTable")
        self.epoch_table.setHorizontalHeaderLabels(EPOCH_COLUMNS)
        self.epoch_table.verticalHeader().setVisible(False)
        self.epoch_table.horizontalHeader().setStretchLastSection(True)
        self.epoch_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.epoch_table.resizeColumnsToContents()
        self.source_label = QLabel("Loading TensorFlow and the data…")
        self.source_label.setObjectName("sourceLabel")
        self.source_label.setWordWrap(True)
        self.bottleneck_label = QLabel("")
        self.bottleneck_label.setObjectName("bottleneckLabel")
        self.bottleneck_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.source_label, self.progress, self.controls, self.bottleneck_label,
                       self.epoch_table):
            left_layout.addWidget(widget)
        left.setMinimumWidth(330)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(left)
        lower.addWidget(self.plots)
        lower.setStretchFactor(1, 1)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.diagram, 0)
        layout.addWidget(lower, 1)
        self.setCentralWidget(central)
        self.step_label = QLabel("")
        self.statusBar().addPermanentWidget(self.step_label)
        self._set_training_buttons(ready=False, running=False)

    def _connect(self) -> None:
        self.controls.start_clicked.connect(self.start_training)
        self.controls.pause_clicked.connect(self.toggle_pause)
        self.controls.stop_clicked.connect(self.stop_training)
        self.controls.knob_changed.connect(self.apply_knobs)
        self.bridge.steps.connect(self._on_steps)
        self.bridge.epoch.connect(self._on_epoch)
        self.bridge.state.connect(self._on_state)
        self.bridge.config_applied.connect(self._on_config_applied)
        self.bridge.progress.connect(self._on_progress)
        self.bridge.error.connect(self.show_error)
        self.bridge.tick.connect(self._redraw)
        QShortcut(QKeySequence("Ctrl+R"), self, activated=self.start_training)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, activated=self.toggle_pause)

    def _set_training_buttons(self, ready: bool, running: bool) -> None:
        self.controls.start_button.setEnabled(ready and not running)
        self.controls.pause_button.setEnabled(running)
        self.controls.stop_button.setEnabled(running)

    # ----- actions ---------------------------------------------------------------------
    def start_training(self) -> None:
        if not self.session.ready or self.session.training:
            return
        self.plots.reset()
        self.timeline.clear()
        self.epoch_table.setRowCount(0)
        self.session.start()
        self._set_training_buttons(ready=True, running=True)

    def toggle_pause(self) -> None:
        trainer = self.session.trainer
        if trainer is None or not self.session.training:
            return
        if trainer.state == "paused":
            trainer.resume()
        else:
            trainer.pause()

    def stop_training(self) -> None:
        if self.session.trainer is not None:
            self.session.trainer.stop()

    def apply_knobs(self, changes: dict) -> None:
        try:
            self.session.reconfigure(**changes)
        except ConfigError as exc:
            self.show_error(str(exc))
            self.controls.set_config(self.session.pipeline_config)

    def show_error(self, message: str) -> None:
        log.error("%s", message)
        box = QMessageBox(QMessageBox.Icon.Warning, "pipeviz", message, parent=self)
        box.setObjectName("errorDialog")
        box.open()

    # ----- events ----------------------------------------------------------------------
    def _on_steps(self, steps: list) -> None:
        self.timeline.add(steps)
        self.plots.add_steps(steps)
        self.recent_steps = (self.recent_steps + steps)[-400:]

    def _on_epoch(self, summary: EpochSummary) -> None:
        self.plots.add_epoch(summary)
        row = self.epoch_table.rowCount()
        self.epoch_table.insertRow(row)
        values = (summary.epoch + 1, f"{summary.train_loss:.4f}", f"{summary.train_accuracy:.4f}",
                  f"{summary.val_loss:.4f}", f"{summary.val_accuracy:.4f}", f"{summary.seconds:.1f}",
                  f"{100 * summary.idle_fraction:.0f}")
        for column, value in enumerate(values):
            self.epoch_table.setItem(row, column, QTableWidgetItem(str(value)))

    def _on_state(self, event: StateChanged) -> None:
        if event.state == READY:
            self.source_label.setText(f"Data: {event.detail}")
            self.progress.setVisible(False)
        elif event.state == "preparing":
            self.source_label.setText("Loading TensorFlow and the data…")
        running = event.state in ("running", "paused")
        self.controls.pause_button.setText("Resume" if event.state == "paused" else "Pause")
        self._set_training_buttons(self.session.ready, running)
        self.statusBar().showMessage(f"Training {event.state}" if event.state not in (READY, "preparing")
                                     else "", 5000)

    def _on_config_applied(self, applied: ConfigApplied) -> None:
        self.plots.mark(applied)

    def _on_progress(self, progress) -> None:
        self.progress.setVisible(progress.done < progress.total)
        self.progress.setFormat(f"{progress.what}: %p%")
        self.progress.setRange(0, progress.total)
        self.progress.setValue(progress.done)

    def _redraw(self) -> None:
        """On every bridge tick (~30 Hz): draw the latest state, once."""
        now = time.time() - REPLAY_DELAY_S
        state = self.timeline.state_at(now) if self.timeline.events else None
        self.diagram.show_state(state, self.session.pipeline_config)
        self.plots.refresh()
        recent = [e for e in self.recent_steps if e.t_trained >= now - 1.0] or self.recent_steps[-50:]
        self.bottleneck_label.setText(bottleneck_text(recent))
        if self.recent_steps:
            last = self.recent_steps[-1]
            ips = sum(e.batch_size for e in recent) / max(sum(e.wall_s for e in recent), 1e-9)
            self.step_label.setText(f"epoch {last.epoch + 1} · step {last.step} · {ips:,.0f} images/s")

    # ----- shutdown --------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.bridge.stop()
        if not self.session.close(CLOSE_TIMEOUT_S):
            log.warning("the worker did not stop within %.0f s; leaving it (daemon thread)",
                        CLOSE_TIMEOUT_S)
        super().closeEvent(event)
