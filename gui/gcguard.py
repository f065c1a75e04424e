"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs in whichever thread happens to allocate when a threshold is crossed. If
that is the training worker and the garbage holds Qt objects (widgets caught in reference
cycles through signal connections), Qt destroys them off the GUI thread, which deadlocks
or crashes (seen here: the worker waiting for the GIL inside QObject::~QObject while the
GUI thread waited for a Qt mutex). So while the window lives, automatic collection is off
and a timer on the GUI thread collects each generation when its threshold is crossed, as
pyqtgraph's GarbageCollector does.

A full collection has to walk every object TensorFlow made (300,000 after start-up): 0.1 to
1.5 s here, a frozen window each time. So when one is due, the survivors of a young
collection are frozen instead (`gc.freeze`: left out of later collections), and the full
collection (after unfreezing) runs only when training has ended and nothing animates.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject, interval_ms: int = 500):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.freezes = 0
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        gc.disable()
        self.timer.start()

    def check(self) -> None:
        """Collect the young generations past their thresholds; freeze when a full
        collection is due."""
        counts = gc.get_count()
        if counts[0] <= self.thresholds[0]:
            return
        if counts[1] > self.thresholds[1] and counts[2] > self.thresholds[2]:
            gc.collect(1)
            self.freeze()
        else:
            gc.collect(1 if counts[1] > self.thresholds[1] else 0)

    def freeze(self) -> None:
        """Leave every object alive now out of later collections. The TensorFlow import
        happens after automatic collection was turned off, so its ~300,000 objects would
        otherwise sit in the youngest generation and make the next collections slow."""
        gc.freeze()
        self.freezes += 1

    def collect_all(self) -> int:
        """A full collection, frozen objects included (for idle moments: it takes seconds)."""
        gc.unfreeze()
        return gc.collect()

    def stop(self) -> None:
        """Back to automatic collection (call once the worker threads have ended). No full
        collection here: with TensorFlow loaded it can take a second, and this runs on close."""
        self.timer.stop()
        gc.enable()
