"""The main window: it composes the panels and routes the worker's events to them.

Top: the pipeline diagram. Below, left to right: the run controls and the advisor (they
scroll when the window is short); the plot tabs with a slot above them for notes and the
epoch table below; the digit panel. Each panel owns its widgets and state (DigitPanel,
EpochTable, AdvisorPanel, MenuActions with the file actions); the window holds what they
share (the session, the run's steps) and the run controls, and never reaches past the
`Session` into its workers.
"""
from __future__ import annotations

import logging
import time

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QLabel, QMainWindow, QMessageBox, QProgressBar,
                               QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from pipeviz.core.balance import Balance
from pipeviz.core.config import ConfigError
from pipeviz.core.events import (ActionDone, ConfigApplied, EpochSummary, ProfileCaptured,
                                 StateChanged, SweepProgress)
from pipeviz.core.experiment import SweepConfigDone, SweepFinished
from pipeviz.core.learn import KnobEvidence, evidence
from pipeviz.core.session import ModelMismatch, Session
from pipeviz.core.state import SessionAction, WorkerState
from pipeviz.core.timeline import Timeline
from pipeviz.core.trace import TraceWritten

from .advisor import AdvisorPanel
from .bridge import EventBridge
from .controls import ControlPanel
from .diagram import PipelineDiagram
from .digitpanel import DigitPanel
from .epochtable import EpochTable
from .gcguard import GuiThreadCollector
from .guide import Lesson
from .learn import LearnPanel
from .menus import MenuActions
from .pages import FillPage, scrolling
from .settings import load_geometry, load_int, save_pipeline_config

log = logging.getLogger(__name__)

