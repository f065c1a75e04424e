"""A generated handwritten-style digit set, for when no real MNIST can be found or downloaded.

Each digit is a few pen strokes (polylines and arcs in a unit box). Every sample gets its own
random affine transform (rotation, shear, scale, shift), wobble of the stroke points, pen
thickness and pixel noise, and is rasterized anti-aliased with numpy into the central 20x20
of a 28x28 image, as MNIST's digits are. It is always labelled *synthetic* where shown.
"""
from __future__ import annotations

import numpy as np

SIDE = 28


def _arc(cx: float, cy: float, rx: float, ry: float, start_deg: float, end_deg: float,
         n: int = 9) -> np.ndarray:
    """Points on an ellipse arc; angles in image coordinates (0 = right, 90 = down)."""
    angles = np.radians(np.linspace(start_deg, end_deg, n))
    return np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], axis=1)


def _line(*points: tuple[float, float]) -> np.ndarray:
    return np.asarray(points, dtype=np.float64)


# Strokes of each digit in a unit box (x right, y down).
DIGIT_STROKES: dict[int, list[np.ndarray]] = {
    0: [_arc(0.5, 0.5, 0.3, 0.42, 0, 360, 16)],
    1: [_line((0.36, 0.24), (0.52, 0.08), (0.52, 0.92))],
    2: [np.vstack([_arc(0.5, 0.3, 0.26, 0.22, 200, 380), _line((0.2, 0.92), (0.82, 0.92))])],
    3: [_arc(0.47, 0.28, 0.24, 0.2, 200, 450), _arc(0.47, 0.7, 0.27, 0.22, 270, 520)],
    4: [_line((0.62, 0.08), (0.18, 0.62), (0.84, 0.62)), _line((0.62, 0.08), (0.62, 0.92))],
    5: [np.vstack([_line((0.78, 0.1), (0.32, 0.1), (0.3, 0.45)),
                   _arc(0.48, 0.66, 0.27, 0.24, 225, 500)])],
    6: [np.vstack([_line((0.7, 0.1), (0.45, 0.3), (0.29, 0.6)),
                   _arc(0.5, 0.68, 0.22, 0.22, 180, 540, 13)])],
    7: [_line((0.18, 0.1), (0.82, 0.1), (0.42, 0.92))],
    8: [_arc(0.5, 0.3, 0.2, 0.2, 0, 360, 12), _arc(0.5, 0.71, 0.25, 0.21, 0, 360, 13)],
    9: [_arc(0.5, 0.32, 0.22, 0.2, 0, 360, 12), _line((0.72, 0.34), (0.62, 0.92))],
}


def _random_affine(rng: np.random.Generator) -> np.ndarray:
    """A 2x3 matrix mapping unit-box points around their centre: rotate, shear, scale, shift."""
    angle = np.radians(rng.uniform(-14, 14))
    shear = rng.uniform(-0.3, 0.3)
    sx, sy = rng.uniform(0.75, 1.1), rng.uniform(0.85, 1.1)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    lin = rot @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([sx, sy])
    shift = rng.uniform(-0.07, 0.07, size=2)
    return np.hstack([lin, (np.array([0.5, 0.5]) + shift - lin @ np.array([0.5, 0.5]))[:, None]])


def _segments(strokes: list[np.ndarray], affine: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(S, 2, 2) segment endpoints in pixel coordinates, with a smooth wobble on the points."""
    segments = []
    for stroke in strokes:
        wobble = np.cumsum(rng.normal(0, 0.008, size=stroke.shape), axis=0)
        points = (stroke + wobble) @ affine[:, :2].T + affine[:, 2]
        pixels = 4.0 + 20.0 * points  # the unit box fills MNIST's central 20x20
        segments.append(np.stack([pixels[:-1], pixels[1:]], axis=1))
    return np.concatenate(segments)


_PIXEL_CENTRES = np.stack(np.meshgrid(np.arange(SIDE) + 0.5, np.arange(SIDE) + 0.5), -1).reshape(-1, 2)


def rasterize(segments: np.ndarray, half_width: np.ndarray | float) -> np.ndarray:
    """Anti-aliased (n, 28, 28) float images in [0, 1] of segments (n, S, 2, 2) drawn with a
    round pen of the given half width (scalar or one per image)."""
    segments = np.asarray(segments, dtype=np.float32)
    if segments.ndim == 3:
        segments = segments[None]
    ax, ay = segments[:, None, :, 0, 0], segments[:, None, :, 0, 1]        # (n, 1, S)
    abx = segments[:, None, :, 1, 0] - ax
    aby = segments[:, None, :, 1, 1] - ay
    length2 = np.maximum(abx * abx + aby * aby, 1e-9)
    px = _PIXEL_CENTRES[None, :, None, 0].astype(np.float32)              # (1, P, 1)
    py = _PIXEL_CENTRES[None, :, None, 1].astype(np.float32)
    apx, apy = px - ax, py - ay                                             # (n, P, S)
    t = np.clip((apx * abx + apy * aby) / length2, 0.0, 1.0)
    apx -= t * abx
    apy -= t * aby
    dist = np.sqrt((apx * apx + apy * apy).min(axis=2))                     # (n, P)
    width = np.asarray(half_width, dtype=np.float32).reshape(-1, 1)
    return np.clip(width + 0.5 - dist, 0.0, 1.0).reshape(-1, SIDE, SIDE)


def generate(count: int, seed: int = 0, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """`count` synthetic digits: images (count, 28, 28) uint8 and balanced labels (count,) uint8."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % 10).astype(np.uint8)
    images = np.empty((count, SIDE, SIDE), dtype=np.uint8)
    for digit in range(10):
        where = np.flatnonzero(labels == digit)
        for start in range(0, len(where), chunk):
            rows = where[start:start + chunk]
            segments = np.stack([_segments(DIGIT_STROKES[digit], _random_affine(rng), rng)
                                 for _ in rows])
            ink = rasterize(segments, rng.uniform(0.9, 1.9, size=len(rows)))
            ink *= rng.uniform(0.8, 1.0, size=(len(rows), 1, 1))
            ink += rng.normal(0, 0.03, ink.shape) * (ink > 0)
            images[rows] = np.clip(ink * 255.0, 0, 255).astype(np.uint8)
    return images, labels
