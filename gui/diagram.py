"""The pipeline diagram: Raw data -> Load -> Normalize -> Augment -> Prefetch buffer -> Train,
with one token per batch, placed from the real stage timestamps (see core/timeline.py).

What it writes is in words with units (core/wording.py, core/knobs.py): above each box its
setting ("normalize" reads "autotuned parallel calls", not "map xauto"), below it two
figures ("12 batches/s", "35.2 ms per batch"). Its colours come from the system palette
(gui/theme.py), so it reads on a light and on a dark desktop.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from pipeviz.core import wording
from pipeviz.core.config import PipelineConfig
from pipeviz.core.knobs import change_label
from pipeviz.core.timeline import AUGMENT, BUFFER, NORMALIZE, TRAIN, DiagramState

from . import theme

BOXES = (("disk", "Raw data\non disk"), ("load", "Load"), (NORMALIZE, "Normalize"),
         (AUGMENT, "Augment"), (BUFFER, "Prefetch\nbuffer"), (TRAIN, "Train"))
TOKEN = ((40, 110, 200), (100, 165, 255))      # a batch: (on light, on dark)
WAITING = ((170, 60, 30), (255, 150, 100))      # "waiting for data"
CROSS = ((200, 60, 60), (235, 95, 95))          # a stage switched off
MAX_TOKENS_DRAWN = 12
SUBTITLE_H, FIGURES_H = 20, 32
"""Heights of the setting above each box and of the two lines of figures below it."""


def shown_tokens(state: DiagramState, config: PipelineConfig) -> dict[str, list[int]]:
    """The batches each box draws. With prefetch off there is no buffer to be in: a batch
    the pipeline has built and the step has not yet taken is still being handed over by
    the last stage that made it (Augment, or Normalize with augment off), so it is drawn
    there, and the crossed-out buffer never shows a batch."""
    tokens = {key: list(steps) for key, steps in state.tokens.items()}
    if config.prefetch == 0:
        handed_over = tokens.pop(BUFFER, [])
        if handed_over:
            last = AUGMENT if config.augment else NORMALIZE
            tokens[last] = tokens.get(last, []) + handed_over
    return tokens


def subtitle(key: str, config: PipelineConfig) -> str:
    """The setting of box `key`, in words."""
    c = config
    if key == "disk":
        return wording.storage_latency(c.storage_latency_ms, c.latency_per)
    if key == "load":
        return change_label(c, "parallel_reads") + (", cached" if c.cache else "")
    if key == NORMALIZE:
        return wording.parallel_calls(c.parallel_map)
    if key == AUGMENT:
        return wording.parallel_calls(c.parallel_augment) if c.augment else "off"
    if key == BUFFER:
        return wording.prefetch_buffer(c.prefetch)
    return change_label(c, "batch_size")


def figures(stats) -> tuple[str, str]:
    """A stage's two figures below its box: what it delivers and what one batch costs."""
    return wording.batches_per_s(stats.batches_per_s), wording.ms_per_batch(stats.ms_per_batch)


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
        return subtitle(key, self.config)

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), theme.mix(theme.color(theme.Role.Window), theme.background(), 0.5))
        width, height = self.width(), self.height()
        gap = 20
        box_w = (width - gap * (len(BOXES) + 1)) / len(BOXES)
        box_h = max(40.0, min(height - SUBTITLE_H - FIGURES_H - 6, 120))
        top = SUBTITLE_H + 4
        tokens = shown_tokens(self.state, self.config) if self.state is not None else {}
        for index, (key, title) in enumerate(BOXES):
            rect = QRectF(gap + index * (box_w + gap), top, box_w, box_h)
            if index:
                self._arrow(painter, rect.left() - gap + 3, rect.left() - 3, rect.center().y())
            self._box(painter, key, title, rect, tokens.get(key, []))
        painter.end()

    def _box(self, painter: QPainter, key: str, title: str, rect: QRectF, tokens: list[int]) -> None:
        state = self.state
        base, text, muted = theme.background(), theme.foreground(), theme.muted()
        disabled = (key == BUFFER and not self.buffer_enabled) or (key == AUGMENT and not self.config.augment)
        starving = key == TRAIN and state is not None and state.train_waiting
        fill = theme.mix(base, theme.color(theme.Role.Highlight), 0.12)
        if starving:
            fill = theme.mix(base, text, 0.18)  # greyed out: the model has nothing to do
        if disabled:
            fill = theme.mix(base, theme.color(theme.Role.Window), 0.6)
        painter.setPen(QPen(theme.mix(text, base, 0.5), 1.5))
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 8, 8)
        painter.setPen(muted if disabled else text)
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(rect.adjusted(4, 4, -4, -rect.height() * 0.55), Qt.AlignmentFlag.AlignCenter, title)
        painter.setFont(self.font())
        painter.setPen(muted)
        painter.drawText(QRectF(rect.left() - 8, rect.top() - SUBTITLE_H - 2, rect.width() + 16, SUBTITLE_H),
                         Qt.AlignmentFlag.AlignCenter, self._subtitle(key))
        if disabled:
            painter.setPen(QPen(theme.semantic(*CROSS), 2.5))
            painter.drawLine(rect.topLeft(), rect.bottomRight())
            painter.drawLine(rect.bottomLeft(), rect.topRight())
        if state is None or key == "disk":
            return
        stats = state.stats.get(key)
        if stats and not disabled:
            painter.setPen(muted)
            painter.drawText(QRectF(rect.left() - 8, rect.bottom() + 2, rect.width() + 16, FIGURES_H),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                             "\n".join(figures(stats)))
        if starving:
            painter.setPen(theme.semantic(*WAITING))
            painter.drawText(rect.adjusted(0, 0, 0, -6), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                             "waiting for data")
        if key == BUFFER and tokens:
            painter.setPen(text)
            painter.drawText(rect.adjusted(0, 0, -6, -4), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                             f"{wording.count(len(tokens), 'batch')} ready")
        self._tokens(painter, rect, tokens)

    @staticmethod
    def _tokens(painter: QPainter, rect: QRectF, tokens: list[int]) -> None:
        radius = 6.0
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.semantic(*TOKEN))
        per_row = max(1, int((rect.width() - 12) // (2 * radius + 4)))
        for i, _step in enumerate(tokens[:MAX_TOKENS_DRAWN]):
            row, col = divmod(i, per_row)
            center = QPointF(rect.left() + 12 + col * (2 * radius + 4),
                             rect.center().y() + 4 + row * (2 * radius + 4))
            painter.drawEllipse(center, radius, radius)

    @staticmethod
    def _arrow(painter: QPainter, x0: float, x1: float, y: float) -> None:
        painter.setPen(QPen(theme.mix(theme.foreground(), theme.background(), 0.5), 2))
        painter.drawLine(QPointF(x0, y), QPointF(x1, y))
        painter.drawLine(QPointF(x1, y), QPointF(x1 - 7, y - 5))
        painter.drawLine(QPointF(x1, y), QPointF(x1 - 7, y + 5))

