"""The step timeline: a Gantt view with one row per stage and one box per batch, drawn from
the batches' real stage timestamps.

Without prefetch the boxes form a staircase (read, normalize, train, then the next read);
with it, the next batch's read overlaps the current batch's train. The train row also shows,
in red, the time each step waited for its batch. A fixed set of items (one BarGraphItem per
row) is updated with `setOpts`, however many batches are shown.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem

from pipeviz.core.events import StepEvent
from pipeviz.core.timeline import span_of

ROWS = ("read", "normalize", "augment", "buffer", "train")
ROW_COLORS = {"read": (70, 130, 200), "normalize": (120, 90, 200), "augment": (200, 90, 160),
              "buffer": (230, 170, 40),
              "train": (60, 160, 90), "wait": (215, 60, 50)}
BOX_HEIGHT = 0.7


@dataclass(frozen=True)
class Boxes:
    """Start and end times (seconds, relative to `t0`) of each batch in each row."""

    t0: float
    spans: dict[str, tuple[np.ndarray, np.ndarray]]

    def count(self, row: str) -> int:
        return len(self.spans[row][0])


def boxes_of(steps: Sequence[StepEvent], t0: float | None = None) -> Boxes:
    """The timeline boxes of `steps`: read = asked for until built; normalize = built until
    normalized; augment = normalized until augmented (empty with augment off); buffer = in
    the prefetch buffer until taken; train = taken until updated; wait (drawn on the train
    row) = the step asked for the batch until it got it."""
    if t0 is None:
        t0 = min((e.read_start for e in steps), default=0.0)
    def span(name: str) -> tuple[np.ndarray, np.ndarray]:
        pairs = np.array([span_of(e, name) for e in steps], dtype=float).reshape(-1, 2) - t0
        return pairs[:, 0], pairs[:, 1]
    return Boxes(t0, {"read": span("read"), "normalize": span("normalize"),
                      "augment": span("augment"), "buffer": span("buffer"),
                      "train": span("train"), "wait": span("input wait")})


class StepTimelineView(pg.PlotWidget):
    """The Gantt view. `show_steps` draws a finished run; `show_live` follows the running
    training, keeping the last `window_s` seconds in view."""

    def __init__(self, name: str = "stepTimeline", parent=None):
        super().__init__(parent=parent)
        self.setObjectName(name)
        self.setBackground("w")
        self.showGrid(x=True, y=False, alpha=0.25)
        self.setLabel("bottom", "time", units="s")
        axis = self.getAxis("left")
        axis.setTicks([[(len(ROWS) - 1 - i, row) for i, row in enumerate(ROWS)]])
        for side in ("left", "bottom"):
            self.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setYRange(-0.6, len(ROWS) - 0.4, padding=0)
        self.setMouseEnabled(x=True, y=False)
        self.setMinimumHeight(140)
        self.items: dict[str, pg.BarGraphItem] = {}
        for key, color in ROW_COLORS.items():
            item = pg.BarGraphItem(x0=[], width=[], y0=[], height=[], brush=pg.mkBrush(*color, 200),
                                   pen=pg.mkPen(255, 255, 255, 160, width=1))
            self.items[key] = item
            self.addItem(item)
        self.boxes: Boxes | None = None

    def _row_y(self, key: str) -> float:
        row = "train" if key == "wait" else key
        y = len(ROWS) - 1 - ROWS.index(row) - BOX_HEIGHT / 2
        return y + (BOX_HEIGHT * 0.6 if key == "wait" else 0.0)

    def show_steps(self, steps: Sequence[StepEvent], t0: float | None = None,
                   x_range: tuple[float, float] | None = None) -> None:
        self.boxes = boxes_of(steps, t0)
        for key, item in self.items.items():
            start, end = self.boxes.spans[key]
            height = BOX_HEIGHT * (0.4 if key == "wait" else 1.0)
            item.setOpts(x0=start, width=end - start, y0=np.full(len(start), self._row_y(key)),
                         height=np.full(len(start), height))
        if x_range is not None:
            self.setXRange(*x_range, padding=0)
        elif steps:
            self.setXRange(0, float(max(self.boxes.spans["train"][1].max(), 1e-3)), padding=0.02)

    def show_live(self, steps: Sequence[StepEvent], now: float, window_s: float = 2.0) -> None:
        """The last `window_s` seconds up to `now` (time 0 = now)."""
        self.show_steps(steps, t0=now, x_range=(-window_s, 0.0))
