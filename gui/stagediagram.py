"""The user's own tf.data pipeline, drawn from the latest `StagesSampled`: one box per stage
from the source to the last stage the script wrote, in order.

Each box says what the stage is (position, kind, the script's name for it or "(unnamed)"),
how parallel it runs ("autotune" when tf.data chose), how full its buffer is (a bar, where
the stage has one) and its time per batch. The slowest stage is marked by a word and by the
"waiting" colour, never by colour alone. A figure tf.data did not give is "—", not 0: a 0
would read as a measurement. The words are plain functions (`stage_lines`), so the tests
read exactly what is painted.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from pipeviz.core import wording
from pipeviz.core.watch.events import Stage
from pipeviz.core.watch.report import PARALLEL_KINDS

from . import theme
from .diagram import TOKEN, WAITING

DASH = "—"
SLOWEST_WORD = "SLOWEST"
MIN_BOX_W, MAX_BOX_W, GAP = 128, 230, 18
"""Boxes narrower than MIN_BOX_W would cut their words: more stages wrap to a new row."""
LINE_H, PAD = 15, 6
BAR_H = 9
ROW_GAP = 12
EMPTY_H = 40
"""Height of the line that says the stages are awaited."""
EMPTY_TEXT = "Waiting for the script's tf.data pipeline (read once its training starts)…"
NO_STAGES_TEXT = ("No stages were read from this script's pipeline (pipeviz reads them from "
                  "tf.data's model of the iterator model.fit runs).")


def figure(value, fmt: str = "{}") -> str:
    """A figure in words, or "—" where tf.data did not give it."""
    return DASH if value is None else fmt.format(value)


def stage_title(stage: Stage) -> str:
    return f"{stage.position} · {stage.kind}"


def stage_name(stage: Stage) -> str:
    return stage.name or "(unnamed)"


def parallelism_text(stage: Stage) -> str:
    """"parallel 4, autotune": the calls in flight and who chose them; "serial" for a stage
    that could run calls in parallel and runs one; "" (no line) where parallelism means
    nothing (shuffle, cache...), as the --report table reads them (report.PARALLEL_KINDS)."""
    auto = ", autotune" if stage.autotuned else ""
    if stage.parallelism is not None:
        return f"parallel {stage.parallelism}{auto}"
    if stage.kind.startswith(PARALLEL_KINDS):
        return f"parallel {DASH}{auto}" if stage.autotuned else "serial"
    return "autotuned" if stage.autotuned else ""


def buffer_text(stage: Stage) -> str:
    """"buffer 3/8": elements ready of those it may hold ("" where it has no buffer)."""
    if stage.buffer_size is None:
        return ""
    return f"buffer {figure(stage.buffered)}/{stage.buffer_size}"


def time_text(stage: Stage) -> str:
    """"6.9 ms per batch"; a time too small for one decimal reads "<0.1", not a made-up 0."""
    ms = stage.ms_per_batch
    if ms is None:
        return f"{DASH} ms per batch"
    if 0 < ms < 0.05:
        return "<0.1 ms per batch"
    return wording.ms_per_batch(ms)


def stage_lines(stage: Stage) -> list[str]:
    """Every line a stage's box shows, top to bottom (the buffer bar is drawn beside its
    line)."""
    lines = [stage_title(stage), stage_name(stage)]
    if parallelism_text(stage):
        lines.append(parallelism_text(stage))
    if stage.kind == "data service" or stage.workers is not None:
        lines.append(f"workers {figure(stage.workers)}")
    if stage.fused_with:
        lines.append(f"fused with {stage.fused_with}")
    if stage.buffer_size is not None:
        lines.append(buffer_text(stage))
    lines.append(time_text(stage))
    if stage.slowest:
        lines.append(SLOWEST_WORD)
    return lines


def buffer_fill(stage: Stage) -> float | None:
    """The bar's share, 0..1; None where there is no buffer or its fill is unknown."""
    if not stage.buffer_size or stage.buffered is None:
        return None
    return min(1.0, max(0.0, stage.buffered / stage.buffer_size))


