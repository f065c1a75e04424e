"""The first-run guide strip and the prefetch note: the lesson's words on the window.

Both only present: the guide's steps and the notes' words live in core/lesson.py, and move
on the real events the window routes here (the worker's state, the knob changes the trainer
applied, the latency matched at Start, the idle plot's measured input wait).
"""
from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from pipeviz.core.balance import StartBalancer
from pipeviz.core.config import PipelineConfig
from pipeviz.core.lesson import Guide, prefetch_notes
from pipeviz.core.state import WorkerState

from .settings import load_bool


class GuideStrip(QFrame):
    """A strip above the plots: the guide's current step, and a button to hide it. It emits
    `finished` when the lesson is done or the user hides it (the window then saves that, so
    a later launch shows it no more)."""

    finished = Signal()

    def __init__(self, guide: Guide, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("guideStrip")
        self.guide = guide
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.setAutoFillBackground(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel(objectName="guideText", wordWrap=True)
        self.hide_button = QPushButton("Hide guide", objectName="guideHideButton")
        self.hide_button.setToolTip("Hide the first-run guide (the Learn tab can show it again)")
        self.hide_button.clicked.connect(self._hide_clicked)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.hide_button)
        self.refresh()

    def refresh(self) -> None:
        """Show the guide's current text; the window calls this every frame, so a text that
        has not changed is not set again (setText lays the strip out anew)."""
        text = self.guide.text
        if text != self.label.text():
            self.label.setText(text)
            self.hide_button.setText("Close" if self.guide.done else "Hide guide")

    def _hide_clicked(self) -> None:
        self.hide()
        self.finished.emit()

    def restart(self, latency_auto: bool, prefetch_on: bool, running: bool) -> None:
        """Show the guide again from its first step (the Learn tab's button)."""
        self.guide = Guide(latency_auto)
        self.guide.prefetch_on = prefetch_on
        self.guide.running(running)
        self.refresh()
        self.show()


class PrefetchNote(QLabel):
    """Beside the idle plot: which knobs hide what unticking Prefetch does, and what to do.
    Hidden while nothing does."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("prefetchNote")
        self.setWordWrap(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setContentsMargins(6, 3, 6, 3)
        self.hide()

    def show_for(self, config: PipelineConfig, latency_pending: bool = False) -> None:
        notes = prefetch_notes(config, latency_pending)
        self.setText("<b>Note:</b> " + " ".join(notes) if notes else "")
        self.setVisible(bool(notes))


GUIDE_DONE_KEY = "lesson/guide_done"
LATENCY_AUTO_KEY = "lesson/latency_auto"


class Lesson:
    """The lesson's parts of the window, fed by the window's event routing: the first-run
    guide strip, the note on knobs that hide prefetch, and the storage latency matched to
    the step at each Start (while the controls' "match at Start" box is ticked)."""

    def __init__(self, controls, settings: QSettings | None, config: PipelineConfig):
        self.controls, self.settings = controls, settings
        if settings is not None:
            controls.latency_auto_toggle.setChecked(load_bool(settings, LATENCY_AUTO_KEY, True))
        done = settings is not None and load_bool(settings, GUIDE_DONE_KEY, False)
        self.strip = GuideStrip(Guide(self.latency_auto))
        self.strip.setVisible(not done)
        self.strip.finished.connect(self._save_guide_done)
        self.note = PrefetchNote()
        self.balancer = StartBalancer()
        controls.latency_auto_toggle.toggled.connect(self._latency_auto_toggled)
        self.show_config(config)

    @property
    def latency_auto(self) -> bool:
        return self.controls.latency_auto_toggle.isChecked()

    def show_config(self, config: PipelineConfig) -> None:
        self.config = config
        self.note.show_for(config, latency_pending=self.latency_auto and not self.balancer.done)

    def started(self, config: PipelineConfig) -> None:
        """A run started: match the latency again once its step is measured."""
        self.balancer.restart(config.storage_latency_ms)
        self.show_config(config)

    def add_steps(self, steps: list) -> None:
        if not self.latency_auto:
            return
        latency = self.balancer.feed(steps)
        if latency is not None:
            self.controls.set_latency_ms(latency)  # applied (and marked) like a user's change
            self.strip.guide.latency_matched()
            self.strip.refresh()

    def state_changed(self, state: WorkerState) -> None:
        if state in (WorkerState.RUNNING, WorkerState.PAUSED):
            self.strip.guide.running(True)
        elif state.ended:
            self.strip.guide.running(False)
        self.strip.refresh()

    def config_applied(self, applied) -> None:
        if "prefetch" in applied.changed:
            self.strip.guide.prefetch_applied(applied.config.prefetch != 0)
            if self.strip.guide.done:
                self._save_guide_done()  # the lesson is done: no guide at the next launch
        self.show_config(applied.config)
        self.strip.refresh()

    def refresh(self, latest) -> None:
        """On the window's redraw: the guide quotes the idle plot's input-wait share."""
        if latest is not None and self.strip.isVisible():
            self.strip.guide.wait = latest.input_wait_fraction
            self.strip.refresh()

    def show_guide(self, prefetch_on: bool, running: bool) -> None:
        self.strip.restart(self.latency_auto, prefetch_on, running)

    def _latency_auto_toggled(self, on: bool) -> None:
        self.strip.guide.latency_auto = on
        self.show_config(self.config)
        if self.settings is not None:
            self.settings.setValue(LATENCY_AUTO_KEY, on)

    def _save_guide_done(self) -> None:
        if self.settings is not None:
            self.settings.setValue(GUIDE_DONE_KEY, True)
