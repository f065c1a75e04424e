"""The main window: pipeline diagram on top, controls and epoch table left, plots right."""
from __future__ import annotations

import logging
import threading
import time

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QApplication, QFileDialog, QHBoxLayout, QLabel, QMainWindow,
                               QMessageBox, QProgressBar, QPushButton, QSplitter, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from pipeviz.core.config import ConfigError
from pipeviz.core.digits import shape_doubt, to_mnist
from pipeviz.core.events import (ConfigApplied, EpochSummary, ProfileCaptured, StateChanged,
                                 SweepProgress)
from pipeviz.core.experiment import SweepConfigDone, SweepFinished
from pipeviz.core.learn import KnobEvidence, evidence, observe
from pipeviz.core.session import READY, Session
from pipeviz.core.stepstats import WINDOW_STEPS
from pipeviz.core.timeline import Timeline, span_of
from pipeviz.core.trace import TraceWritten

from .activations import ActivationsView, PredictionBars, prediction_text
from .advisor import AdvisorPanel
from .bridge import EventBridge
from .canvas import DigitCanvas
from .controls import ControlPanel
from .diagram import PipelineDiagram
from .gcguard import GuiThreadCollector
from .learn import LearnPanel
from .settings import load_geometry, save_pipeline_config

log = logging.getLogger(__name__)

REPLAY_DELAY_S = 0.25
"""The diagram shows the pipeline this far behind real time, so that every batch it draws
has already been reported with all its stage timestamps."""
CLOSE_TIMEOUT_S = 2.0
REPREDICT_WHILE_TRAINING_S = 1.5
"""While training changes the weights, the drawn digit is predicted again this often."""
EPOCH_COLUMNS = ("epoch", "loss", "accuracy", "val loss", "val acc", "time (s)", "idle %",
                 "observation")
ADVICE_EVERY_S = 1.0
"""The advisor re-reads the recent steps this often."""
ADVICE_STEPS = WINDOW_STEPS
"""...the last this many steps trained under the current config (the idle plot's window)."""
TRACE_STEPS = 10_000
"""File > Export trace writes the stage spans of up to this many of the latest steps."""
ADVICE_SETTLE_STEPS = 8
"""Steps after a change left out of the advice (the new pipeline filling its buffers)."""
LIVE_TIMELINE_S = 2.0
PROFILE_STEPS = 20

PLOT_TABS = ("Live plots", "Step timeline", "Experiment")
"""The tabs holding pyqtgraph panels (see `build_plot_panels`)."""


