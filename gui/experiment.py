"""The Experiment tab: one click measures every pipeline config side by side.

It shows a grouped bar chart (images/s and idle %, one bar per run for each config, the
newest run strongest), a table with the speedup over naive, and the step timeline of the
config picked. Results can be exported as CSV and PNG, and earlier runs stay for comparison.
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
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QSpinBox, QSplitter, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont

from pipeviz.core.events import SweepProgress
from pipeviz.core.experiment import SWEEP_NAMES, ConfigRun, SweepFinished

from .gantt import StepTimelineView

log = logging.getLogger(__name__)

COLUMNS = ("run", "config", "images/s", "speedup", "idle %", "wait %", "ms/step", "settings")
MAX_RUNS_SHOWN = 3
"""Bars per config: this many of the latest runs, older ones fainter."""


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


def _bar_plot(name: str, title: str, y_label: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(title=title)
    plot.setObjectName(name)
    plot.setBackground("w")
    plot.showGrid(y=True, alpha=0.25)
    plot.setLabel("left", y_label)
    plot.setMouseEnabled(x=False, y=False)
    axis = plot.getAxis("bottom")
    axis.setTicks([[(i, n) for i, n in enumerate(SWEEP_NAMES)]])
    font = axis.font() if hasattr(axis, "font") else QFont()
    font.setPointSizeF(7.5)
    axis.setStyle(tickFont=font)  # six names fit under a narrow chart
    plot.setXRange(-0.6, len(SWEEP_NAMES) - 0.4, padding=0)
    plot.setMinimumHeight(130)
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
        self.steps_spin.setToolTip("Measured steps per config (after a short warm-up; configs "
                                   "with cache warm up for one full pass)")
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
        self.speed_plot = _bar_plot("sweepSpeedPlot", "Images per second", "images/s")
        self.idle_plot = _bar_plot("sweepIdlePlot", "Accelerator idle", "% of wall time")
        self.bars = {"speed": [], "idle": []}
        charts = QHBoxLayout()
        charts.addWidget(self.speed_plot)
        charts.addWidget(self.idle_plot)
        self.table = QTableWidget(0, len(COLUMNS), objectName="sweepTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
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
        split = QSplitter(Qt.Orientation.Vertical)
        for widget in (charts_box, self.table, timeline_box):
            split.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        self.run_button.clicked.connect(lambda: self.run_clicked.emit(self.steps_spin.value()))
        self.cancel_button.clicked.connect(self.cancel_clicked.emit)
        self.timeline_combo.currentIndexChanged.connect(self._show_timeline)
        self.export_csv_button.clicked.connect(self._ask_csv)
        self.export_png_button.clicked.connect(self._ask_png)

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
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.scrollToBottom()

    def _draw_bars(self) -> None:
        """One bar per config for each of the last runs (the running one included)."""
        runs = self.sweeps[-MAX_RUNS_SHOWN:] + ([self.current] if self.current else [])
        runs = runs[-MAX_RUNS_SHOWN:]
        for plot, key in ((self.speed_plot, "speed"), (self.idle_plot, "idle")):
            for item in self.bars[key]:
                plot.removeItem(item)
            self.bars[key] = []
            width = 0.8 / max(len(runs), 1)
            for i, sweep in enumerate(runs):
                xs, heights = [], []
                for r in sweep:
                    xs.append(SWEEP_NAMES.index(r.name) - 0.4 + width * (i + 0.5))
                    heights.append(r.result.images_per_s if key == "speed"
                                   else 100 * r.result.idle_fraction)
                alpha = 230 if i == len(runs) - 1 else 90
                color = (40, 110, 200, alpha) if key == "speed" else (215, 90, 50, alpha)
                item = pg.BarGraphItem(x=np.array(xs), height=np.array(heights), width=width * 0.9,
                                       brush=pg.mkBrush(*color), pen=pg.mkPen(None))
                plot.addItem(item)
                self.bars[key].append(item)
        self.idle_plot.setYRange(0, 100, padding=0.02)

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
