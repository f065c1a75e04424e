"""The Experiment tab: one click measures every pipeline config side by side.

It shows two horizontal bar charts (images/s and idle %, one bar per run for each config,
the newest run strongest; the config names down the side, where seven or eight of them fit
at any width without running together), a table with the speedup over naive, sized to show
a whole sweep's rows, and the step timeline of the config picked. Results can be exported
as CSV and PNG, and earlier runs stay for comparison. Colours follow the system palette.
"""
from __future__ import annotations

import csv
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFrame, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QScrollArea, QSpinBox, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)
from PySide6.QtCore import Qt

from pipeviz.core.events import SweepProgress
from pipeviz.core.experiment import SWEEP_NAMES, ConfigRun, SweepFinished

from . import theme
from .gantt import StepTimelineView

log = logging.getLogger(__name__)

COLUMNS = ("run", "config", "images/s", "speedup", "idle %", "wait %", "ms/step", "settings")
MAX_RUNS_SHOWN = 3
"""Bars per config: this many of the latest runs, older ones fainter."""
SPEED_COLOR, IDLE_COLOR = (40, 110, 200), (215, 90, 50)
BAR_ROW_PX = 17
"""Height of one config's row in the bar charts: the names stay apart."""


def bar_y(name: str) -> int:
    """The row of config `name` in the bar charts: the first config at the top."""
    return len(SWEEP_NAMES) - 1 - SWEEP_NAMES.index(name)


def result_rows(run_number: int, runs: list[ConfigRun]) -> list[tuple]:
    """Table rows of one sweep: the speedup is over that sweep's own naive run."""
    base = next((r.result.images_per_s for r in runs if r.name == "naive"), None)
    rows = []
    for r in runs:
        speedup = r.result.images_per_s / base if base else float("nan")
        rows.append((run_number, r.name, round(r.result.images_per_s, 1), round(speedup, 3),
                     round(100 * r.result.idle_fraction, 1),
                     round(100 * r.result.input_wait_fraction, 1),
                     round(r.result.mean_step_ms, 3), r.result.description))
    return rows


