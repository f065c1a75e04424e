"""Turn a drawing into an MNIST-like input, the way MNIST's digits were made.

MNIST: each digit's ink was fitted into a 20x20 box (keeping its aspect ratio, anti-aliased)
and placed in a 28x28 image so that its centre of mass sits at the centre (pixel index 14.0
on both axes: measured over the real test split, 13.99 and 14.01). Its pen strokes are about
2.3 px wide at that scale whatever the writer's size, because the writers wrote on a form
and the scans were scaled down. A canvas pen has one width in canvas pixels, so a small
drawing would reach the model with strokes twice as thick as a large one: `to_mnist` measures
the drawing's stroke width after fitting and thickens or thins it to MNIST's (grey dilation
or erosion with a disk), then shifts it on a 4x finer grid so the centre of mass lands within
1/8 pixel of MNIST's. Plain numpy, tested headless.
"""
from __future__ import annotations

import numpy as np

SIDE, BOX = 28, 20
INK_THRESHOLD = 0.05
FINE = 4
"""Work on a grid 4x finer than 28x28 (thickness and centring), then area-average down."""
CENTRE_OF_MASS = 14.0
"""Where MNIST puts the centre of mass, in pixel indices (row and column)."""
MNIST_STROKE_WIDTH = 2.3
"""MNIST's median stroke width in 28x28 pixels, as `stroke_width` measures it (2.34 over
2,000 test digits; 2.3 here because dilating a drawn line adds round caps and joins)."""


def resize_area(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Anti-aliased resize: each output pixel is the mean of the input area it covers
    (sampled on a grid at least as fine as the input, and 2x the output, so any size in
    and out works; sampling much finer than the input only costs time)."""
    factor = max(2, int(np.ceil(max(image.shape[0] / height, image.shape[1] / width))))
    rows = ((np.arange(height * factor) + 0.5) * image.shape[0] / (height * factor)).astype(int)
    cols = ((np.arange(width * factor) + 0.5) * image.shape[1] / (width * factor)).astype(int)
    fine = image[np.ix_(rows, cols)]
    return fine.reshape(height, factor, width, factor).mean(axis=(1, 3))


def stroke_width(image: np.ndarray, threshold: float = 0.5) -> float:
    """Mean stroke width in pixels: 2 x area / perimeter of the ink (a stroke of length L and
    width w has area L*w and perimeter about 2L), the perimeter counted along pixel edges and
    corrected by pi/4 for the staircase of slanted edges. 0 when there is no ink."""
    ink = np.pad(np.asarray(image) > threshold, 1)
    edges = np.count_nonzero(ink[1:] != ink[:-1]) + np.count_nonzero(ink[:, 1:] != ink[:, :-1])
    return 2.0 * np.count_nonzero(ink) / (edges * np.pi / 4) if edges else 0.0


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of the ink's centre of mass in pixel indices."""
    total = float(image.sum())
    rows, cols = image.sum(axis=1), image.sum(axis=0)
    return (float(rows @ np.arange(len(rows), dtype=rows.dtype)) / total,
            float(cols @ np.arange(len(cols), dtype=cols.dtype)) / total)


def _disk_filter(image: np.ndarray, radius: float, grow: bool) -> np.ndarray:
    """Grey dilation (grow) or erosion with a disk of `radius` pixels."""
    r = int(np.floor(radius))
    padded = np.pad(image, r)
    h, w = image.shape
    pick = np.maximum if grow else np.minimum
    out = image.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if (dy or dx) and dy * dy + dx * dx <= radius * radius:
                out = pick(out, padded[r + dy:r + dy + h, r + dx:r + dx + w])
    return out


def normalize_thickness(fine: np.ndarray, target: float) -> np.ndarray:
    """Thicken or thin the strokes of `fine` (ink in [0, 1]) to about `target` pixels wide.
    Thinning stops short of erasing a stroke (at most a third of its width comes off)."""
    width = stroke_width(fine)
    if width == 0:
        return fine
    change = (target - width) / 2
    if change < 0:
        change = max(change, -width / 3)
    if abs(change) < 0.5:
        return fine
    return _disk_filter(fine, abs(change), grow=change > 0)


def shape_doubt(drawing: np.ndarray) -> str:
    """Why a drawing does not look like a digit ("" when it may be one): every digit is
    taller than wide, so a dash or a wide scribble is not one, nor is a speck. A model
    trained on digits still gives such a drawing a confident-looking class (a dash read as
    "4 99%"), so the panel says it is unsure instead."""
    drawing = np.asarray(drawing)
    if drawing.ndim != 2 or drawing.size == 0:
        return ""
    ink = drawing > INK_THRESHOLD  # NaN is not ink
    ink_rows, ink_cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if len(ink_rows) == 0:
        return ""
    height, width = ink_rows[-1] - ink_rows[0] + 1, ink_cols[-1] - ink_cols[0] + 1
    if max(height, width) < 0.08 * max(drawing.shape):
        return "too small to read: draw larger"
    if width > 1.6 * height:
        return "wider than any digit (a dash?)"
    return ""


def to_mnist(drawing: np.ndarray) -> np.ndarray | None:
    """A drawing (any size, ink bright on dark, values in [0, 1]) -> a 28x28 float32 image in
    [0, 1], or None when there is no ink to read."""
    drawing = np.asarray(drawing, dtype=np.float32)
    if drawing.ndim != 2 or drawing.size == 0:
        raise ValueError(f"a drawing is a 2-D grey image, got shape {drawing.shape}")
    # Find the ink first and clean only the crop (NaN -> 0, +-inf and out-of-range values
    # clipped to [0, 1]): cleaning the whole 280x280 canvas was half of this function's time.
    ink = drawing > INK_THRESHOLD  # NaN is not ink, +inf is (as after cleaning)
    ink_rows, ink_cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if len(ink_rows) == 0:
        return None
    crop = drawing[ink_rows[0]:ink_rows[-1] + 1, ink_cols[0]:ink_cols[-1] + 1]
    crop = np.fmin(np.fmax(crop, 0.0), 1.0)  # fmax(NaN, 0) is 0
    box = BOX * FINE
    scale = box / max(crop.shape)
    height = max(1, min(box, int(round(crop.shape[0] * scale))))
    width = max(1, min(box, int(round(crop.shape[1] * scale))))
    digit = resize_area(crop, height, width)
    margin = FINE * 3  # room for the thickened strokes around the box
    padded = np.pad(digit, margin)
    padded = normalize_thickness(padded, MNIST_STROKE_WIDTH * FINE)
    return _place(padded).astype(np.float32)


def _place(digit: np.ndarray) -> np.ndarray:
    """Put the fine-grid digit on the 28x28 grid (4x finer) with its centre of mass at
    MNIST's, then area-average down. Integer shifts on the fine grid leave the centre of
    mass within 1/(2*FINE) pixel of the target; ink shifted past the edge is cut off."""
    side = SIDE * FINE
    if not digit.any():
        return np.zeros((SIDE, SIDE))
    cy, cx = centre_of_mass(digit)
    # output index = (fine index + 0.5) / FINE - 0.5, so the target in fine indices is:
    target = (CENTRE_OF_MASS + 0.5) * FINE - 0.5
    top, left = int(round(target - cy)), int(round(target - cx))
    canvas = np.zeros((side, side))
    h, w = digit.shape
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(side, top + h), min(side, left + w)
    if y1 > y0 and x1 > x0:
        canvas[y0:y1, x0:x1] = digit[y0 - top:y1 - top, x0 - left:x1 - left]
    return canvas.reshape(SIDE, FINE, SIDE, FINE).mean(axis=(1, 3))
