"""Live plots of a watched run: where each step's time went, the loss per step, and the
script's own metrics.

The same pieces as the MNIST plots (gui/plots.py): the step-time split is the idle plot's
statistic (core/stepstats `Rolling` over the last WINDOW_STEPS steps) drawn by the same
stacked areas, and every series is bounded (`DecimatingSeries`). Events only append;
`refresh()`, once per frame, calls `setData` on fixed items and only when something changed.
All three share the step axis, so a stall, a loss spike and an epoch's end line up. Metric
names are the script's own (Keras's logs), so a metric's curve is made when its name is first
seen and then only fed.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from pipeviz.core.events import StepEvent
from pipeviz.core.series import DecimatingSeries, Ema
from pipeviz.core.stepstats import WINDOW_STEPS, Rolling
from pipeviz.core.watch.events import EpochLogs, StepMetrics

from . import theme
from .plots import (LOSS_RAW, ROLLING_STEPS, SMOOTHED, VALIDATION, _plot, figures_text,
                    nice_ceiling, split_items, split_points, x_window)

METRIC_COLORS = (((30, 70, 170), (110, 160, 255)), ((40, 140, 70), (110, 210, 130)),
                 ((140, 60, 170), (200, 140, 240)), ((150, 100, 20), (230, 180, 90)),
                 ((20, 130, 140), (90, 210, 220)), ((180, 40, 110), (245, 120, 180)))
"""(on light, on dark) per metric, in the order the names first appear."""
MAX_METRICS = len(METRIC_COLORS)
"""Curves drawn; further metric names are listed in the epoch line, not plotted."""
VAL_PREFIX = "val_"


METRICS_TITLE = "Metrics (running mean over the epoch)"
NO_METRICS_TITLE = "Metrics: none (compiled without metrics)"


def metric_names(logs: dict[str, float]) -> list[str]:
    """The train metrics a logs dict holds, loss left out (the loss plot has it per step)."""
    return [k for k in logs if k != "loss" and not k.startswith(VAL_PREFIX)]


def epoch_text(epoch: EpochLogs | None) -> str:
    """The last epoch's logs in a line: "epoch 2 (3.1 s): loss 0.412 · accuracy 0.913 ..."."""
    if epoch is None:
        return ""
    logs = " · ".join(f"{k} {v:.4g}" for k, v in epoch.logs.items())
    return f"Epoch {epoch.epoch + 1} ({epoch.seconds:.1f} s): {logs}"


