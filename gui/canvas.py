"""A square the user draws a digit on, with mouse or pen; ink is white on black, like MNIST."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

SIZE = 280          # drawing resolution (10x MNIST)
PEN_WIDTH = 9.0     # thin: to_mnist thickens it to MNIST's width for the drawing's size


def _grey_view(image: QImage) -> np.ndarray:
    """A Grayscale8 QImage's pixels as a (height, width) uint8 view (no copy)."""
    view = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return view[:, : image.width()]


def image_to_array(image: QImage) -> np.ndarray:
    """A Grayscale8 QImage as floats in [0, 1] (a convert and a divide: vectorized, ~5x as
    fast here as a 256-entry table look-up per pixel)."""
    pixels = _grey_view(image).astype(np.float32)
    pixels /= 255.0
    return pixels


class DigitCanvas(QWidget):
    changed = Signal()
    stroke_finished = Signal()  # the pen lifted: the moment a user waits for the prediction

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("digitCanvas")
        self.setMinimumSize(150, 150)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw a digit with the mouse or a pen")
        self.image = QImage(SIZE, SIZE, QImage.Format.Format_Grayscale8)
        self._last: QPointF | None = None
        self.clear()

    # ----- content ---------------------------------------------------------------------
    def clear(self) -> None:
        self.image.fill(QColor(0, 0, 0))
        self._last = None
        self.update()
        self.changed.emit()

    def drawing(self) -> np.ndarray:
        return image_to_array(self.image)

    def is_empty(self) -> bool:
        """No ink at all (read on the grey bytes: every paint asks)."""
        return not _grey_view(self.image).any()

    def set_digit(self, digit: np.ndarray) -> None:
        """Put a 28x28 digit (values 0-255 or 0-1) on the canvas, as if drawn."""
        pixels = np.asarray(digit, dtype=np.float32)
        pixels = pixels / 255.0 if pixels.max() > 1 else pixels
        big = np.kron(np.clip(pixels, 0, 1), np.ones((SIZE // 28, SIZE // 28), np.float32))
        rows = np.ascontiguousarray((big * 255).astype(np.uint8))
        self.image = QImage(rows.data, SIZE, SIZE, SIZE, QImage.Format.Format_Grayscale8).copy()
        self.update()
        self.changed.emit()

    # ----- drawing ---------------------------------------------------------------------
    def _scale(self) -> float:
        return SIZE / max(1, min(self.width(), self.height()))

    def _to_image(self, pos: QPointF) -> QPointF:
        return QPointF(pos.x() * self._scale(), pos.y() * self._scale())

    def _stroke_to(self, pos: QPointF, width: float = PEN_WIDTH) -> None:
        point = self._to_image(pos)
        painter = QPainter(self.image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(255, 255, 255), width, Qt.PenStyle.SolidLine,
                            Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
        painter.drawLine(self._last or point, point)
        painter.end()
        self._last = point
        self.update()
        self.changed.emit()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton:
            self._last = None
            self._stroke_to(event.position())

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._stroke_to(event.position())

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._last = None
        if event.button() == Qt.MouseButton.LeftButton:
            self.stroke_finished.emit()

    def tabletEvent(self, event) -> None:  # noqa: N802
        """A pen draws with its pressure; touch/pen events not handled fall back to mouse."""
        if event.buttons() & Qt.MouseButton.LeftButton or event.pressure() > 0:
            self._stroke_to(event.position(), PEN_WIDTH * (0.5 + event.pressure()))
        else:
            if self._last is not None:
                self.stroke_finished.emit()
            self._last = None
        event.accept()

    def paintEvent(self, _event) -> None:  # noqa: N802
        painter = QPainter(self)
        side = min(self.width(), self.height())
        painter.drawImage(QRectF(0, 0, side, side), self.image)
        painter.setPen(QPen(QColor(120, 130, 150), 1))
        painter.drawRect(QRectF(0, 0, side - 1, side - 1))
        if self.is_empty():
            painter.setPen(QColor(160, 160, 170))
            painter.drawText(QRectF(0, 0, side, side), Qt.AlignmentFlag.AlignCenter, "draw a digit here")
        painter.end()
