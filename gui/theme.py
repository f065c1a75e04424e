"""Colours from the system's palette, so plots and panels follow a light or a dark desktop.

Backgrounds, text and lines come from QApplication.palette() (Base, Window, Text,
Highlight). The colours that carry a meaning (orange input wait, green compute, the blue
batch) keep their hue; where one would be hard to read on a dark background it has a
lighter twin (`semantic`). Widgets call `style_plot` when built and again on a
PaletteChange event, so switching the desktop's theme repaints them.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

Role = QPalette.ColorRole
PALETTE_EVENTS = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)


def palette() -> QPalette:
    return QApplication.palette()


def color(role: QPalette.ColorRole) -> QColor:
    return QColor(palette().color(role))


def is_dark() -> bool:
    """A dark theme: the window background is darker than mid grey."""
    return color(Role.Window).lightness() < 128


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """`a` moved a share `t` of the way to `b`."""
    return QColor.fromRgbF(*(x + (y - x) * t for x, y in
                             zip(a.getRgbF()[:3], b.getRgbF()[:3])), 1.0)


def semantic(light: tuple[int, int, int], dark: tuple[int, int, int]) -> QColor:
    """A colour that means something, in the variant readable on the current background."""
    return QColor(*(dark if is_dark() else light))


def background() -> QColor:
    return color(Role.Base)


def foreground() -> QColor:
    return color(Role.Text)


def muted() -> QColor:
    """Secondary text and lines: the text colour a third of the way to the background."""
    return mix(foreground(), background(), 0.35)


def style_plot(widget, legend_alpha: int = 200) -> None:
    """A pyqtgraph PlotWidget in the palette's colours: background, axes, tick labels,
    title and legend."""
    import pyqtgraph as pg

    item = widget.getPlotItem()
    if item is None:  # a closed PlotWidget has let its plot go
        return
    bg, fg = background(), foreground()
    widget.setBackground(bg)
    for side in ("left", "bottom", "top", "right"):
        axis = item.getAxis(side)
        axis.setPen(pg.mkPen(mix(fg, bg, 0.45)))
        axis.setTextPen(pg.mkPen(fg))
        axis.picture = None  # cached tick labels: redrawn in the new colours
        axis.update()
    title = item.titleLabel
    if title.text:
        item.setTitle(title.text, color=fg.name())
    legend = item.legend
    if legend is not None:
        fill = QColor(bg)
        fill.setAlpha(legend_alpha)
        legend.setBrush(pg.mkBrush(fill))
        legend.setLabelTextColor(fg)
