"""Turn a drawing into an MNIST-like input, the way MNIST's digits were made.

MNIST: each digit's ink was fitted into a 20x20 box (keeping its aspect ratio, anti-aliased)
and placed in a 28x28 image so that its centre of mass sits at the centre. Doing the same to
a drawing is what lets a model trained on MNIST read it. Plain numpy, tested headless.
"""
from __future__ import annotations

import numpy as np

SIDE, BOX = 28, 20
INK_THRESHOLD = 0.05


def resize_area(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Anti-aliased resize: each output pixel is the mean of the input area it covers
    (sampled on a fine grid, so any size in and out works)."""
    factor = max(1, int(np.ceil(max(image.shape[0] / height, image.shape[1] / width))) * 2)
    rows = ((np.arange(height * factor) + 0.5) * image.shape[0] / (height * factor)).astype(int)
    cols = ((np.arange(width * factor) + 0.5) * image.shape[1] / (width * factor)).astype(int)
    fine = image[np.ix_(rows, cols)]
    return fine.reshape(height, factor, width, factor).mean(axis=(1, 3))


def to_mnist(drawing: np.ndarray) -> np.ndarray | None:
    """A drawing (any size, ink bright on dark, values in [0, 1]) -> a 28x28 float32 image in
    [0, 1], or None when there is no ink to read."""
    drawing = np.nan_to_num(np.asarray(drawing, dtype=np.float64), nan=0.0).clip(0.0, 1.0)
    if drawing.ndim != 2 or drawing.size == 0:
        raise ValueError(f"a drawing is a 2-D grey image, got shape {drawing.shape}")
    ink_rows = np.flatnonzero(drawing.max(axis=1) > INK_THRESHOLD)
    ink_cols = np.flatnonzero(drawing.max(axis=0) > INK_THRESHOLD)
    if len(ink_rows) == 0:
        return None
    crop = drawing[ink_rows[0]:ink_rows[-1] + 1, ink_cols[0]:ink_cols[-1] + 1]
    scale = BOX / max(crop.shape)
    height = max(1, min(BOX, int(round(crop.shape[0] * scale))))
    width = max(1, min(BOX, int(round(crop.shape[1] * scale))))
    digit = resize_area(crop, height, width)
    canvas = np.zeros((SIDE, SIDE))
    top, left = (SIDE - height) // 2, (SIDE - width) // 2
    canvas[top:top + height, left:left + width] = digit
    return _centre_of_mass_to_middle(canvas, top, left, height, width).astype(np.float32)


def _centre_of_mass_to_middle(canvas: np.ndarray, top: int, left: int, height: int, width: int
                              ) -> np.ndarray:
    total = canvas.sum()
    if total <= 0:
        return canvas
    ys, xs = np.indices(canvas.shape)
    cy, cx = (ys * canvas).sum() / total, (xs * canvas).sum() / total
    # Integer shift towards the middle (pixel centres at +0.5), kept inside the image.
    dy = int(np.clip(round(SIDE / 2 - 0.5 - cy), -top, SIDE - top - height))
    dx = int(np.clip(round(SIDE / 2 - 0.5 - cx), -left, SIDE - left - width))
    return np.roll(canvas, (dy, dx), axis=(0, 1))
