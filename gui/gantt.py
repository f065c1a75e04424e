"""The step timeline: a Gantt view with one row per stage and one box per batch, drawn from
the batches' real stage timestamps.

Without prefetch the boxes form a staircase (read, normalize, train, then the next read);
with it, the next batch's read overlaps the current batch's train. The train row also shows,
in red, the time each step waited for its batch. A fixed set of items (one BarGraphItem per
row) is updated with `setOpts`, however many batches are shown.

Live (`show_live`), the view keeps the batches it was given (the last `HISTORY_STEPS`) on a
fixed time axis (seconds since the first of them), so a zoom or pan with the mouse stays
while training goes on; "Follow latest" (or a double-click) goes back to following the
newest batches. Following ends at the newest batch, not at the clock: while training is
paused (or between epochs) the view stays on the steps up to the pause instead of
scrolling into empty time.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem, QToolButton

from pipeviz.core.events import StepEvent
from pipeviz.core.timeline import INPUT_WAIT, ROWS, span_of

from . import theme

ROW_COLORS = {"read": (70, 130, 200), "normalize": (120, 90, 200), "augment": (200, 90, 160),
              "buffer": (230, 170, 40),
              "train": (60, 160, 90), "wait": (215, 60, 50)}
BOX_HEIGHT = 0.7
HISTORY_STEPS = 3000
"""Batches the live view keeps to zoom and pan over (minutes at a few steps a second)."""
MAX_DRAWN = 2000
"""At most this many batches drawn at once (a zoomed-out view of the whole history)."""
LIVE_MARGIN_S = 0.05
"""Room right of the newest batch while following."""


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
    return Boxes(t0, {**{row: span(row) for row in ROWS}, "wait": span(INPUT_WAIT)})


class LiveHistory:
    """The batches the live view has been given, oldest first, each once (by step number),
    at most `limit`. A step number that comes again with other stamps means training
    started over (Reset): the history starts over with it."""

    def __init__(self, limit: int = HISTORY_STEPS):
        self.limit = limit
        self.steps: list[StepEvent] = []
        self._ends: list[float] = []  # t_trained of each, ascending (bisect for a range)
        self._taken: dict[int, float] = {}  # step -> t_taken: is an event one we have?
        self.origin = 0.0
        """Time 0 of the live axis: the first batch kept since the history (re)started."""

    def add(self, events: Sequence[StepEvent]) -> bool:
        """Add the events not yet kept; whether any was new."""
        added = False
        for e in events:
            if self.steps and e.step <= self.steps[-1].step:
                if self._taken.get(e.step) == e.t_taken:
                    continue
                self.clear()  # an earlier step number with new stamps: a new run
            if not self.steps:
                self.origin = e.read_start  # time 0 of the axis, kept when old ones go
            self.steps.append(e)
            self._ends.append(e.t_trained)
            self._taken[e.step] = e.t_taken
            added = True
        if len(self.steps) > self.limit:
            for old in self.steps[:-self.limit]:
                self._taken.pop(old.step, None)
            del self.steps[:-self.limit], self._ends[:-self.limit]
        return added

    def clear(self) -> None:
        self.steps, self._ends, self._taken = [], [], {}
        self.origin = 0.0

    @property
    def last_end(self) -> float:
        return self._ends[-1] if self._ends else 0.0

    def between(self, start: float, end: float, limit: int = MAX_DRAWN) -> list[StepEvent]:
        """The batches still in the pipeline or training at some time in [start, end] (by
        absolute time), the newest `limit` of them."""
        first = bisect_left(self._ends, start)
        chosen = [e for e in self.steps[first:] if e.read_start <= end]
        return chosen[-limit:]


class StepTimelineView(pg.PlotWidget):
    """The Gantt view. `show_steps` draws a finished run; `show_live` follows the running
    training, keeping the last `window_s` seconds in view until the user zooms or pans."""

    def __init__(self, name: str = "stepTimeline", parent=None):
        super().__init__(parent=parent)
        self.setObjectName(name)
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
            item = pg.BarGraphItem(x0=[], width=[], y0=[], height=[], brush=pg.mkBrush(*color, 200))
            self.items[key] = item
            self.addItem(item)
        self.boxes: Boxes | None = None
        self.history = LiveHistory()
        self.following = True
        """Live: keep the newest batches in view. False once the user zooms or pans."""
        self._setting_range = False
        self._window_s, self._now, self._drawn = 2.0, 0.0, None
        self.follow_button = QToolButton(self, objectName=f"{name}Follow", text="Follow latest",
                                         checkable=True, checked=True, visible=False)
        self.follow_button.setToolTip("Keep the newest batches in view (double-click the "
                                      "timeline does the same); zoom or drag to look around")
        self.follow_button.clicked.connect(lambda: self.follow(True))
        self.getPlotItem().getViewBox().sigRangeChangedManually.connect(self._user_moved)
        self._restyle()

    # ----- palette ---------------------------------------------------------------------
    def _restyle(self) -> None:
        if self.getPlotItem() is None:  # closed: its items are gone
            return
        theme.style_plot(self)
        separator = theme.background()
        separator.setAlpha(160)
        for item in self.items.values():
            item.setOpts(pen=pg.mkPen(separator, width=1))

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().changeEvent(event)
        if event.type() in theme.PALETTE_EVENTS and "follow_button" in self.__dict__:  # (built)
            self._restyle()

    # ----- follow or stay ----------------------------------------------------------------
    def follow(self, on: bool) -> None:
        """Follow the newest batches (True), or keep the range the user chose."""
        self.following = on
        self.follow_button.setChecked(on)
        if on and self.history.steps:
            self._draw_live()

    def _user_moved(self, *_args) -> None:
        if not self._setting_range:
            self.follow(False)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if self.follow_button.isVisible():
            self.follow(True)
            event.accept()
        else:
            super().mouseDoubleClickEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if "follow_button" not in self.__dict__:
            return  # (pyqtgraph resizes the view while it is built)
        hint = self.follow_button.sizeHint()
        self.follow_button.setGeometry(self.width() - hint.width() - 8, 6, hint.width(), hint.height())

    def _set_x_range(self, start: float, end: float, padding: float = 0.0) -> None:
        self._setting_range = True
        try:
            self.setXRange(start, end, padding=padding)
        finally:
            self._setting_range = False

    # ----- drawing -----------------------------------------------------------------------
    def _row_y(self, key: str) -> float:
        row = "train" if key == "wait" else key
        y = len(ROWS) - 1 - ROWS.index(row) - BOX_HEIGHT / 2
        return y + (BOX_HEIGHT * 0.6 if key == "wait" else 0.0)

    def _draw(self, steps: Sequence[StepEvent], t0: float | None) -> None:
        self.boxes = boxes_of(steps, t0)
        for key, item in self.items.items():
            start, end = self.boxes.spans[key]
            height = BOX_HEIGHT * (0.4 if key == "wait" else 1.0)
            item.setOpts(x0=start, width=end - start, y0=np.full(len(start), self._row_y(key)),
                         height=np.full(len(start), height))

    def show_steps(self, steps: Sequence[StepEvent], t0: float | None = None,
                   x_range: tuple[float, float] | None = None) -> None:
        """A finished run's batches (time 0 = `t0`, or the first batch's read)."""
        self._draw(steps, t0)
        if x_range is not None:
            self._set_x_range(*x_range)
        elif steps:
            self._set_x_range(0, float(max(self.boxes.spans["train"][1].max(), 1e-3)), padding=0.02)

    def show_live(self, steps: Sequence[StepEvent], now: float, window_s: float = 2.0) -> None:
        """Add the newest batches. Following: the last `window_s` seconds up to `now`, or
        up to the newest batch when none came for a while (paused). Otherwise the range
        the user chose stays, its batches drawn."""
        self.follow_button.setVisible(True)
        self.setLabel("bottom", "time since the first batch shown", units="s")
        added = self.history.add(steps)
        self._window_s, self._now = window_s, now
        self._draw_live(force=added)

    def _draw_live(self, force: bool = True) -> None:
        origin, window_s = self.history.origin, self._window_s
        if self.following:
            end = min(self._now, self.history.last_end + LIVE_MARGIN_S)
            start = end - window_s
        else:
            (start, end) = (origin + x for x in self.getPlotItem().getViewBox().viewRange()[0])
        key = (start, end, origin)
        if not force and key == self._drawn:
            return  # nothing new in a range that stayed: no redraw
        self._drawn = key
        self._draw(self.history.between(start, end), t0=origin)
        if self.following:
            self._set_x_range(start - origin, end - origin)
