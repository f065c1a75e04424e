"""Pages that scroll instead of squeezing their panel or making the window taller than a
small screen."""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget


def scrolling(widget: QWidget, name: str) -> QScrollArea:
    """`widget` in a frameless vertical scroll area: on a short screen it scrolls instead
    of squeezing its contents or pushing the window past the screen."""
    area = QScrollArea(objectName=name)
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    # (never narrower than its contents: with no horizontal scrolling they would be cut off)
    area.setMinimumWidth(widget.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
    return area


class FillPage(QWidget):
    """A page (a tab's, the digit panel's) that holds one panel at the page's size, never below the panel's minimum
    (in a scroll area: below that, the page scrolls). It has no layout on purpose: a
    word-wrapped label in the panel would make a layout report height-for-width, and the
    scroll area would then size the page to the panel's full preferred height (thousands of
    pixels for pyqtgraph panels) and always scroll."""

    def __init__(self, panel: QWidget):
        super().__init__()
        self.panel = panel
        panel.setParent(self)
        panel.installEventFilter(self)
        self.setMinimumSize(panel.minimumSizeHint())

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt API)
        """The panel's layout changed (e.g. a label got longer): follow its minimum, so the
        scroll area scrolls to all of it instead of cutting it off."""
        if watched is self.panel and event.type() == QEvent.Type.LayoutRequest:
            self.setMinimumSize(self.panel.minimumSizeHint())
        return False

    def minimumSizeHint(self):  # noqa: N802 (Qt API)
        return self.minimumSize()

    def sizeHint(self):  # noqa: N802 (Qt API)
        return self.minimumSize()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.panel.setGeometry(self.rect())
