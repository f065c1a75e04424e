"""The first-run guide strip and the prefetch note: the lesson's words on the window.

Both only present: the guide's steps and the notes' words live in core/lesson.py, and move
on the real events the window routes here (the worker's state, the knob changes the trainer
applied, the latency matched at Start, the idle plot's measured input wait).
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from pipeviz.core.config import PipelineConfig
from pipeviz.core.lesson import Guide, prefetch_notes


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
        self.label.setText(self.guide.text)
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