class RunPlots(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.split_plot = _plot("splitPlot", f"Step time: share of wall time, last {WINDOW_STEPS} steps",
                                "% of time")
        self.split_plot.setYRange(0, 100, padding=0.02)
        self.loss_plot = _plot("runLossPlot", "Loss per step", "loss")
        self.metrics_plot = _plot("metricsPlot", METRICS_TITLE, "value", legend_at_bottom=True)
        self.metrics_plot.getPlotItem().enableAutoRange(axis="y")  # the script's own scales
        self.metrics_plot.getAxis("left").enableAutoSIPrefix(False)  # 0.8, not 800 (x0.001)
        self.split_figures = QLabel("", objectName="splitFigures", wordWrap=True)
        self.epoch_label = QLabel("", objectName="epochLogs", wordWrap=True)
        self.whole_run = QCheckBox("Whole run", objectName="runWholeRunToggle")
        self.whole_run.setToolTip(f"Show every step, not only the last {ROLLING_STEPS}")
        self.whole_run.toggled.connect(self._view_changed)
        top = QHBoxLayout()
        top.addWidget(self.split_figures, 1)
        top.addWidget(self.whole_run)
        below = QHBoxLayout()
        below.addWidget(self.loss_plot)
        below.addWidget(self.metrics_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.split_plot, 1)
        layout.addLayout(below, 1)
        layout.addWidget(self.epoch_label)
        self.split_wait, self.split_host, self.split_total = split_items(self.split_plot)
        self.loss_raw = self.loss_plot.plot(name="per step", connect="finite")
        self.loss_smooth = self.loss_plot.plot(name="smoothed")
        self.val_loss = self.loss_plot.plot(pen=None, symbol="o", symbolSize=7, name="val_loss")
        self.series = {name: DecimatingSeries() for name in ("loss", "loss_smooth", "wait", "host", "idle")}
        self.ema = Ema(0.05)
        self.window = Rolling(WINDOW_STEPS)
        self.latest = None
        """StepStats of the last WINDOW_STEPS steps: the split plot's newest point."""
        self.metric_series: dict[str, DecimatingSeries] = {}
        self.metric_items: dict[str, pg.PlotDataItem] = {}
        self.epoch_points: dict[str, tuple[list[float], list[float]]] = {"val_loss": ([], [])}
        self.epoch_items: dict[str, pg.PlotDataItem] = {}
        self.last_epoch: EpochLogs | None = None
        self.last_step = 0
        self._dirty = self._epochs_dirty = False
        self._x_max = self._loss_max = None
        self._color_items()

    # ----- events --------------------------------------------------------------------------
    def add_steps(self, events: list[StepEvent]) -> None:
        for e in events:
            self.series["loss"].append(e.step, e.loss)
            self.series["loss_smooth"].append(e.step, self.ema.update(e.loss))
            stats = self.latest = self.window.add(e)
            for name, value in zip(("wait", "host", "idle"), split_points(stats)):
                self.series[name].append(e.step, value)
            self.last_step = e.step
        self._dirty = self._dirty or bool(events)

    def add_metrics(self, event: StepMetrics) -> None:
        names = metric_names(event.logs)
        for name in names:
            series = self._metric(name)
            if series is not None:
                series.append(event.step, event.logs[name])
        # say why the plot stays empty
        self._metrics_title(METRICS_TITLE if names or self.metric_series else NO_METRICS_TITLE)
        self._dirty = True

    def _metrics_title(self, text: str) -> None:
        if self.metrics_plot.getPlotItem().titleLabel.text != text:
            self.metrics_plot.setTitle(text)
            theme.style_plot(self.metrics_plot)  # the title in the palette's colour

    def add_epoch(self, event: EpochLogs) -> None:
        """An epoch's logs, as points at the last step seen: val_loss on the loss plot,
        val_<metric> beside its metric's curve."""
        self.last_epoch = event
        for name, value in event.logs.items():
            if not name.startswith(VAL_PREFIX):
                continue
            if name != "val_loss" and self._metric(name[len(VAL_PREFIX):]) is None:
                continue
            xs, ys = self.epoch_points.setdefault(name, ([], []))
            xs.append(self.last_step)
            ys.append(value)
        self._dirty = self._epochs_dirty = True

    def _metric(self, name: str) -> DecimatingSeries | None:
        """The series of metric `name`, its curve made on first sight (None past MAX_METRICS)."""
        if name not in self.metric_series:
            if len(self.metric_series) >= MAX_METRICS:
                return None
            self.metric_series[name] = DecimatingSeries()
            self.metric_items[name] = self.metrics_plot.plot(name=name, connect="finite")
            self._color_items()
        return self.metric_series[name]

    # ----- drawing ---------------------------------------------------------------------------
    def _color_items(self) -> None:
        """Pens in the variant of their colour that reads on the background."""
        validation = theme.semantic(*VALIDATION)
        self.loss_raw.setPen(pg.mkPen(theme.semantic(*LOSS_RAW), width=1))
        self.loss_smooth.setPen(pg.mkPen(theme.semantic(*SMOOTHED), width=2))
        self.val_loss.setSymbolBrush(pg.mkBrush(validation))
        self.val_loss.setSymbolPen(pg.mkPen(theme.background()))
        for index, item in enumerate(self.metric_items.values()):
            item.setPen(pg.mkPen(theme.semantic(*METRIC_COLORS[index]), width=2))
        for name, item in self.epoch_items.items():
            colour = theme.semantic(*METRIC_COLORS[list(self.metric_items).index(name[len(VAL_PREFIX):])])
            item.setSymbolBrush(pg.mkBrush(colour))
            item.setSymbolPen(pg.mkPen(theme.foreground()))

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        """A new system palette (light <-> dark): plots and curves follow it."""
        super().changeEvent(event)
        if event.type() in theme.PALETTE_EVENTS and hasattr(self, "val_loss") \
                and self.split_plot.getPlotItem() is not None:
            for plot in (self.split_plot, self.loss_plot, self.metrics_plot):
                theme.style_plot(plot)
            self._color_items()

    def refresh(self) -> None:
        """Once per frame: hand the series to their items, if anything changed."""
        if not self._dirty:
            return
        s = self.series
        for item, name in ((self.loss_raw, "loss"), (self.loss_smooth, "loss_smooth"),
                           (self.split_wait, "wait"), (self.split_host, "host"),
                           (self.split_total, "idle")):
            item.setData(s[name].x, s[name].y, connect="finite" if name.startswith("loss") else "all")
        for name, series in self.metric_series.items():
            self.metric_items[name].setData(series.x, series.y, connect="finite")
        if self._epochs_dirty:  # a scatter's setData rebuilds its symbols: only when new
            self._draw_epoch_points()
        self._update_ranges()
        self.split_figures.setText(figures_text(self.latest, "examples"))
        self.epoch_label.setText(epoch_text(self.last_epoch))
        self._dirty = False

    def _view_changed(self) -> None:
        self._x_max = None
        self._dirty = True
        self.refresh()

    def _draw_epoch_points(self) -> None:
        self.val_loss.setData(*self.epoch_points["val_loss"])
        for name, (xs, ys) in self.epoch_points.items():
            if name == "val_loss":
                continue
            if name not in self.epoch_items:
                self.epoch_items[name] = self.metrics_plot.plot(pen=None, symbol="o", symbolSize=7,
                                                                name=name)
                self._color_items()
            self.epoch_items[name].setData(xs, ys)
        self._epochs_dirty = False

    def _update_ranges(self) -> None:
        """As the MNIST plots (plots.x_window), but a run shorter than their window fills
        the width (0-50, 0-100, ...), not the left tenth of it."""
        x_min, x_max = x_window(self.last_step, self.whole_run.isChecked(), narrowest=50)
        if x_max != self._x_max:
            self._x_max = x_max
            for plot in (self.split_plot, self.loss_plot, self.metrics_plot):
                plot.setXRange(x_min, x_max, padding=0)
        visible = self.series["loss"].y[self.series["loss"].x >= x_min]
        val_x, val_y = (np.asarray(v, dtype=float) for v in self.epoch_points["val_loss"])
        losses = np.concatenate([visible, val_y[val_x >= x_min]])
        finite = losses[np.isfinite(losses)]
        y_max = nice_ceiling(float(finite.max()) * 1.05) if finite.size else 1.0
        if not math.isclose(y_max, self._loss_max or -1):
            self._loss_max = y_max
            self.loss_plot.setYRange(min(0.0, float(finite.min())) if finite.size else 0.0, y_max,
                                     padding=0)
