"""The start-up splash: a window on screen while the main window's modules load.

Importing pyqtgraph and building the main window takes about a second on a laptop and
several on a slow or shared machine; the splash needs only QtWidgets, so the user sees
at once that pipeviz started and what it is doing. It draws its own picture (no image
file to ship or lose) and closes when the main window shows.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QSplashScreen

SIZE = (460, 220)
STAGES = ("load", "normalize", "train")
INK, MUTED = QColor(30, 30, 40), QColor(80, 80, 90)  # the pipeline diagram's colours
BACKGROUND, STAGE_FILL, STAGE_EDGE, TOKEN = (QColor(250, 250, 252), QColor(236, 242, 250),
                                             QColor(120, 130, 150), QColor(40, 110, 200))


def _picture() -> QPixmap:
    """The app's name, what it does, and the three stages it animates."""
    width, height = SIZE
    pixmap = QPixmap(width, height)
    pixmap.fill(BACKGROUND)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(INK)
    title = QFont()
    title.setPointSize(26)
    title.setBold(True)
    painter.setFont(title)
    painter.drawText(QRectF(24, 18, width - 48, 48), Qt.AlignmentFlag.AlignLeft, "pipeviz")
    body = QFont()
    body.setPointSize(11)
    painter.setFont(body)
    painter.setPen(MUTED)
    painter.drawText(QRectF(24, 70, width - 48, 24), Qt.AlignmentFlag.AlignLeft,
                     "a TensorFlow input pipeline, live")
    box_w, gap, top = 118, 17, 110
    for i, stage in enumerate(STAGES):
        box = QRectF(24 + i * (box_w + gap), top, box_w, 40)
        painter.setPen(QPen(STAGE_EDGE, 1.5))
        painter.setBrush(STAGE_FILL)
        painter.drawRoundedRect(box, 6, 6)
        painter.setPen(INK)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, stage)
        if i:  # an arrow from the previous stage
            y, x0, x1 = box.center().y(), box.left() - gap + 3, box.left() - 3
            painter.setPen(QPen(TOKEN, 2))
            painter.drawLine(QPointF(x0, y), QPointF(x1, y))
            painter.drawLine(QPointF(x1 - 5, y - 4), QPointF(x1, y))
            painter.drawLine(QPointF(x1 - 5, y + 4), QPointF(x1, y))
    painter.setPen(QPen(STAGE_EDGE, 1))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(QRectF(0.5, 0.5, width - 1, height - 1))
    painter.end()
    return pixmap


def show_splash(message: str = "Starting: loading the plots…") -> QSplashScreen:
    """Show the splash with `message` and paint it now (the caller goes on to import for
    seconds without running the event loop). Needs a QApplication."""
    splash = QSplashScreen(_picture())
    splash.setObjectName("splash")
    splash.show()
    splash.showMessage(message, Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft,
                       INK)
    QApplication.processEvents()
    return splash