REPLAY_DELAY_S = 0.25
"""The diagram shows the pipeline this far behind real time, so that every batch it draws
has already been reported with all its stage timestamps."""
CLOSE_TIMEOUT_S = 2.0
TRACE_STEPS = 10_000
"""File > Export trace writes the stage spans of up to this many of the latest steps."""
LIVE_TIMELINE_S = 2.0
EPOCHS_KEY = "trainer/epochs"
"""The settings key of the Epochs knob (persisted like the pipeline knobs)."""

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
        self.knob_evidence = KnobEvidence()  # also the steps File > Export trace writes
        self.bridge = EventBridge(session.channel, self)
        self.collector = GuiThreadCollector(self)  # garbage with Qt objects dies on this thread
        self.plots = self.live_timeline = self.experiment = None  # see build_plot_panels
        if settings is not None:
            session.set_epochs(load_int(settings, EPOCHS_KEY, session.trainer_config.epochs, 1, 1000))
        self._build()
        self.menus = MenuActions(self, session, settings, lambda: self.trace_steps)
        self._connect()
        self._update_buttons()
        self.resize(1280, 720)
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
            # on a short screen a page scrolls rather than making the window taller
            self.tabs.insertTab(index, scrolling(FillPage(widget), title.title().replace(" ", "") + "Scroll"),
                                title)
            placeholder.deleteLater()
        self.tabs.setCurrentIndex(current)
        self.experiment.run_clicked.connect(self.run_experiment)
        self.experiment.cancel_clicked.connect(self.cancel_experiment)
        self.experiment.error.connect(self.show_error)
        self._update_buttons()
        self.bridge.start()

    # ----- composition ---------------------------------------------------------------
    def _build(self) -> None:
        self.diagram = PipelineDiagram()
        self.controls = ControlPanel(self.session.pipeline_config)
        self.controls.epochs_spin.setValue(self.session.trainer_config.epochs)
        self.lesson = Lesson(self.controls, self.settings, self.session.pipeline_config)
        self.advisor = AdvisorPanel()
        self.epoch_table = EpochTable()
        self.digit = DigitPanel(self.session)
        lower = QSplitter(Qt.Orientation.Horizontal, objectName="panelSplitter")
        lower.addWidget(scrolling(self._left_column(), "leftScroll"))
        lower.addWidget(self._middle_column())
        lower.addWidget(scrolling(FillPage(self.digit, wrapped_labels=True), "digitScroll"))
        lower.setStretchFactor(1, 1)
        lower.setCollapsible(1, False)
        lower.setSizes([lower.widget(0).minimumWidth(), 1280, lower.widget(2).minimumWidth()])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 2, 4, 0)
        layout.setSpacing(2)
        layout.addWidget(self.diagram, 0)
        layout.addWidget(lower, 1)
        self.setCentralWidget(central)
        self.step_label = QLabel("")
        self.statusBar().addPermanentWidget(self.step_label)

    def _left_column(self) -> QWidget:
        """Data source, preparation progress, the run controls and knobs, the advisor."""
        self.source_label = QLabel("Loading TensorFlow and the data…", objectName="sourceLabel",
                                   wordWrap=True)
        self.progress = QProgressBar(visible=False)
        left = QWidget()
        layout = QVBoxLayout(left)
        layout.setContentsMargins(0, 0, 4, 0)
        for widget in (self.source_label, self.progress, self.controls, self.advisor):
            layout.addWidget(widget)
        layout.addStretch(1)
        return left

    def _middle_column(self) -> QSplitter:
        """The notes slot (`self.notes`: the guide strip, the prefetch note), the
        plot tabs, and the epoch table below them."""
        self.learn = LearnPanel(self._evidence)
        self.learn.show_guide.connect(lambda: self.lesson.show_guide(
            self.session.pipeline_config.prefetch != 0, self.session.training))
        self.tabs = QTabWidget(objectName="mainTabs")
        for title in PLOT_TABS:
            placeholder = QLabel("Loading the plots…", alignment=Qt.AlignmentFlag.AlignCenter)
            self.tabs.addTab(placeholder, title)
        self.tabs.addTab(self.learn, "Learn")
        top = QWidget()
        self.notes = QVBoxLayout(top)
        """Where strips and notes about the plots go (above the tabs; add widgets here)."""
        self.notes.setContentsMargins(0, 0, 0, 0)
        self.notes.addWidget(self.lesson.strip)
        self.notes.addWidget(self.lesson.note)
        self.notes.addWidget(self.tabs, 1)
        middle = QSplitter(Qt.Orientation.Vertical, objectName="middleSplitter")
        middle.addWidget(top)
        middle.addWidget(self.epoch_table)
        middle.setStretchFactor(0, 1)
        middle.setCollapsible(0, False)
        self.epoch_table.setMinimumHeight(70)
        middle.setSizes([430, 90])
        return middle

    def show_tab(self, page: QWidget) -> None:
        """Bring the tab holding `page` (e.g. `self.experiment`) to the front."""
        for index in range(self.tabs.count()):
            if self.tab_page(index) is page:
                self.tabs.setCurrentIndex(index)

    def tab_page(self, index: int) -> QWidget:
        """The panel shown in tab `index` (inside its scroll area, if it has one)."""
        widget = self.tabs.widget(index)
        page = widget.widget() if isinstance(widget, QScrollArea) else None
        return page.panel if isinstance(page, FillPage) else widget

    def showing(self, page: QWidget) -> bool:
        """Whether `page`'s tab is the current one."""
        return page is not None and self.tab_page(self.tabs.currentIndex()) is page

    def _evidence(self, question) -> str:
        return evidence(question, self.knob_evidence, self.session.normalized_150,
                        self.digit.drawn_max)

    def _connect(self) -> None:
        self.controls.start_clicked.connect(self.start_training)
        self.controls.pause_clicked.connect(self.toggle_pause)
        self.controls.stop_clicked.connect(self.stop_training)
        self.controls.reset_clicked.connect(self.reset)
        self.controls.balance_clicked.connect(self.balance_latency)
        self.controls.epochs_changed.connect(self.set_epochs)
        self.controls.knob_changed.connect(self.apply_knobs)
        self.advisor.apply_clicked.connect(self.apply_advice)
        self.menus.message.connect(self.statusBar().showMessage)
        self.menus.error.connect(self.show_error)
        self.menus.data_changing.connect(self._on_data_changing)
        self.menus.experiment_requested.connect(self.run_experiment)
        self.menus.cancel_requested.connect(self.cancel_experiment)
        self.bridge.steps.connect(self._on_steps)
        self.bridge.epoch.connect(self._on_epoch)
        self.bridge.state.connect(self._on_state)
        self.bridge.config_applied.connect(self._on_config_applied)
        self.bridge.progress.connect(self._on_progress)
        self.bridge.error.connect(self.show_error)
        self.bridge.tick.connect(self._redraw)
        self.bridge.other.connect(self._on_other)
        QShortcut(QKeySequence("Ctrl+R"), self, activated=self.start_training)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, activated=self.toggle_pause)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self.canvas.clear)

    @property
    def canvas(self):
        """The digit canvas (`pipeviz --screenshot` draws on it)."""
        return self.digit.canvas

    @property
    def prediction(self):
        """The digit panel's latest prediction."""
        return self.digit.prediction

    @property
    def actions(self) -> dict:
        """The menus' actions by key (e.g. "profile", "experiment")."""
        return self.menus.actions

    def _update_buttons(self) -> None:
        """Enable what can be done now, from the session's own state."""
        session = self.session
        ready, running, sweeping = session.ready, session.training, session.sweeping
        self.controls.start_button.setEnabled(ready and not running and not sweeping
                                              and not session.busy)
        if self.experiment is not None:
            self.experiment.set_ready(ready, sweeping)
        self.menus.set_enabled(ready, running, sweeping)
        self.controls.reset_button.setEnabled(ready)
        self.controls.balance_button.setEnabled(bool(self.timeline.events))
        self.controls.pause_button.setEnabled(running)
        self.controls.stop_button.setEnabled(running)
        self.controls.pause_button.setText("Resume" if session.paused else "Pause")

    @property
    def trace_steps(self) -> list:
        """The steps File > Export trace writes: the latest TRACE_STEPS of this run."""
        return self.knob_evidence.latest(TRACE_STEPS)

    @property
    def recent_steps(self) -> list:
        """The last few hundred steps (from the timeline, which already holds them)."""
        return self.timeline.last(400)

    # ----- run controls ----------------------------------------------------------------
    def start_training(self) -> None:
        """Start a run: on from a loaded model (File > Load model), else a fresh one; asks
        before starting over when a loaded model cannot be trained on."""
        if not self.session.ready or self.session.training:
            return
        loaded = self.session.loaded_model_file
        try:
            try:
                self.session.start()
            except ModelMismatch as exc:
                if not self._ask("Train a fresh model?", f"{exc}. Train a fresh model instead?"):
                    return
                loaded = None
                self.session.start(fresh=True)
        except (ConfigError, RuntimeError) as exc:  # e.g. a batch larger than the data
            self.show_error(str(exc))
            return
        self._clear_run_views()
        self.lesson.started(self.session.pipeline_config)
        if loaded:
            self.statusBar().showMessage(f"Training on from {loaded}", 8000)
        self._update_buttons()

    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def _clear_run_views(self) -> None:
        self.plots.reset()
        self.timeline.clear()
        self.epoch_table.clear_run()
        self.advisor.reset()
        self.knob_evidence.clear()

    def toggle_pause(self) -> None:
        self.session.toggle_pause()

    def stop_training(self) -> None:
        """Ask the run to stop; returns at once (the state change re-enables Start)."""
        self.session.stop_training()

    def reset(self) -> None:
        self.session.reset()
        self._clear_run_views()
        self.step_label.setText("")
        self.digit.mark_dirty()
        self._update_buttons()

    def set_epochs(self, epochs: int) -> None:
        self.session.set_epochs(epochs)
        if self.settings is not None:
            self.settings.setValue(EPOCHS_KEY, epochs)

    def balance_latency(self) -> None:
        """Storage latency := the recent steps' median compute time minus the pipeline's own
        median time per batch after the read (normalize, augment), so that loading a batch
        takes as long as training on it: where prefetching matters most (as bench --balance)."""
        balance = Balance.from_steps(self.recent_steps[-200:],
                                     self.session.pipeline_config.storage_latency_ms)
        if balance is not None:
            self.controls.set_latency_ms(balance.latency_ms)

    def apply_advice(self, changes: dict) -> None:
        """The advisor's change: made as if the user had set the knobs."""
        self.apply_knobs(changes)
        self.controls.set_config(self.session.pipeline_config)

    def apply_knobs(self, changes: dict) -> None:
        try:
            self.session.reconfigure(**changes)
        except ConfigError as exc:
            self.show_error(str(exc))
            self.controls.set_config(self.session.pipeline_config)
        self.lesson.show_config(self.session.pipeline_config)  # at once, running or not

    def run_experiment(self, steps: int | None = None, names: tuple[str, ...] | None = None) -> None:
        """Measure every config, or `names`; results arrive as sweep events. While training,
        asks first: the experiment needs the machine to itself, so the run stops."""
        steps = steps or self.experiment.steps_spin.value()
        was_training = self.session.training
        if was_training and not self._ask(
                "Stop training?", "The experiment needs the machine to itself: stop this "
                "training run and run the experiment?"):
            return
        try:
            self.session.run_sweep(names, steps=steps)
        except RuntimeError as exc:
            self.show_error(str(exc))
            return
        if was_training:
            self.statusBar().showMessage("Training stopped: the experiment needs the machine to itself", 8000)
        self.show_tab(self.experiment)
        self.experiment.started()
        self._update_buttons()

    def cancel_experiment(self) -> None:
        self.session.cancel_sweep()

    def use_data(self, path: str) -> None:
        """Switch to another data source (see MenuActions.use_data)."""
        self.menus.use_data(path)

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
        self.lesson.add_steps(steps)
        self.controls.balance_button.setEnabled(True)

    def _on_epoch(self, summary: EpochSummary) -> None:
        self.plots.add_epoch(summary)
        self.epoch_table.add_epoch(summary)

    def _on_state(self, event: StateChanged) -> None:
        log.info("state: %s %s", event.state, event.detail)
        state = WorkerState(event.state)
        if state == WorkerState.READY:
            self.collector.freeze()  # TensorFlow is loaded: its objects live as long as we do
            self.source_label.setText(f"Data: {event.detail}")
            self.progress.setVisible(False)
        elif state == WorkerState.PREPARING:
            self.source_label.setText(f"{event.detail[:1].upper()}{event.detail[1:]}…")
        self.lesson.state_changed(state)
        if state.ended:  # nothing animates now: a full collection
            QTimer.singleShot(0, self.collector.collect_all)
        self.digit.mark_dirty()  # the model's origin ("training", "trained") may have changed
        self._update_buttons()
        self.statusBar().showMessage(
            "" if state in (WorkerState.READY, WorkerState.PREPARING) else f"Training {state}", 5000)

    def _on_data_changing(self, path: str) -> None:
        self.source_label.setText(f"Loading {path}…")
        self._update_buttons()

    def _on_config_applied(self, applied: ConfigApplied) -> None:
        self.plots.mark(applied)
        self.knob_evidence.add_change(applied)
        self.advisor.on_config_applied(applied)
        self.epoch_table.on_config_applied(applied)
        self.lesson.config_applied(applied)

    def _on_other(self, event) -> None:
        if isinstance(event, SweepProgress):
            self.experiment.on_progress(event)
        elif isinstance(event, SweepConfigDone):
            self.experiment.on_config_done(event.run)
        elif isinstance(event, SweepFinished):
            self.experiment.on_finished(event)
            self._update_buttons()
        elif isinstance(event, ActionDone):
            self._on_action_done(event)
        elif isinstance(event, TraceWritten):
            self.menus.on_trace_written(event)
        elif isinstance(event, ProfileCaptured):
            self.menus.on_profile_captured(event)

    def _on_action_done(self, event: ActionDone) -> None:
        """A session action that waited for a worker (or a file) has ended."""
        self.menus.on_action_done(event)
        if event.what == SessionAction.RESET:
            self._clear_run_views()
        self.digit.mark_dirty()
        self._update_buttons()

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
        self.digit.refresh()
        self.advisor.refresh(self.timeline, self.session.pipeline_config)
        if self.showing(self.live_timeline) and self.timeline.events:
            self.live_timeline.show_live(self.timeline.since(now - LIVE_TIMELINE_S), now,
                                         LIVE_TIMELINE_S)
        latest = self.plots.latest  # the idle plot's newest point: one figure, one number
        self.lesson.refresh(latest)
        if latest is not None and self.timeline.events:
            last = self.timeline.events[-1]
            self.step_label.setText(f"epoch {last.epoch + 1} · step {last.step} · "
                                    f"{latest.images_per_s:,.0f} images/s (last {latest.steps} steps)")

    # ----- shutdown --------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.bridge.stop()
        if self.settings is not None:
            self.settings.setValue("geometry", self.saveGeometry())
            save_pipeline_config(self.settings, self.session.pipeline_config)
            self.settings.setValue(EPOCHS_KEY, self.session.trainer_config.epochs)
        if self.session.close(CLOSE_TIMEOUT_S):
            self.collector.stop()
        else:  # keep collecting on the GUI thread only: a worker may still allocate
            log.warning("the worker did not stop within %.0f s; leaving it (daemon thread)",
                        CLOSE_TIMEOUT_S)
        super().closeEvent(event)
