"""Live pyqtgraph plots of loss, accuracy and accelerator idle time.

Steps only append to bounded series; `refresh()` (on the window's ~30 Hz timer) calls
`setData` on a fixed set of items, and only when something changed.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from pipeviz.core.events import ConfigApplied, EpochSummary, StepEvent
from pipeviz.core.knobs import changes_text
from pipeviz.core.series import DecimatingSeries, Ema
from pipeviz.core.stepstats import WINDOW_STEPS, Rolling

from . import theme

MAX_MARKERS = 40
ROLLING_STEPS = 500
"""The plots show the last this many steps unless "whole run" is ticked, so a knob change
fills the width instead of shrinking into the right edge of a long run."""
LABEL_ROWS = (0.93, 0.80, 0.67, 0.54)
"""Heights (fractions of the idle plot) of the change markers' labels: a marker near an
earlier one takes the next free row, so up to four nearby changes stay readable."""
IDLE_PLOT_MIN_HEIGHT = 240
LABEL_GAP_PX = 12
"""Labels on one row keep at least this many pixels apart (a label can sit on either side
of its line: pyqtgraph turns it to the left near the view's right edge)."""


def nice_ceiling(value: float) -> float:
    """The next of 1, 2, 5 x 10^k at or above `value`: axis ranges change in few, round steps,
    so pyqtgraph keeps its cached axis pictures instead of repainting them every frame."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def x_window(last_step: int, whole_run: bool, narrowest: int = ROLLING_STEPS) -> tuple[int, int]:
    """The plots' x range: the whole run in round steps, or the last ROLLING_STEPS steps,
    moving in steps of 50 (few axis repaints, the drawn points bounded). It starts
    `narrowest` wide and grows to ROLLING_STEPS, so a short run can fill the width."""
    if whole_run:
        return 0, nice_ceiling(max(last_step, 10) * 1.05)
    x_max = max(narrowest, -(-(last_step + 1) // 50) * 50)
    return max(0, x_max - ROLLING_STEPS), x_max
WAIT_COLOR, HOST_COLOR, BETWEEN_COLOR, COMPUTE_COLOR = (230, 120, 40), (150, 110, 200), (120, 120, 120), (60, 160, 90)
"""The idle plot's areas: mid-tone hues, read on a light and on a dark background alike."""
LOSS_RAW = ((150, 170, 220), (85, 105, 150))    # (on light, on dark): fainter than smoothed
SMOOTHED = ((30, 70, 170), (110, 160, 255))
VALIDATION = ((200, 40, 40), (245, 105, 105))


def _plot(name: str, title: str, y_label: str, legend_at_bottom: bool = False) -> pg.PlotWidget:
    """A plot with fixed ranges and cached axes; its legend in the corner the curves leave
    empty (top right for falling curves, bottom right for rising ones)."""
    widget = pg.PlotWidget(title=title)
    widget.setObjectName(name)
    widget.showGrid(x=True, y=True, alpha=0.25)
    widget.setLabel("bottom", "step")
    widget.setLabel("left", y_label)
    widget.getPlotItem().setClipToView(True)
    widget.getPlotItem().disableAutoRange()  # ranges are set in round steps (see refresh)
    for side in ("left", "bottom", "top"):
        # Axes repaint whenever a curve changes; as cached pixmaps that is a blit, not a
        # replay of every tick label (PySide paints while holding the GIL: keep it short).
        widget.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    widget.setMouseEnabled(x=False, y=False)
    widget.getPlotItem().setDownsampling(auto=True, mode="peak")
    widget.addLegend(offset=(-6, -6 if legend_at_bottom else 6), labelTextSize="7pt",
                              verSpacing=-6)
    theme.style_plot(widget)  # background, axes, title, legend: the palette's colours
    widget.setMinimumHeight(120)
    return widget


def figures_text(stats, unit: str = "images") -> str:
    """The idle plot's newest point in words: the parts of the window's wall time
    (`unit`: what a batch holds, "images" for MNIST, "examples" for a user's run)."""
    if stats is None or stats.steps == 0:
        return ""
    pct = lambda fraction: f"{100 * fraction:.0f}%"  # noqa: E731
    return (f"Last {stats.steps} steps: wait {pct(stats.input_wait_fraction)} + host "
            f"{pct(stats.host_fraction)} + between steps {pct(stats.between_fraction)} = idle "
            f"<b>{pct(stats.idle_fraction)}</b> · {stats.images_per_s:,.0f} {unit}/s · "
            f"{stats.verdict} (TensorBoard's scale)")


def split_items(plot: pg.PlotWidget) -> tuple:
    """The idle plot's stacked areas on `plot`: input wait at the bottom, host overhead on
    it, then the time between steps (epoch ends, rebuilds); the rest is compute, named in
    the legend. Returns the (wait, wait + host, idle) items that `split_points` feeds."""
    total = plot.plot(pen=pg.mkPen(BETWEEN_COLOR), fillLevel=0, brush=(*BETWEEN_COLOR, 110),
                      name="between steps")
    host = plot.plot(pen=pg.mkPen(HOST_COLOR), fillLevel=0, brush=(*HOST_COLOR, 130),
                     name="host overhead")
    wait = plot.plot(pen=pg.mkPen(WAIT_COLOR), fillLevel=0, brush=(*WAIT_COLOR, 170),
                     name="input wait")
    plot.getPlotItem().legend.addItem(pg.PlotDataItem(pen=pg.mkPen(COMPUTE_COLOR, width=6)),
                                      "compute (the rest)")
    return wait, host, total


def split_points(stats) -> tuple[float, float, float]:
    """One step's heights of the stacked areas, in % of the window's wall time: each point
    is the share of the last WINDOW_STEPS steps (core/stepstats.py), as the advisor reads."""
    wait = 100 * stats.input_wait_fraction
    return wait, wait + 100 * stats.host_fraction, 100 * stats.idle_fraction


class LivePlots(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.loss_plot = _plot("lossPlot", "Loss", "loss")
        self.accuracy_plot = _plot("accuracyPlot", "Accuracy", "accuracy", legend_at_bottom=True)
        self.idle_plot = _plot("idlePlot", f"Accelerator idle: share of wall time, last {WINDOW_STEPS} steps",
                               "% of time")
        self.accuracy_plot.setYRange(0, 1, padding=0.02)
        self.idle_plot.setYRange(0, 100, padding=0.02)
        self.idle_figures = QLabel("", objectName="idleFigures", wordWrap=True)
        self.whole_run = QCheckBox("Whole run", objectName="wholeRunToggle")
        self.whole_run.setToolTip(f"Show every step, not only the last {ROLLING_STEPS}")
        self.whole_run.toggled.connect(self._view_changed)
        top = QHBoxLayout()
        top.addWidget(QLabel(f"Last {ROLLING_STEPS} steps shown"))
        top.addStretch(1)
        top.addWidget(self.whole_run)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        # the lesson's plot first (on a 720-pixel screen the others are a scroll away), and
        # the tallest
        for widget, stretch in ((self.idle_figures, 0), (self.idle_plot, 3), (self.loss_plot, 2),
                                (self.accuracy_plot, 2)):
            layout.addWidget(widget, stretch)
        # never so short that its four marker-label rows (13% of the view apart) touch; the
        # tab scrolls instead
        self.idle_plot.setMinimumHeight(IDLE_PLOT_MIN_HEIGHT)
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.setMinimumHeight(150)
        self._make_items()
        self.reset()

    def _make_items(self) -> None:
        self.loss_raw = self.loss_plot.plot(name="per step", connect="finite")
        self.loss_smooth = self.loss_plot.plot(name="smoothed")
        self.val_loss = self.loss_plot.plot(pen=None, symbol="o", symbolSize=7, name="validation")
        self.acc_smooth = self.accuracy_plot.plot(name="train (smoothed)")
        self.val_acc = self.accuracy_plot.plot(symbol="o", symbolSize=7, name="validation")
        self._color_curves()
        self.idle_wait, self.idle_host, self.idle_total = split_items(self.idle_plot)

    def _color_curves(self) -> None:
        """The curves' pens in the variant of their colour that reads on the background."""
        smoothed, validation = theme.semantic(*SMOOTHED), theme.semantic(*VALIDATION)
        self.loss_raw.setPen(pg.mkPen(theme.semantic(*LOSS_RAW), width=1))
        self.loss_smooth.setPen(pg.mkPen(smoothed, width=2))
        self.acc_smooth.setPen(pg.mkPen(smoothed, width=2))
        self.val_acc.setPen(pg.mkPen(validation, width=1))
        for item in (self.val_loss, self.val_acc):
            item.setSymbolBrush(pg.mkBrush(validation))
            item.setSymbolPen(pg.mkPen(theme.background()))

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        """A new system palette (light <-> dark): plots, curves and markers follow it."""
        super().changeEvent(event)
        if (event.type() in theme.PALETTE_EVENTS and hasattr(self, "idle_plot")
                and self.idle_plot.getPlotItem() is not None):  # (built, not closed)
            for plot in (self.loss_plot, self.accuracy_plot, self.idle_plot):
                theme.style_plot(plot)
            self._color_curves()
            for _plot, line in self._markers:
                line.setPen(self._marker_pen())
                if line.label is not None:
                    line.label.setColor(theme.muted())

    @staticmethod
    def _marker_pen():
        return pg.mkPen(theme.muted(), style=pg.QtCore.Qt.PenStyle.DashLine)

    def reset(self) -> None:
        self.series = {name: DecimatingSeries() for name in
                       ("loss", "loss_smooth", "acc_smooth", "wait", "host", "idle")}
        self.val_points = {"loss": ([], []), "acc": ([], [])}
        self.ema = {name: Ema(0.05) for name in ("loss", "acc")}
        self.window = Rolling(WINDOW_STEPS)
        self.latest = None
        """StepStats of the last WINDOW_STEPS steps: the idle plot's newest point."""
        for plot, marker in getattr(self, "_markers", []):
            plot.removeItem(marker)
        self._markers: list[tuple[pg.PlotWidget, pg.InfiniteLine]] = []
        self._label_rows: list[tuple[int, int, float]] = []  # (step, row, label width in px)
        self._dirty = self._val_dirty = True
        self.last_step = 0
        self._x_max = self._loss_max = None

    def add_steps(self, events: list[StepEvent]) -> None:
        for e in events:
            self.series["loss"].append(e.step, e.loss)
            self.series["loss_smooth"].append(e.step, self.ema["loss"].update(e.loss))
            self.series["acc_smooth"].append(e.step, self.ema["acc"].update(e.accuracy))
            stats = self.latest = self.window.add(e)
            for name, value in zip(("wait", "host", "idle"), split_points(stats)):
                self.series[name].append(e.step, value)
            self.last_step = e.step
        self._dirty = self._dirty or bool(events)

    def add_epoch(self, summary: EpochSummary) -> None:
        for key, value in (("loss", summary.val_loss), ("acc", summary.val_accuracy)):
            self.val_points[key][0].append(summary.steps)
            self.val_points[key][1].append(value)
        self._dirty = self._val_dirty = True

    def _visible_steps(self) -> float:
        return max(self.last_step, 10) * 1.05 if self.whole_run.isChecked() else ROLLING_STEPS

    def _label_row(self, step: int, width_px: float) -> int:
        """The first label row where this label, `width_px` wide on either side of its
        line, overlaps no earlier label (the oldest row when all are taken)."""
        px_per_step = max(self.idle_plot.getViewBox().width(), 200.0) / self._visible_steps()
        used = {row for at, row, width in self._label_rows
                if abs(step - at) * px_per_step < width + width_px + LABEL_GAP_PX}
        free = [row for row in range(len(LABEL_ROWS)) if row not in used]
        return free[0] if free else self._label_rows[-len(LABEL_ROWS)][1]

    def mark(self, applied: ConfigApplied) -> None:
        """A vertical line at the step where a knob change took effect, labelled in words
        ("prefetch off") on a row of its own among the markers near it when it was made."""
        label = changes_text(applied.config, applied.changed)
        width = QFontMetrics(self.idle_plot.font()).horizontalAdvance(label)
        row = self._label_row(applied.step, width)
        self._label_rows = [*self._label_rows[-3 * len(LABEL_ROWS):], (applied.step, row, width)]
        for plot in (self.loss_plot, self.accuracy_plot, self.idle_plot):
            line = pg.InfiniteLine(pos=applied.step, angle=90, movable=False,
                                   pen=self._marker_pen(),
                                   label=label if plot is self.idle_plot else None,
                                   labelOpts={"position": LABEL_ROWS[row], "color": theme.muted()})
            plot.addItem(line)
            self._markers.append((plot, line))
        while len(self._markers) > 3 * MAX_MARKERS:
            plot, old = self._markers.pop(0)
            plot.removeItem(old)

    def refresh(self) -> None:
        if not self._dirty:
            return
        s = self.series
        self.loss_raw.setData(s["loss"].x, s["loss"].y, connect="finite")
        self.loss_smooth.setData(s["loss_smooth"].x, s["loss_smooth"].y, connect="finite")
        self.acc_smooth.setData(s["acc_smooth"].x, s["acc_smooth"].y, connect="finite")
        self.idle_wait.setData(s["wait"].x, s["wait"].y, connect="finite")
        self.idle_host.setData(s["host"].x, s["host"].y, connect="finite")
        self.idle_total.setData(s["idle"].x, s["idle"].y, connect="finite")
        if self._val_dirty:  # a scatter's setData rebuilds its symbols: only when they change
            self.val_loss.setData(*self.val_points["loss"])
            self.val_acc.setData(*self.val_points["acc"])
            self._val_dirty = False
        self._update_ranges()
        self.idle_figures.setText(figures_text(self.latest))
        self._dirty = False

    def _view_changed(self) -> None:
        self._x_max = None
        self._dirty = True
        self.refresh()

    def _update_ranges(self) -> None:
        x_min, x_max = x_window(self.last_step, self.whole_run.isChecked())
        if x_max != self._x_max:
            self._x_max = x_max
            for plot in (self.loss_plot, self.accuracy_plot, self.idle_plot):
                plot.setXRange(x_min, x_max, padding=0)
        losses = self.series["loss"].y[self.series["loss"].x >= x_min]  # the visible ones
        finite = losses[np.isfinite(losses)]
        y_max = nice_ceiling(float(finite.max()) * 1.05) if finite.size else 1.0
        if y_max != self._loss_max:
            self._loss_max = y_max
            self.loss_plot.setYRange(0, y_max, padding=0)