def write_csv(path: str | Path, rows: list[tuple]) -> Path:
    """Write rows (with the header) atomically: a temporary file in the folder, then rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _bar_plot(name: str, title: str, x_label: str, show_names: bool) -> pg.PlotWidget:
    """A horizontal bar chart, one row per config (names down the left side)."""
    plot = pg.PlotWidget(title=title)
    plot.setObjectName(name)
    plot.showGrid(x=True, alpha=0.25)
    plot.setLabel("bottom", x_label)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    axis = plot.getAxis("left")
    axis.setTicks([[(bar_y(n), n) for n in SWEEP_NAMES]])
    if not show_names:  # the chart beside it names the rows
        axis.setStyle(showValues=False)
        axis.setWidth(6)
    plot.setYRange(-0.6, len(SWEEP_NAMES) - 0.4, padding=0)
    plot.setMinimumHeight(len(SWEEP_NAMES) * BAR_ROW_PX + 70)
    theme.style_plot(plot)
    return plot


class ExperimentPanel(QWidget):
    run_clicked = Signal(int)   # measured steps per config
    cancel_clicked = Signal()
    error = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.sweeps: list[list[ConfigRun]] = []   # finished sweeps, oldest first
        self.current: list[ConfigRun] = []        # configs done in the running sweep
        self.rows: list[tuple] = []
        self.last_progress: SweepProgress | None = None
        self._build()

    # ----- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        self.steps_spin = QSpinBox(objectName="sweepStepsSpin", minimum=20, maximum=5000,
                                   singleStep=50, value=150, suffix=" steps")
        self.steps_spin.setToolTip("Measured steps per config. Every config first trains one "
                                   "full pass and a few steps (tracing, the shuffle fill, a "
                                   "cache's filling pass), so all are measured at the same steps")
        self.run_button = QPushButton("Run experiment", objectName="runSweepButton")
        self.cancel_button = QPushButton("Cancel", objectName="cancelSweepButton", enabled=False)
        self.progress = QProgressBar(objectName="sweepProgress", visible=False)
        self.status = QLabel(f"Measures {', '.join(SWEEP_NAMES[:-1])} and your current "
                             "settings, one after another, with the same model, data and steps.",
                             objectName="sweepStatus", wordWrap=True)
        self.export_csv_button = QPushButton("Export CSV…", objectName="exportCsvButton", enabled=False)
        self.export_png_button = QPushButton("Export PNG…", objectName="exportPngButton", enabled=False)
        top = QHBoxLayout()
        for widget in (self.steps_spin, self.run_button, self.cancel_button, self.progress):
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(self.export_csv_button)
        top.addWidget(self.export_png_button)
        self.speed_plot = _bar_plot("sweepSpeedPlot", "Images per second", "images/s", True)
        self.idle_plot = _bar_plot("sweepIdlePlot", "Accelerator idle", "% of wall time", False)
        self.bars = {"speed": [], "idle": []}
        charts = QHBoxLayout()
        charts.addWidget(self.speed_plot)
        charts.addWidget(self.idle_plot)
        self.table = QTableWidget(0, len(COLUMNS), objectName="sweepTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)  # one line per row; the full settings in a tooltip
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self._fit_table()
        self.timeline_combo = QComboBox(objectName="sweepTimelineCombo")
        self.timeline = StepTimelineView("sweepTimeline")
        timeline_box = QWidget()
        timeline_layout = QVBoxLayout(timeline_box)
        timeline_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Step timeline of"))
        row.addWidget(self.timeline_combo, 1)
        timeline_layout.addLayout(row)
        timeline_layout.addWidget(self.timeline)
        charts_box = QWidget()
        charts_box.setLayout(charts)
        charts.setContentsMargins(0, 0, 0, 0)
        split = QSplitter(Qt.Orientation.Vertical, objectName="sweepSplit")
        for widget in (charts_box, self.table, timeline_box):
            split.addWidget(widget)
            split.setCollapsible(split.count() - 1, False)
        split.setStretchFactor(2, 1)  # the timeline takes what the charts and table leave
        # On a short screen (1280x720) the charts, a whole sweep's rows and the timeline are
        # taller than the tab: they scroll together, none of them cut or squeezed.
        self.scroll = QScrollArea(objectName="sweepScroll", widgetResizable=True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(split)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.scroll, 1)
        self.run_button.clicked.connect(lambda: self.run_clicked.emit(self.steps_spin.value()))
        self.cancel_button.clicked.connect(self.cancel_clicked.emit)
        self.timeline_combo.currentIndexChanged.connect(self._show_timeline)
        self.export_csv_button.clicked.connect(self._ask_csv)
        self.export_png_button.clicked.connect(self._ask_png)

    def _fit_table(self) -> None:
        """Tall enough for every row of the runs the bars show (a sweep is eight rows),
        so none is cut off; older runs scroll."""
        shown = max(len(SWEEP_NAMES), min(self.table.rowCount(), MAX_RUNS_SHOWN * len(SWEEP_NAMES)))
        self.table.setMinimumHeight(self.rows_height(shown))

    def rows_height(self, rows: int) -> int:
        """Pixels the table needs to show `rows` rows, its header and frame, no scrolling."""
        header = self.table.horizontalHeader().sizeHint().height()
        row = self.table.verticalHeader().defaultSectionSize()
        scrollbar = self.table.horizontalScrollBar().sizeHint().height()
        return header + rows * row + 2 * self.table.frameWidth() + scrollbar

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().changeEvent(event)
        if event.type() in theme.PALETTE_EVENTS and hasattr(self, "idle_plot"):
            for plot in (self.speed_plot, self.idle_plot):
                theme.style_plot(plot)

    def set_ready(self, ready: bool, running: bool) -> None:
        self.run_button.setEnabled(ready and not running)
        self.cancel_button.setEnabled(running)

    # ----- sweep events ----------------------------------------------------------------
    def started(self) -> None:
        self.current, self.last_progress = [], None
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.set_ready(True, running=True)

    def on_progress(self, p: SweepProgress) -> None:
        self.last_progress = p
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * (p.index + p.done_steps / max(p.total_steps, 1)) / p.total))
        self.progress.setFormat(f"{p.name}: step {p.done_steps}/{p.total_steps} "
                                f"({p.index + 1} of {p.total})")

    def on_config_done(self, run: ConfigRun) -> None:
        self.current.append(run)
        self.status.setText(f"{run.name}: {run.result.images_per_s:,.0f} images/s, idle "
                            f"{run.result.idle_fraction:.0%} ({run.result.description})")
        self._draw_bars()

    def on_finished(self, finished: SweepFinished) -> None:
        self.progress.setVisible(False)
        self.set_ready(True, running=False)
        if finished.error:
            self.status.setText(finished.error)
            self.error.emit(finished.error)
        elif finished.cancelled:
            self.status.setText(f"Cancelled after {len(finished.runs)} of {len(SWEEP_NAMES)} "
                                "configs; results of an incomplete run are not kept.")
        if finished.error or finished.cancelled or not finished.runs:
            self.current = []
            self._draw_bars()
            return
        self.sweeps.append(list(finished.runs))
        self.current = []
        number = len(self.sweeps)
        new_rows = result_rows(number, self.sweeps[-1])
        self.rows.extend(new_rows)
        self._append_rows(new_rows)
        self.timeline_combo.blockSignals(True)
        for r in self.sweeps[-1]:
            self.timeline_combo.addItem(f"run {number}: {r.name}", (number - 1, r.name))
        self.timeline_combo.blockSignals(False)
        self.timeline_combo.setCurrentIndex(self.timeline_combo.count() - len(self.sweeps[-1]))
        self._show_timeline()
        best = max(new_rows, key=lambda row: row[2])
        self.status.setText(f"Run {number} done at {finished.storage_latency_ms:g} ms storage "
                            f"latency: fastest is {best[1]}, {best[3]:.2f}x naive.")
        self.export_csv_button.setEnabled(True)
        self.export_png_button.setEnabled(True)
        self._draw_bars()

    # ----- drawing ---------------------------------------------------------------------
    def _append_rows(self, rows: list[tuple]) -> None:
        for values in rows:
            row = self.table.rowCount()
            self.table.insertRow(row)
            for column, value in enumerate(values):
                text = f"{value:.2f}x" if COLUMNS[column] == "speedup" else str(value)
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self._fit_table()
        self.table.scrollToBottom()

    def _draw_bars(self) -> None:
        """One horizontal bar per config for each of the last runs (the running one
        included), the newest at the top of each config's row."""
        runs = self.sweeps[-MAX_RUNS_SHOWN:] + ([self.current] if self.current else [])
        runs = runs[-MAX_RUNS_SHOWN:]
        for plot, key in ((self.speed_plot, "speed"), (self.idle_plot, "idle")):
            for item in self.bars[key]:
                plot.removeItem(item)
            self.bars[key] = []
            thickness = 0.8 / max(len(runs), 1)
            for i, sweep in enumerate(runs):
                ys, lengths = [], []
                for r in sweep:
                    ys.append(bar_y(r.name) - 0.4 + thickness * (len(runs) - i - 0.5))
                    lengths.append(r.result.images_per_s if key == "speed"
                                   else 100 * r.result.idle_fraction)
                alpha = 230 if i == len(runs) - 1 else 90
                color = SPEED_COLOR if key == "speed" else IDLE_COLOR
                item = pg.BarGraphItem(x0=np.zeros(len(ys)), width=np.array(lengths),
                                       y=np.array(ys), height=thickness * 0.9,
                                       brush=pg.mkBrush(*color, alpha), pen=pg.mkPen(None))
                plot.addItem(item)
                self.bars[key].append(item)
        self.idle_plot.setXRange(0, 100, padding=0.02)
        longest = max((r.result.images_per_s for sweep in runs for r in sweep), default=0.0)
        self.speed_plot.setXRange(0, max(longest, 1.0), padding=0.05)

    def _show_timeline(self) -> None:
        data = self.timeline_combo.currentData()
        if data is None:
            return
        sweep_index, name = data
        run = next(r for r in self.sweeps[sweep_index] if r.name == name)
        self.timeline.show_steps(run.steps)
        end = run.steps[min(len(run.steps), 40) - 1].t_trained - self.timeline.boxes.t0
        self.timeline.setXRange(0, end, padding=0.02)  # the first 40 batches; drag to see more

    # ----- export ----------------------------------------------------------------------
    def export_csv(self, path: str | Path) -> Path:
        return write_csv(path, self.rows)

    def export_png(self, path: str | Path) -> Path:
        """The charts, table and timeline as one PNG (temporary file, then rename)."""
        path = Path(path)
        tmp = path.with_name(f".{path.stem}.tmp.png")
        if not self.grab().save(str(tmp), "PNG"):
            tmp.unlink(missing_ok=True)
            raise OSError(f"could not write {path}: check the folder exists and is writable")
        os.replace(tmp, path)
        return path

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export results", "pipeviz-experiment.csv",
                                              "CSV files (*.csv)")
        if path:
            self._export(self.export_csv, path)

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export chart", "pipeviz-experiment.png",
                                              "PNG images (*.png)")
        if path:
            self._export(self.export_png, path)

    def _export(self, export, path: str) -> None:
        try:
            saved = export(path)
        except OSError as exc:
            self.error.emit(f"Could not export to {path}: {exc.strerror or exc}. "
                            "Choose a folder you can write to.")
            return
        self.status.setText(f"Exported {saved}")