def per_row(count: int, width: float) -> int:
    """How many boxes fit on one row of `width` pixels (at least one)."""
    fits = max(1, int((width - GAP) // (MIN_BOX_W + GAP)))
    return max(1, min(count, fits))


def rows_for(count: int, width: float) -> int:
    return max(1, math.ceil(count / per_row(count, width))) if count else 1


class StageDiagram(QWidget):
    """Paints `stages` (sorted by position); `show_stages` replaces them and repaints."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("stageDiagram")
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)  # stages that do not fit one row wrap to the next
        self.setSizePolicy(policy)
        self.setMinimumWidth(MIN_BOX_W + 2 * GAP)
        self.stages: tuple[Stage, ...] = ()
        self.empty_text = EMPTY_TEXT
        """What the diagram says while it has no stages (the window says when none came)."""

    def show_stages(self, stages: tuple[Stage, ...]) -> None:
        ordered = tuple(sorted(stages, key=lambda s: s.position))
        before = self.heightForWidth(self.width())
        self.stages = ordered
        if self.heightForWidth(self.width()) != before:
            self.updateGeometry()  # one more (or one less) row or line of the boxes
        self.update()

    def box_height(self) -> int:
        """Tall enough for the stage with the most lines (and a buffer bar, if any has one)."""
        if not self.stages:
            return EMPTY_H
        lines = max(len(stage_lines(s)) for s in self.stages)
        bar = BAR_H if any(s.buffer_size is not None for s in self.stages) else 0
        return PAD * 2 + LINE_H * lines + bar

    def set_empty_text(self, text: str) -> None:
        if text != self.empty_text:
            self.empty_text = text
            self.update()

    def box_texts(self) -> list[list[str]]:
        """The words of each box, left to right (what paintEvent draws)."""
        return [stage_lines(s) for s in self.stages]

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt API)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt API)
        return rows_for(len(self.stages), width) * (self.box_height() + ROW_GAP) + 4

    def sizeHint(self):  # noqa: N802 (Qt API)
        from PySide6.QtCore import QSize
        return QSize(1000, self.heightForWidth(1000))

    def minimumSizeHint(self):  # noqa: N802 (Qt API)
        from PySide6.QtCore import QSize
        return QSize(MIN_BOX_W + 2 * GAP, self.box_height() + ROW_GAP + 4)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if rows_for(len(self.stages), event.size().width()) != rows_for(
                len(self.stages), event.oldSize().width()):
            self.updateGeometry()
        super().resizeEvent(event)

    def box_rects(self) -> list[QRectF]:
        """Where each stage's box goes: rows of up to `per_row` boxes, left to right."""
        n, width, box_h = len(self.stages), self.width(), self.box_height()
        columns = per_row(n, width)
        box_w = min(MAX_BOX_W, (width - GAP * (columns + 1)) / columns)
        return [QRectF(GAP + (i % columns) * (box_w + GAP), 2 + (i // columns) * (box_h + ROW_GAP),
                       box_w, box_h) for i in range(n)]

    def tooltip_at(self, x: float, y: float) -> str:
        """A box's words in full (a narrow box elides them) and tf.data's op for it."""
        for stage, rect in zip(self.stages, self.box_rects()):
            if rect.contains(x, y):
                return "\n".join([*stage_lines(stage), f"tf.data op: {stage.op}"])
        return ""

    def event(self, event) -> bool:  # noqa: A003 (Qt API)
        if event.type() == QEvent.Type.ToolTip:
            text = self.tooltip_at(event.pos().x(), event.pos().y())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), theme.mix(theme.color(theme.Role.Window), theme.background(), 0.5))
        if not self.stages:
            painter.setPen(theme.muted())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            painter.end()
            return
        rects = self.box_rects()
        for index, (stage, rect) in enumerate(zip(self.stages, rects)):
            if index and rects[index - 1].top() == rect.top():
                _arrow(painter, rects[index - 1].right() + 3, rect.left() - 3, rect.center().y())
            self._box(painter, stage, rect)
        painter.end()

    def _box(self, painter: QPainter, stage: Stage, rect: QRectF) -> None:
        base, text, muted = theme.background(), theme.foreground(), theme.muted()
        marked = theme.semantic(*WAITING)
        fill = theme.mix(base, marked if stage.slowest else theme.color(theme.Role.Highlight),
                         0.22 if stage.slowest else 0.10)
        painter.setPen(QPen(marked, 3) if stage.slowest else QPen(theme.mix(text, base, 0.5), 1.5))
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 8, 8)
        bold = QFont(self.font())
        bold.setBold(True)
        inner = rect.adjusted(PAD, PAD, -PAD, -PAD)
        y = inner.top()
        for index, line in enumerate(stage_lines(stage)):
            is_title, is_mark = index == 0, line == SLOWEST_WORD and stage.slowest
            painter.setFont(bold if is_title or is_mark else self.font())
            painter.setPen(marked if is_mark else (text if index < 2 else muted))
            line_rect = QRectF(inner.left(), y, inner.width(), LINE_H)
            shown = QFontMetrics(painter.font()).elidedText(line, Qt.TextElideMode.ElideRight,
                                                            int(inner.width()))
            painter.drawText(line_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, shown)
            y += LINE_H
            if line.startswith("buffer ") and stage.buffer_size is not None:
                self._bar(painter, QRectF(inner.left(), y + 1, inner.width(), BAR_H - 2), stage)
                y += BAR_H

    @staticmethod
    def _bar(painter: QPainter, rect: QRectF, stage: Stage) -> None:
        """The buffer's fill: an outline, filled to buffered / buffer_size (empty outline,
        dashed, when the fill is unknown)."""
        share = buffer_fill(stage)
        outline = theme.mix(theme.foreground(), theme.background(), 0.5)
        painter.setPen(QPen(outline, 1, Qt.PenStyle.SolidLine if share is not None else Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)
        if share:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(theme.semantic(*TOKEN))
            painter.drawRect(QRectF(rect.left(), rect.top(), rect.width() * share, rect.height()))


def _arrow(painter: QPainter, x0: float, x1: float, y: float) -> None:
    painter.setPen(QPen(theme.mix(theme.foreground(), theme.background(), 0.5), 2))
    painter.drawLine(QPointF(x0, y), QPointF(x1, y))
    painter.drawLine(QPointF(x1, y), QPointF(x1 - 6, y - 4))
    painter.drawLine(QPointF(x1, y), QPointF(x1 - 6, y + 4))
