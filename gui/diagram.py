"""The pipeline diagram: Raw data -> Load -> Normalize -> Augment -> Prefetch buffer -> Train,
with one token per batch, placed from the real stage timestamps (see core/timeline.py)."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from pipeviz.core.config import AUTOTUNE, PipelineConfig
from pipeviz.core.timeline import AUGMENT, BUFFER, NORMALIZE, TRAIN, DiagramState

BOXES = (("disk", "Raw data\non disk"), ("load", "Load"), (NORMALIZE, "Normalize"),
         (AUGMENT, "Augment"), (BUFFER, "Prefetch\nbuffer"), (TRAIN, "Train"))
TOKEN = QColor(40, 110, 200)
STARVED = QColor(215, 215, 215)
MAX_TOKENS_DRAWN = 12


class PipelineDiagram(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("pipelineDiagram")
        self.setMinimumSize(520, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.state: DiagramState | None = None
        self.config = PipelineConfig()

    def show_state(self, state: DiagramState | None, config: PipelineConfig) -> None:
        self.state, self.config = state, config
        self.update()

    @property
    def buffer_enabled(self) -> bool:
        return self.config.prefetch != 0

    def _subtitle(self, key: str) -> str:
        c = self.config
        if key == "disk":
            return f"{c.storage_latency_ms:g} ms/{c.latency_per}" if c.storage_latency_ms else "local"
        if key == "load":
            return f"{c.parallel_reads} parallel" + (", cache" if c.cache else "")
        if key == NORMALIZE:
            return "map x" + ("auto" if c.parallel_map == AUTOTUNE else str(c.parallel_map))
        if key == AUGMENT:
            if not c.augment:
                return "OFF"
            return "map x" + ("auto" if c.parallel_augment == AUTOTUNE else str(c.parallel_augment))
        if key == BUFFER:
            return "OFF" if c.prefetch == 0 else ("auto" if c.prefetch == AUTOTUNE else f"size {c.prefetch}")
        return f"batch {c.batch_size}"

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor(250, 250, 252))
        width, height = self.width(), self.height()
        gap = 20
        box_w = (width - gap * (len(BOXES) + 1)) / len(BOXES)
        box_h = min(height - 48, 120)
        top = 24
        for index, (key, title) in enumerate(BOXES):
            rect = QRectF(gap + index * (box_w + gap), top, box_w, box_h)
            if index:
                self._arrow(painter, rect.left() - gap + 3, rect.left() - 3, rect.center().y())
            self._box(painter, key, title, rect)
        painter.end()

    def _box(self, painter: QPainter, key: str, title: str, rect: QRectF) -> None:
        state = self.state
        disabled = (key == BUFFER and not self.buffer_enabled) or (key == AUGMENT and not self.config.augment)
        starving = key == TRAIN and state is not None and state.train_waiting
        fill = STARVED if starving else QColor(236, 242, 250)
        painter.setPen(QPen(QColor(120, 130, 150), 1.5))
        painter.setBrush(QColor(245, 245, 245) if disabled else fill)
        painter.drawRoundedRect(rect, 8, 8)
        painter.setPen(QColor(30, 30, 40))
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(rect.adjusted(4, 4, -4, -rect.height() * 0.55), Qt.AlignmentFlag.AlignCenter, title)
        painter.setFont(self.font())
        painter.setPen(QColor(80, 80, 90))
        painter.drawText(QRectF(rect.left(), rect.top() - 20, rect.width(), 18),
                         Qt.AlignmentFlag.AlignCenter, self._subtitle(key))
        if disabled:
            painter.setPen(QPen(QColor(200, 60, 60), 2.5))
            painter.drawLine(rect.topLeft(), rect.bottomRight())
            painter.drawLine(rect.bottomLeft(), rect.topRight())
        if state is None or key == "disk":
            return
        stats = state.stats.get(key)
        if stats:
            painter.drawText(QRectF(rect.left(), rect.bottom() + 2, rect.width(), 18),
                             Qt.AlignmentFlag.AlignCenter,
                             f"{stats.batches_per_s:.0f}/s · {stats.ms_per_batch:.1f} ms")
        if starving:
            painter.setPen(QColor(170, 60, 30))
            painter.drawText(rect.adjusted(0, 0, 0, -6), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                             "waiting for data")
        tokens = state.tokens.get(key, [])
        if key == BUFFER and tokens:
            painter.setPen(QColor(30, 30, 40))
            painter.drawText(rect.adjusted(0, 0, -6, -4), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                             f"{len(tokens)} ready")
        self._tokens(painter, rect, tokens)

    @staticmethod
    def _tokens(painter: QPainter, rect: QRectF, tokens: list[int]) -> None:
        radius = 6.0
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(TOKEN)
        per_row = max(1, int((rect.width() - 12) // (2 * radius + 4)))
        for i, _step in enumerate(tokens[:MAX_TOKENS_DRAWN]):
            row, col = divmod(i, per_row)
            center = QPointF(rect.left() + 12 + col * (2 * radius + 4),
                             rect.center().y() + 4 + row * (2 * radius + 4))
            painter.drawEllipse(center, radius, radius)

    @staticmethod
    def _arrow(painter: QPainter, x0: float, x1: float, y: float) -> None:
        painter.setPen(QPen(QColor(120, 130, 150), 2))
        painter.drawLine(QPointF(x0, y), QPointF(x1, y))
        painter.drawLine(QPointF(x1, y), QPointF(x1 - 7, y - 5))
        painter.drawLine(QPointF(x1, y), QPointF(x1 - 7, y + 5))
