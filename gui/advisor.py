"""The bottleneck advisor panel: what bounds the step, what to change first and the gain
predicted from the measurements; "Apply" makes the change, then the panel measures it and
shows predicted against measured. It throttles itself: `refresh`, called every frame,
re-reads the steps about once a second, leaving out the steps right after a change."""
from __future__ import annotations

import time
from typing import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from pipeviz.core.advisor import Advice, Trial, advise
from pipeviz.core.config import PipelineConfig
from pipeviz.core.events import ConfigApplied, StepEvent
from pipeviz.core.stepstats import WINDOW_STEPS
from pipeviz.core.timeline import Timeline

ADVICE_EVERY_S = 1.0
"""The advisor re-reads the recent steps this often."""
ADVICE_STEPS = WINDOW_STEPS
"""...the last this many steps trained under the current config (the idle plot's window)."""
ADVICE_SETTLE_STEPS = 8
"""Steps after a change left out of the advice (the new pipeline filling its buffers)."""


class AdvisorPanel(QGroupBox):
    apply_clicked = Signal(dict)  # the knob changes to make

    def __init__(self, parent=None):
        super().__init__("Bottleneck advisor", parent)
        self.setObjectName("advisorPanel")
        self.headline = QLabel("Start training: the advisor reads the measured steps.",
                               objectName="bottleneckLabel", wordWrap=True)
        self.reason = QLabel("", objectName="advisorReason", wordWrap=True)
        self.apply_button = QPushButton("Apply", objectName="applyAdviceButton", visible=False)
        self.trial_label = QLabel("", objectName="adviceTrialLabel", wordWrap=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.headline)
        layout.addWidget(self.reason)
        row = QHBoxLayout()
        row.addWidget(self.apply_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.trial_label)
        self.advice: Advice | None = None
        self.pending: Advice | None = None  # applied, waiting for the change to take effect
        self.trial: Trial | None = None
        self.trial_steps = 100
        """Steps measured after an applied change."""
        self._last_advice_at = 0.0
        self._config_since_step = 0  # the first step trained under the current config
        self.apply_button.clicked.connect(self._apply)

    def refresh(self, timeline: Timeline, config: PipelineConfig) -> None:
        """About once a second: advice from the recent steps under the current config."""
        if time.monotonic() - self._last_advice_at < ADVICE_EVERY_S:
            return
        self._last_advice_at = time.monotonic()
        first = self._config_since_step + ADVICE_SETTLE_STEPS
        steps = [e for e in timeline.last(ADVICE_STEPS) if e.step >= first]
        if len(steps) >= 10:
            self.update_advice(steps, config)

    def update_advice(self, steps: Sequence[StepEvent], config: PipelineConfig) -> None:
        """Re-read the recent steps (the window calls this about once a second)."""
        self.advice = advise(steps, config)
        if self.advice is None:
            return
        self.headline.setText(f"<b>{self.advice.headline}</b>")
        self.reason.setText(self.advice.reason)
        can_apply = bool(self.advice.changes) and self.pending is None and (
            self.trial is None or self.trial.measured is not None)
        self.apply_button.setVisible(can_apply)
        if can_apply:
            gain = self.advice.predicted_speedup
            self.apply_button.setText(f"{self.advice.action} (predicted {gain:.2f}x)")

    def _apply(self) -> None:
        if self.advice is None or not self.advice.changes:
            return
        self.pending, self.trial = self.advice, None
        self.apply_button.setVisible(False)
        self.trial_label.setText(f"Applying: {self.advice.action}…")
        self.apply_clicked.emit(dict(self.advice.changes))

    def on_config_applied(self, applied: ConfigApplied) -> None:
        """The change took effect at `applied.step`: measure from there."""
        self._config_since_step = applied.step
        if self.pending is not None and all(getattr(applied.config, k) == v
                                            for k, v in self.pending.changes.items()):
            self.trial, self.pending = Trial(self.pending, applied.step, self.trial_steps), None
            self.trial_label.setText(self.trial.summary())
        elif self.trial is not None and self.trial.measured is None:
            self.trial_label.setText("Another change came before the measurement finished; "
                                     "apply again to measure.")
            self.trial = None

    def add_steps(self, steps: Sequence[StepEvent]) -> None:
        if self.trial is not None and self.trial.measured is None:
            self.trial.add(steps)
            self.trial_label.setText(self.trial.summary())

    def reset(self) -> None:
        self.advice = self.pending = self.trial = None
        self._config_since_step = 0
        self.headline.setText("Start training: the advisor reads the measured steps.")
        self.reason.setText("")
        self.trial_label.setText("")
        self.apply_button.setVisible(False)