class MainWindow(QMainWindow):
    def __init__(self, session: Session, settings: QSettings | None = None,
                 defer_plots: bool = False):
        """`defer_plots`: leave the pyqtgraph panels (and the event bridge) to a later
        `build_plot_panels()` call, so the window can show before pyqtgraph loads."""
        super().__init__()
        self.setWindowTitle("pipeviz: a TensorFlow input pipeline, live")
        self.session = session
        self.settings = settings
        self.timeline = Timeline()
        self.prediction = None
        self._digit_dirty = False
        self._last_prediction_at = 0.0
        self._last_advice_at = 0.0
        self._config_since_step = 0     # the first step trained under the current config
        self._epoch_changes: list[str] = []  # knobs changed during the running epoch
        self._last_epoch: EpochSummary | None = None
        self.knob_evidence = KnobEvidence()  # also the steps File > Export trace writes
        self.bridge = EventBridge(session.channel, self)
        self.collector = GuiThreadCollector(self)  # garbage with Qt objects dies on this thread
        self.plots = self.live_timeline = self.experiment = None  # see build_plot_panels
        self._build()
        self._build_menu()
        self._connect()
        self._set_training_buttons(ready=False, running=False)
        self.resize(1280, 800)
        geometry = load_geometry(settings) if settings is not None else None
        if geometry is not None and not self.restoreGeometry(geometry):
            log.warning("ignoring saved setting geometry: Qt could not restore it")
        if not defer_plots:
            self.build_plot_panels()

    def build_plot_panels(self) -> None:
        """Build the live plots, the live step timeline and the experiment panel into their
        tabs, then start the event bridge. `pipeviz` calls this after the window's first
        paint: importing pyqtgraph takes seconds on a slow machine. Until then nothing
        reaches the window (the bridge is not started) and the tabs say they are loading."""
        if self.plots is not None:
            return
        from .experiment import ExperimentPanel
        from .gantt import StepTimelineView
        from .plots import LivePlots

        self.plots = LivePlots()
        self.live_timeline = StepTimelineView("liveTimeline")
        self.experiment = ExperimentPanel()
        current = self.tabs.currentIndex()
        for index, (widget, title) in enumerate(zip((self.plots, self.live_timeline,
                                                     self.experiment), PLOT_TABS)):
            placeholder = self.tabs.widget(index)
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, widget, title)
            placeholder.deleteLater()
        self.tabs.setCurrentIndex(current)
        self.experiment.run_clicked.connect(self.run_experiment)
        self.experiment.cancel_clicked.connect(self.cancel_experiment)
        self.experiment.error.connect(self.show_error)
        self._set_training_buttons(ready=self.session.ready, running=self.session.training)
        self.bridge.start()

    # ----- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        self.diagram = PipelineDiagram()
        self.controls = ControlPanel(self.session.pipeline_config)
        self.controls.epochs_spin.setValue(self.session.trainer_config.epochs)
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
        self.advisor = AdvisorPanel()
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.source_label, self.progress, self.controls, self.advisor,
                       self.epoch_table):
            left_layout.addWidget(widget)
        left.setMinimumWidth(330)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(left)
        lower.addWidget(self._tabs())
        lower.addWidget(self._digit_panel())
        lower.setStretchFactor(1, 1)
        lower.setSizes([330, 560, 370])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.diagram, 0)
        layout.addWidget(lower, 1)
        self.setCentralWidget(central)
        self.step_label = QLabel("")
        self.statusBar().addPermanentWidget(self.step_label)

    def _tabs(self) -> QTabWidget:
        """The middle: live plots, the live step timeline, the experiment and learn panels
        (the first three hold placeholders until `build_plot_panels`)."""
        self.learn = LearnPanel(self._evidence)
        self.tabs = QTabWidget(objectName="mainTabs")
        for title in PLOT_TABS:
            placeholder = QLabel("Loading the plots…", alignment=Qt.AlignmentFlag.AlignCenter)
            self.tabs.addTab(placeholder, title)
        self.tabs.addTab(self.learn, "Learn")
        return self.tabs

    def _evidence(self, question) -> str:
        drawn = float(self.prediction.image.max()) if self.prediction is not None else None
        return evidence(question, self.knob_evidence, self.session.normalized_150, drawn)

    def _digit_panel(self) -> QWidget:
        self.canvas = DigitCanvas()
        self.canvas.setFixedSize(170, 170)
        self.preview = QLabel()
        self.preview.setObjectName("modelInputPreview")
        self.preview.setFixedSize(84, 84)
        self.preview.setToolTip("What the model sees: your drawing as an MNIST digit")
        self.preview.setStyleSheet("background: black; border: 1px solid #889")
        self.prediction_label = QLabel("")
        self.prediction_label.setObjectName("predictionLabel")
        self.prediction_label.setWordWrap(True)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clearCanvasButton")
        self.clear_button.setToolTip("Clear the drawing (Esc)")
        side = QVBoxLayout()
        side.addWidget(QLabel("Model input"))
        side.addWidget(self.preview)
        side.addWidget(self.prediction_label)
        side.addStretch(1)
        side.addWidget(self.clear_button)
        top = QHBoxLayout()
        top.addWidget(self.canvas)
        top.addLayout(side)
        self.prediction_bars = PredictionBars()
        self.activations = ActivationsView()
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.prediction_bars, 1)
        layout.addWidget(self.activations, 2)
        panel.setMinimumWidth(300)
        return panel

    def _build_menu(self) -> None:
        self._build_file_menu()
        menu = self.menuBar().addMenu("&Run")
        self.actions = {}
        for key, text, shortcut, slot in (
                ("experiment", "Run &experiment", "Ctrl+E", self.run_experiment),
                ("cancel", "&Cancel experiment", None, self.cancel_experiment),
                ("profile", f"Capture &profile ({PROFILE_STEPS} steps)", "Ctrl+P", self.capture_profile),
                ("scalars", "Write &TensorBoard scalars", None, self.set_write_scalars),
                ("tensorboard", "Copy TensorBoard &command", None, self.copy_tensorboard_command)):
            action = QAction(text, self)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(slot)
            menu.addAction(action)
            self.actions[key] = action
        self.actions["scalars"].setCheckable(True)
        self.actions["scalars"].setChecked(self.session.write_scalars)

    def _build_file_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")
        for text, shortcut, slot in (("Open data &folder…", "Ctrl+O", self.open_data_folder),
                                     ("Open MNIST &npz…", None, self.open_data_npz),
                                     ("&Save model…", "Ctrl+S", self.save_model),
                                     ("&Load model…", "Ctrl+L", self.load_model),
                                     ("Export &trace…", None, self.export_trace),
                                     ("&Quit", "Ctrl+Q", self.close)):
            action = QAction(text, self)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(slot)
            menu.addAction(action)

    def _connect(self) -> None:
        self.controls.start_clicked.connect(self.start_training)
        self.controls.pause_clicked.connect(self.toggle_pause)
        self.controls.stop_clicked.connect(self.stop_training)
        self.controls.reset_clicked.connect(self.reset)
        self.controls.balance_clicked.connect(self.balance_latency)
        self.controls.epochs_changed.connect(self.session.set_epochs)
        self.controls.knob_changed.connect(self.apply_knobs)
        self.bridge.steps.connect(self._on_steps)
        self.bridge.epoch.connect(self._on_epoch)
        self.bridge.state.connect(self._on_state)
        self.bridge.config_applied.connect(self._on_config_applied)
        self.bridge.progress.connect(self._on_progress)
        self.bridge.error.connect(self.show_error)
        self.bridge.tick.connect(self._redraw)
        self.bridge.other.connect(self._on_other)
        self.advisor.apply_clicked.connect(self.apply_advice)
        self.canvas.changed.connect(self._mark_digit_dirty)
        # While drawing, predictions follow at the frame rate; when the pen lifts, at once.
        self.canvas.stroke_finished.connect(self.update_prediction)
        self.clear_button.clicked.connect(self.canvas.clear)
        QShortcut(QKeySequence("Ctrl+R"), self, activated=self.start_training)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, activated=self.toggle_pause)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self.canvas.clear)

    def _set_training_buttons(self, ready: bool, running: bool) -> None:
        sweeping = self.session.sweeping
        self.controls.start_button.setEnabled(ready and not running and not sweeping)
        if self.experiment is not None:
            self.experiment.set_ready(ready, sweeping)
        self.actions["experiment"].setEnabled(ready and not sweeping)
        self.actions["cancel"].setEnabled(sweeping)
        self.actions["profile"].setEnabled(running)
        self.controls.reset_button.setEnabled(ready)
        self.controls.balance_button.setEnabled(bool(self.timeline.events))
        self.controls.pause_button.setEnabled(running)
        self.controls.stop_button.setEnabled(running)

    @property
    def trace_steps(self) -> list:
        """The steps File > Export trace writes: the latest TRACE_STEPS of this run."""
        return self.knob_evidence.latest(TRACE_STEPS)

    @property
    def recent_steps(self) -> list:
        """The last few hundred steps (from the timeline, which already holds them)."""
        return self.timeline.last(400)

    # ----- actions ---------------------------------------------------------------------
    def start_training(self) -> None:
        if not self.session.ready or self.session.training:
            return
        self._clear_run_views()
        try:
            self.session.start()
        except (ConfigError, RuntimeError) as exc:  # e.g. a batch larger than the data
            self.show_error(str(exc))
            return
        self._set_training_buttons(ready=True, running=True)

    def _clear_run_views(self) -> None:
        self.plots.reset()
        self.timeline.clear()
        self.epoch_table.setRowCount(0)
        self.advisor.reset()
        self.knob_evidence.clear()
        self._config_since_step, self._epoch_changes, self._last_epoch = 0, [], None

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

    def reset(self) -> None:
        self.session.reset()
        self._clear_run_views()
        self.step_label.setText("")
        self._mark_digit_dirty()
        self._set_training_buttons(self.session.ready, running=False)

    def balance_latency(self) -> None:
        """Storage latency := the recent steps' median compute time minus the pipeline's own
        median time per batch after the read (normalize, augment), so that loading a batch
        takes as long as training on it: where prefetching matters most (as bench --balance)."""
        steps = self.recent_steps[-200:]
        if steps:
            own = [sum(span_of(e, stage)[1] - span_of(e, stage)[0] for stage in ("normalize", "augment"))
                   for e in steps]
            self.controls.set_latency_ms(1e3 * max(0.0, float(np.median([e.compute_s for e in steps]))
                                                   - float(np.median(own))))

    def apply_advice(self, changes: dict) -> None:
        """The advisor's change: made as if the user had set the knobs."""
        self.apply_knobs(changes)
        self.controls.set_config(self.session.pipeline_config)

    def run_experiment(self, steps: int | None = None, names: tuple[str, ...] | None = None) -> None:
        """Measure every config, or `names` (stops training first); results arrive as
        sweep events."""
        steps = steps or self.experiment.steps_spin.value()
        was_training = self.session.training
        try:
            self.session.run_sweep(names, steps=steps)
        except RuntimeError as exc:
            self.show_error(str(exc))
            return
        if was_training:
            self.statusBar().showMessage("Training stopped: the experiment needs the machine to itself", 8000)
        self.tabs.setCurrentWidget(self.experiment)
        self.experiment.started()
        self._set_training_buttons(self.session.ready, running=False)

    def cancel_experiment(self) -> None:
        if self.session.sweep is not None:
            self.session.sweep.cancel()

    def capture_profile(self) -> None:
        try:
            folder = self.session.capture_profile(PROFILE_STEPS)
        except Exception as exc:
            self.show_error(str(exc))
            return
        self.statusBar().showMessage(f"Profiling {PROFILE_STEPS} steps into {folder}…", 8000)

    def set_write_scalars(self, on: bool) -> None:
        self.session.write_scalars = bool(on)
        if self.settings is not None:
            self.settings.setValue("write_scalars", bool(on))

    def tensorboard_command(self) -> str:
        from pipeviz.core.tboard import default_runs_root
        root = self.session.runs_root or default_runs_root()
        return f"tensorboard --logdir \"{root}\""

    def copy_tensorboard_command(self) -> None:
        QApplication.clipboard().setText(self.tensorboard_command())
        self.statusBar().showMessage(f"Copied: {self.tensorboard_command()}", 8000)

    def apply_knobs(self, changes: dict) -> None:
        try:
            self.session.reconfigure(**changes)
        except ConfigError as exc:
            self.show_error(str(exc))
            self.controls.set_config(self.session.pipeline_config)

    def open_data_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of MNIST IDX files")
        if folder:
            self.use_data(folder)

    def open_data_npz(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a Keras mnist.npz", "", "NumPy archives (*.npz)")
        if path:
            self.use_data(path)

    def use_data(self, path: str) -> None:
        """Switch to another data source (stops training; prepares it in the background)."""
        self.session.stop_training()
        self.session.change_data(path)
        self.source_label.setText(f"Loading {path}…")
        if self.settings is not None:
            self.settings.setValue("data_path", path)

    def save_model(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the model", "pipeviz-mnist.keras",
                                              "Keras models (*.keras)")
        if path:
            self.save_model_to(path)

    def save_model_to(self, path: str) -> None:
        try:
            saved = self.session.save_model(path)
        except Exception as exc:  # ModelFileError, or no model yet: say so, stay usable
            self.show_error(str(exc))
            return
        self.statusBar().showMessage(f"Saved the model to {saved}", 8000)

    def export_trace(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the step trace", "pipeviz-trace.json",
                                              "Chrome trace (*.json)")
        if path:
            self.export_trace_to(path)

    def export_trace_to(self, path: str) -> threading.Thread | None:
        """Write the latest steps' stage spans as a Chrome trace (Perfetto opens it) on a
        thread; a TraceWritten event on the session's channel reports it."""
        from pipeviz.core.trace import export_in_background

        steps = self.trace_steps
        if not steps:
            self.show_error("Nothing to export yet: train a few steps first.")
            return None
        label = f"pipeviz: steps {steps[0].step}-{steps[-1].step}"
        return export_in_background(path, label, steps, self.session.channel)

    def _on_trace_written(self, event) -> None:
        if event.error:
            self.show_error(f"Could not write the trace to {event.path}: {event.error}")
        else:
            self.statusBar().showMessage(f"Exported {event.steps:,} steps to {event.path}: open it "
                                         "in ui.perfetto.dev or chrome://tracing", 10000)

    def load_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a model", "", "Keras models (*.keras)")
        if path:
            self.load_model_from(path)

    def load_model_from(self, path: str) -> None:
        try:
            self.session.load_model(path)
        except Exception as exc:
            self.show_error(str(exc))
            return
        self.statusBar().showMessage(f"Predicting with {path}", 8000)
        self._mark_digit_dirty()

    def _mark_digit_dirty(self) -> None:
        self._digit_dirty = True

    def update_prediction(self) -> None:
        """Run the model on the drawing: when it changed (at most once per frame), and every
        REPREDICT_WHILE_TRAINING_S while training, so the bars follow the changing weights."""
        predictor = self.session.predictor
        self._digit_dirty = False
        self._last_prediction_at = time.monotonic()
        drawing = self.canvas.drawing()
        image = to_mnist(drawing)
        if image is None or predictor is None:
            self.prediction = None
            self.preview.clear()
            self.prediction_label.setText("" if predictor else "model loading…")
            self.prediction_bars.show_probabilities(None)
            self.activations.show_prediction(None)
            return
        self.prediction = p = predictor.predict(image, shape_doubt(drawing))
        pixels = np.ascontiguousarray((image * 255).astype(np.uint8))
        preview = QImage(pixels.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()
        self.preview.setPixmap(QPixmap.fromImage(preview).scaled(84, 84))
        self.prediction_label.setText(prediction_text(p, self.session.model_origin))
        self.prediction_bars.show_probabilities(p.probabilities)
        self.activations.show_prediction(p)

    def show_error(self, message: str) -> None:
        log.error("%s", message)
        box = QMessageBox(QMessageBox.Icon.Warning, "pipeviz", message, parent=self)
        box.setObjectName("errorDialog")
        box.open()

    # ----- events ----------------------------------------------------------------------
    def _on_steps(self, steps: list) -> None:
        self.timeline.add(steps)
        self.plots.add_steps(steps)
        self.knob_evidence.add_steps(steps)
        self.advisor.add_steps(steps)
        self.controls.balance_button.setEnabled(True)

    def _on_epoch(self, summary: EpochSummary) -> None:
        self.plots.add_epoch(summary)
        row = self.epoch_table.rowCount()
        self.epoch_table.insertRow(row)
        values = (summary.epoch + 1, f"{summary.train_loss:.4f}", f"{summary.train_accuracy:.4f}",
                  f"{summary.val_loss:.4f}", f"{summary.val_accuracy:.4f}", f"{summary.seconds:.1f}",
                  f"{100 * summary.idle_fraction:.0f}",
                  observe(summary, self._last_epoch, self._epoch_changes))
        self._last_epoch, self._epoch_changes = summary, []
        for column, value in enumerate(values):
            self.epoch_table.setItem(row, column, QTableWidgetItem(str(value)))
        self.epoch_table.resizeColumnsToContents()
        self.epoch_table.scrollToBottom()

    def _on_state(self, event: StateChanged) -> None:
        log.info("state: %s %s", event.state, event.detail)
        if event.state == READY:
            self.collector.freeze()  # TensorFlow is loaded: its objects live as long as we do
            self.source_label.setText(f"Data: {event.detail}")
            self.progress.setVisible(False)
            self._mark_digit_dirty()
        elif event.state == "preparing":
            self.source_label.setText("Loading TensorFlow and the data…")
        if event.state in ("stopped", "finished"):  # nothing animates now: a full collection
            QTimer.singleShot(0, self.collector.collect_all)
        running = event.state in ("running", "paused")
        self.controls.pause_button.setText("Resume" if event.state == "paused" else "Pause")
        self._set_training_buttons(self.session.ready, running)
        self.statusBar().showMessage(f"Training {event.state}" if event.state not in (READY, "preparing")
                                     else "", 5000)

    def _on_config_applied(self, applied: ConfigApplied) -> None:
        self.plots.mark(applied)
        self.knob_evidence.add_change(applied)
        self.advisor.on_config_applied(applied)
        self._config_since_step = applied.step
        self._epoch_changes.extend(applied.changed)

    def _on_other(self, event) -> None:
        if isinstance(event, SweepProgress):
            self.experiment.on_progress(event)
        elif isinstance(event, SweepConfigDone):
            self.experiment.on_config_done(event.run)
        elif isinstance(event, SweepFinished):
            self.experiment.on_finished(event)
            self._set_training_buttons(self.session.ready, self.session.training)
        elif isinstance(event, TraceWritten):
            self._on_trace_written(event)
        elif isinstance(event, ProfileCaptured):
            if event.error:
                self.show_error(f"Profile capture failed: {event.error}")
            else:
                self.statusBar().showMessage(
                    f"Profiled {event.steps} steps into {event.logdir}: open it with "
                    f"{self.tensorboard_command()} (Profile tab)", 15000)

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
        weights_moving = self.session.training and self.prediction is not None
        since = time.monotonic() - self._last_prediction_at
        if self._digit_dirty or (weights_moving and since > REPREDICT_WHILE_TRAINING_S):
            self.update_prediction()
        self._update_advice()
        if self.tabs.currentWidget() is self.live_timeline and self.timeline.events:
            self.live_timeline.show_live(self.timeline.since(now - LIVE_TIMELINE_S), now,
                                         LIVE_TIMELINE_S)
        latest = self.plots.latest  # the idle plot's newest point: one figure, one number
        if latest is not None and self.timeline.events:
            last = self.timeline.events[-1]
            self.step_label.setText(f"epoch {last.epoch + 1} · step {last.step} · "
                                    f"{latest.images_per_s:,.0f} images/s (last {latest.steps} steps)")

    def _update_advice(self) -> None:
        """About once a second: advice from the recent steps under the current config."""
        if time.monotonic() - self._last_advice_at < ADVICE_EVERY_S:
            return
        self._last_advice_at = time.monotonic()
        first = self._config_since_step + ADVICE_SETTLE_STEPS
        steps = [e for e in self.timeline.last(ADVICE_STEPS) if e.step >= first]
        if len(steps) >= 10:
            self.advisor.update_advice(steps, self.session.pipeline_config)

    # ----- shutdown --------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.bridge.stop()
        if self.settings is not None:
            self.settings.setValue("geometry", self.saveGeometry())
            save_pipeline_config(self.settings, self.session.pipeline_config)
        if self.session.close(CLOSE_TIMEOUT_S):
            self.collector.stop()
        else:  # keep collecting on the GUI thread only: a worker may still allocate
            log.warning("the worker did not stop within %.0f s; leaving it (daemon thread)",
                        CLOSE_TIMEOUT_S)
        super().closeEvent(event)
