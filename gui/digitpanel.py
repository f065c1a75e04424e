"""The digit panel: draw a digit, see it as the model's input, its softmax and every layer.

It owns its widgets and its prediction state; the window only tells it when the weights or
the model may have changed (`mark_dirty`) and calls `refresh` once a frame.
"""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from pipeviz.core.digits import shape_doubt, to_mnist
from pipeviz.core.session import Session

from .activations import ActivationsView, PredictionBars, prediction_text
from .canvas import DigitCanvas

CANVAS_PX = 170
"""The drawing square's side in widget pixels (benchmarks/drawn_digits.py draws at this
size; on a 720-pixel-high screen the panel scrolls a little)."""
REPREDICT_WHILE_TRAINING_S = 1.5
"""While training changes the weights, the drawn digit is predicted again this often."""


class DigitPanel(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("digitPanel")
        self.session = session
        self.prediction = None
        """The latest prediction (core.predict.Prediction), None while nothing is drawn."""
        self._dirty = False
        self._last_prediction_at = 0.0
        self.canvas = DigitCanvas()
        self.canvas.setFixedSize(CANVAS_PX, CANVAS_PX)
        self.preview = QLabel()
        self.preview.setObjectName("modelInputPreview")
        self.preview.setFixedSize(84, 84)
        self.preview.setToolTip("What the model sees: your drawing as an MNIST digit")
        self.preview.setStyleSheet("background: black; border: 1px solid #889")
        self.prediction_label = QLabel("")
        self.prediction_label.setObjectName("predictionLabel")
        self.prediction_label.setWordWrap(True)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clearCanvasButton")
        self.clear_button.setToolTip("Clear the drawing (Esc)")
        self.prediction_bars = PredictionBars()
        self.activations = ActivationsView()
        self._layout()
        self.canvas.changed.connect(self.mark_dirty)
        # While drawing, predictions follow at the frame rate; when the pen lifts, at once.
        self.canvas.stroke_finished.connect(self.update_prediction)
        self.clear_button.clicked.connect(self.canvas.clear)

    def _layout(self) -> None:
        side = QVBoxLayout()
        side.addWidget(QLabel("Model input"))
        side.addWidget(self.preview)
        side.addWidget(self.prediction_label)
        side.addStretch(1)
        side.addWidget(self.clear_button)
        top = QHBoxLayout()
        top.addWidget(self.canvas)
        top.addLayout(side)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.prediction_bars, 1)
        layout.addWidget(self.activations, 2)

    def mark_dirty(self) -> None:
        """Predict again at the next frame (the drawing, the model or its state changed)."""
        self._dirty = True

    def refresh(self) -> None:
        """Once a frame: predict when something changed, and every
        REPREDICT_WHILE_TRAINING_S while training, so the bars follow the changing weights."""
        weights_moving = self.session.training and self.prediction is not None
        since = time.monotonic() - self._last_prediction_at
        if self._dirty or (weights_moving and since > REPREDICT_WHILE_TRAINING_S):
            self.update_prediction()

    def update_prediction(self) -> None:
        """Run the model on the drawing and show the result."""
        predictor = self.session.predictor
        self._dirty = False
        self._last_prediction_at = time.monotonic()
        drawing = self.canvas.drawing()
        image = to_mnist(drawing)
        if image is None or predictor is None:
            self.prediction = None
            self.preview.clear()
            self.prediction_label.setText("" if predictor else "model loading…")
            self.prediction_bars.show_probabilities(None)
            self.activations.show_prediction(None)
            return
        self.prediction = p = predictor.predict(image, shape_doubt(drawing))
        pixels = np.ascontiguousarray((image * 255).astype(np.uint8))
        preview = QImage(pixels.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()
        self.preview.setPixmap(QPixmap.fromImage(preview).scaled(84, 84))
        self.prediction_label.setText(prediction_text(p, self.session.model_origin))
        self.prediction_bars.show_probabilities(p.probabilities)
        self.activations.show_prediction(p)

    @property
    def drawn_max(self) -> float | None:
        """The brightest pixel of the model input (for the Learn tab), None if nothing drawn."""
        return float(self.prediction.image.max()) if self.prediction is not None else None
