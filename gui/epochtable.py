"""The epoch table: one row per finished epoch, ending with an observation in words.

It keeps the knobs changed during the running epoch, so each row's observation can name
them. Its columns fit its width (the observation wraps), so no horizontal scrollbar hides
the idle share or the observation.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from pipeviz.core.events import ConfigApplied, EpochSummary
from pipeviz.core.learn import observe

EPOCH_COLUMNS = ("epoch", "loss", "accuracy", "val loss", "val acc", "time (s)", "idle %",
                 "observation")
HEADER_TEXT = ("epoch", "loss", "acc", "val\nloss", "val\nacc", "time\n(s)", "idle\n%",
               "observation")
"""The headers as shown: short, on two lines, so the numbers' columns stay narrow."""


class EpochTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(EPOCH_COLUMNS), parent)
        self.setObjectName("epochTable")
        self.setHorizontalHeaderLabels(HEADER_TEXT)
        for column, name in enumerate(EPOCH_COLUMNS):
            self.horizontalHeaderItem(column).setToolTip(name)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setWordWrap(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.horizontalHeader()
        for column in range(len(EPOCH_COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(EPOCH_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self._last: EpochSummary | None = None
        self._changes: list[str] = []  # knobs changed during the running epoch

    def clear_run(self) -> None:
        self.setRowCount(0)
        self._last, self._changes = None, []

    def on_config_applied(self, applied: ConfigApplied) -> None:
        self._changes.extend(applied.changed)

    def add_epoch(self, summary: EpochSummary) -> None:
        row = self.rowCount()
        self.insertRow(row)
        values = (summary.epoch + 1, f"{summary.train_loss:.4f}", f"{summary.train_accuracy:.4f}",
                  f"{summary.val_loss:.4f}", f"{summary.val_accuracy:.4f}", f"{summary.seconds:.1f}",
                  f"{100 * summary.idle_fraction:.0f}",
                  observe(summary, self._last, self._changes))
        self._last, self._changes = summary, []
        for column, value in enumerate(values):
            item = QTableWidgetItem(str(value))
            if column == len(values) - 1:
                item.setToolTip(str(value))
            self.setItem(row, column, item)
        self.scrollToBottom()
