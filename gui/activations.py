"""What every layer does with the drawn digit: input, both Conv2D blocks' maps and their
pooled maps, Dense units, and the softmax as ten labelled bars with the top class
highlighted."""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from . import theme

if TYPE_CHECKING:  # importing core.predict would load TensorFlow before the window shows
    from pipeviz.core.predict import Prediction


@cache
def _viridis() -> np.ndarray:
    """pyqtgraph's viridis as 256 opaque 0xAARRGGBB pixels (uint32), the layout of a
    Format_RGB32 QImage, which Qt paints without converting it (imported on the first
    prediction, not with the window: see MainWindow.build_plot_panels)."""
    import pyqtgraph as pg
    rgb = pg.colormap.get("viridis").getLookupTable(nPts=256, alpha=False).astype(np.uint32)
    return 0xFF000000 | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


TOP_BAR, OTHER_BAR = ((220, 90, 30), (240, 130, 70)), ((120, 150, 200), (110, 140, 190))
"""The top class's bar and the others' (light, dark variants: gui/theme.semantic)."""
_LABELS: dict[tuple, QPixmap] = {}


def draw_label(painter: QPainter, rect: QRectF, text: str, align: Qt.AlignmentFlag,
               color: QColor, ratio: float) -> None:
    """`text` in `color`, aligned left, right or centred in `rect` and centred vertically,
    blitted from a pixmap made once per text, font, colour and device pixel ratio: laying
    the text out again (`drawText`) on every paint was most of the bars' paint time (20
    labels per prediction, ~15 us each; a blit is a few)."""
    font = painter.font()
    key = (text, font.key(), color.rgba(), ratio)
    pixmap = _LABELS.get(key)
    if pixmap is None:
        metrics = painter.fontMetrics()
        width, height = max(1, metrics.horizontalAdvance(text)), max(1, metrics.height())
        pixmap = QPixmap(round(width * ratio), round(height * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        label = QPainter(pixmap)
        label.setFont(font)
        label.setPen(color)
        label.drawText(QRectF(0, 0, width, height), Qt.AlignmentFlag.AlignCenter, text)
        label.end()
        _LABELS[key] = pixmap
    width, height = pixmap.width() / ratio, pixmap.height() / ratio
    if align & Qt.AlignmentFlag.AlignRight:
        x = rect.right() - width
    elif align & Qt.AlignmentFlag.AlignHCenter:
        x = rect.left() + (rect.width() - width) / 2
    else:
        x = rect.left()
    y = rect.top() if align & Qt.AlignmentFlag.AlignTop else rect.top() + (rect.height() - height) / 2
    painter.drawPixmap(QPointF(round(x), round(y)), pixmap)


def heat_image(values: np.ndarray, scale: float) -> QImage:
    """A 2-D array as a viridis QImage, values divided by `scale` (0 maps to dark; NaN too)."""
    factor = 255.0 / scale if scale > 0 else 0.0
    index = np.fmin(np.fmax(np.asarray(values, np.float32) * factor, 0), 255)  # fmax(NaN, 0) is 0
    pixels = _viridis()[index.astype(np.uint8)]
    h, w = pixels.shape
    return QImage(pixels.data, w, h, 4 * w, QImage.Format.Format_RGB32).copy()


def mosaic(maps: np.ndarray, columns: int) -> np.ndarray:
    """(H, W, C) feature maps -> one (rows*(H+1), columns*(W+1)) image with 1-px gaps
    (one reshape, not a copy per map: this runs on every prediction)."""
    h, w, count = maps.shape
    rows = -(-count // columns)
    dtype = maps.dtype if np.issubdtype(maps.dtype, np.floating) else np.float64
    tiles = np.zeros((rows * columns, h + 1, w + 1), dtype)
    tiles[:count, :h, :w] = np.moveaxis(maps, -1, 0)
    out = tiles.reshape(rows, columns, h + 1, w + 1).transpose(0, 2, 1, 3)
    out = out.reshape(rows * (h + 1), columns * (w + 1))
    out[~np.isfinite(out)] = 0.0  # a broken activation draws dark, not garbage
    return out


class ActivationsView(QWidget):
    ROWS = ("Input 28x28", "Conv2D feature maps", "MaxPooling", "Conv2D (2nd block)",
            "MaxPooling (2nd block)", "Dense units")
    HEIGHTS = (0.8, 1.0, 1.0, 0.6, 0.45, 0.3)
    """Relative row heights: the 2nd block's maps are smaller (11x11, 5x5) but twice as many."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("activationsView")
        self.setMinimumSize(300, 240)
        # paintEvent fills every pixel, so Qt need not paint what lies beneath first
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.prediction: Prediction | None = None
        self._images: list[QImage] = []

    def show_prediction(self, prediction: Prediction | None) -> None:
        self.prediction = prediction
        self._images = [] if prediction is None else self._render(prediction)
        self.update()

    @staticmethod
    def _render(p: Prediction) -> list[QImage]:
        conv, pool, dense = p.layers["conv"], p.layers["pool"], p.layers["dense"]
        conv2, pool2 = p.layers["conv2"], p.layers["pool2"]
        columns = 16 if conv.shape[-1] >= 16 else conv.shape[-1]
        columns2 = 32 if conv2.shape[-1] >= 32 else conv2.shape[-1]
        strip = np.tile(dense[None, :], (6, 1))
        return [heat_image(p.image, 1.0), heat_image(mosaic(conv, columns), float(conv.max())),
                heat_image(mosaic(pool, columns), float(pool.max())),
                heat_image(mosaic(conv2, columns2), float(conv2.max())),
                heat_image(mosaic(pool2, columns2), float(pool2.max())),
                heat_image(strip, float(dense.max()))]

    def paintEvent(self, _event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), theme.background())  # the palette's, light or dark
        if not self._images:
            painter.setPen(theme.muted())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "Draw a digit to see every layer react")
            painter.end()
            return
        label_h, gap = 16, 6
        heights = self.HEIGHTS
        unit = (self.height() - len(heights) * (label_h + gap)) / sum(heights)
        y = 0.0
        for title, image, weight in zip(self.ROWS, self._images, heights):
            draw_label(painter, QRectF(4, y, self.width(), label_h), title,
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, theme.foreground(),
                       self.devicePixelRatioF())
            y += label_h
            height = unit * weight
            width = min(self.width() - 8.0, height * image.width() / image.height())
            if title == "Dense units":
                width = self.width() - 8.0
            painter.drawImage(QRectF(4, y, width, height), image)
            y += height + gap
        painter.end()


UNSURE = ((160, 90, 0), (255, 170, 60))


def prediction_text(p: "Prediction", origin: str) -> str:
    """The digit panel's reading: the digit and its probability, or, when the model should not
    be trusted (p.doubt), "unsure" with the runner-up and the reason."""
    top = f"{100 * p.probabilities[p.digit]:.0f}%"
    footer = f"<br><small>model: {origin}</small>"
    if not p.doubt:
        return f"<b style='font-size:18pt'>{p.digit}</b> {top}{footer}"
    second = f"{100 * p.probabilities[p.runner_up]:.0f}%"
    return (f"<b style='font-size:14pt; color:{theme.semantic(*UNSURE).name()}'>unsure</b><br>{p.digit} {top}, "
            f"or {p.runner_up} {second}<br><small>{p.doubt}</small>{footer}")


class PredictionBars(QWidget):
    """The softmax: one labelled bar per digit; the top class in a strong colour."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("predictionBars")
        self.setMinimumSize(220, 120)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # paintEvent fills every pixel
        self.probabilities: np.ndarray | None = None

    def show_probabilities(self, probabilities: np.ndarray | None) -> None:
        self.probabilities = probabilities
        self.update()

    @property
    def top(self) -> int | None:
        return None if self.probabilities is None else int(np.argmax(self.probabilities))

    def paintEvent(self, _event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), theme.background())  # the palette's, light or dark
        label_colour = theme.foreground()
        row_h = self.height() / 10
        probabilities = self.probabilities if self.probabilities is not None else np.zeros(10)
        top, ratio = self.top, self.devicePixelRatioF()
        for digit in range(10):
            y = digit * row_h
            draw_label(painter, QRectF(2, y, 16, row_h), str(digit), Qt.AlignmentFlag.AlignHCenter,
                       label_colour, ratio)
            width = (self.width() - 70) * float(probabilities[digit])
            painter.fillRect(QRectF(20, y + 2, max(1.0, width), row_h - 4),
                             theme.semantic(*(TOP_BAR if digit == top else OTHER_BAR)))
            draw_label(painter, QRectF(self.width() - 48, y, 46, row_h),
                       f"{100 * probabilities[digit]:.0f}%", Qt.AlignmentFlag.AlignRight,
                       label_colour, ratio)
        painter.end()
