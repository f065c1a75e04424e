"""The one place where worker events become Qt signals, on the GUI thread.

A QTimer (about 30 Hz) drains the core's EventChannel; the worker never waits for the GUI,
and no Qt object is touched from another thread.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from pipeviz.core.events import (ConfigApplied, EpochSummary, ErrorEvent, EventChannel, Progress,
                                 StateChanged, StepEvent)

FRAME_MS = 33


class EventBridge(QObject):
    steps = Signal(list)            # list[StepEvent] since the last tick
    epoch = Signal(object)          # EpochSummary
    state = Signal(object)          # StateChanged
    config_applied = Signal(object)  # ConfigApplied
    progress = Signal(object)       # Progress (the latest only)
    error = Signal(str)
    other = Signal(object)          # anything else: sweep events, profiler captures
    tick = Signal()                 # after each drain: time to redraw from the latest state

    def __init__(self, channel: EventChannel, parent: QObject | None = None, interval_ms: int = FRAME_MS):
        super().__init__(parent)
        self.channel = channel
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.drain)

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def drain(self) -> None:
        steps, progress = [], None
        for event in self.channel.drain():
            if isinstance(event, StepEvent):
                steps.append(event)
                continue
            if steps:  # keep order around reliable events
                self.steps.emit(steps)
                steps = []
            if isinstance(event, Progress):
                progress = event
            elif isinstance(event, EpochSummary):
                self.epoch.emit(event)
            elif isinstance(event, StateChanged):
                self.state.emit(event)
            elif isinstance(event, ConfigApplied):
                self.config_applied.emit(event)
            elif isinstance(event, ErrorEvent):
                self.error.emit(event.message)
            else:
                self.other.emit(event)
        if steps:
            self.steps.emit(steps)
        if progress is not None:
            self.progress.emit(progress)
        self.tick.emit()
