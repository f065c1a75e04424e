"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs in whichever thread happens to allocate when a threshold is crossed. If
that is the training worker and the garbage holds Qt objects (widgets caught in reference
cycles through signal connections), Qt destroys them off the GUI thread, which deadlocks
or crashes (seen here: the worker waiting for the GIL inside QObject::~QObject while the
GUI thread waited for a Qt mutex). So while the window lives, automatic collection is off
and a timer on the GUI thread collects each generation when its threshold is crossed, as
pyqtgraph's GarbageCollector does.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject, interval_ms: int = 500):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        gc.disable()
        self.timer.start()

    def check(self) -> None:
        """Collect the youngest generation past its threshold, and older ones in turn."""
        counts = gc.get_count()
        for generation in range(3):
            if counts[generation] <= self.thresholds[generation]:
                break
            gc.collect(generation)

    def stop(self) -> None:
        """Back to automatic collection (call once the worker threads have ended). No full
        collection here: with TensorFlow loaded it can take a second, and this runs on close."""
        self.timer.stop()
        gc.enable()
