"""Printed-style digits that the Augment stage mixes into training batches.

MNIST's writers were American census staff and students: their 1 is a bare stick, their 6
and 9 rarely have a typeset hook or a curled tail, their 4 is mostly open and their 7 has no
bar. A user drawing a digit the way a font or a European school writes it (a flagged 1, a 6
whose top curls over, a 9 with a curved tail, a crossed 7, a closed 4) is read as the wrong
class with high confidence (issue 13: a 6 read as 8 in 75% of drawings). No warp of MNIST's
images can add a hook that is not there, so the Augment stage also draws a few such digits
per batch from this bank: each class in several shapes, every shape with random proportions
(loop sizes, how far a tail curls, flag length, slant), pen width and wobble, rasterized like
MNIST (20x20 box, centre of mass at the centre) by core/synthetic.py's rasterizer.

This is training data, made once per process (about a second); the drawn-digit benchmark
(benchmarks/glyphs.py) and core/synthetic.py's fallback set are separate designs.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .synthetic import SIDE, rasterize

BANK_SIZE = 2000


def _arc(cx, cy, rx, ry, t0, t1) -> np.ndarray:
    t = np.radians(np.linspace(t0, t1, max(5, int(abs(t1 - t0) / 12))))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _line(*points) -> np.ndarray:
    return np.asarray(points, dtype=np.float64)


def _chain(*parts: np.ndarray) -> np.ndarray:
    return np.vstack(parts)


def _zero(u):
    rx = u(.18, .42)  # condensed faces and quick hands make narrow zeros
    return [_arc(.5, .5, rx, .45, -90 + u(-20, 20), 270 + u(-5, 15))]


def _one(u):
    stem = _line((.5, .05), (.5 + u(-.05, .05), .95))
    kind = int(u(0, 3))
    if kind == 0:
        return [stem]
    flag = _line((.5 - u(.15, .32), .05 + u(.1, .3)), (.5, .05))
    strokes = [_chain(flag, stem)]
    if kind == 2:
        strokes.append(_line((.5 - u(.15, .25), .95), (.5 + u(.15, .25), .95)))
    return strokes


def _two(u):
    top = _arc(.5, .3, u(.25, .33), u(.18, .26), 190 + u(-15, 15), 380 + u(-15, 25))
    corner = (u(.12, .25), .93)
    if u(0, 1) < 0.3:  # a small loop at the bottom-left corner
        loop = _arc(corner[0] + .06, corner[1] - .05, .07, .06, 150, -180)
        return [_chain(top, loop, _line((.85, .93)))]
    return [_chain(top, _line(corner, (u(.75, .9), .95)))]


def _three(u):
    if u(0, 1) < 0.35:  # flat top
        return [_chain(_line((.2, .06), (.8, .06), (.45, .42)), _arc(.5, .7, .3, .25, -110, 160 + u(-15, 15)))]
    split = u(.42, .5)
    return [_chain(_arc(.5, split / 2, u(.24, .3), split / 2, 200 + u(-20, 10), 450),
                   _arc(.5, (1 + split) / 2, u(.28, .34), (1 - split) / 2, -90, 160 + u(-20, 15)))]


def _four(u):
    bar = u(.58, .7)
    if u(0, 1) < 0.55:  # closed
        return [_line((.65, .95), (.65, .05), (.12, bar), (.88, bar))]
    return [_line((.3, .05), (.14, bar), (.88, bar)), _line((.66, u(.05, .35)), (.66, .95))]


def _five(u):
    bowl = _arc(.5, .68, u(.26, .32), u(.22, .28), -140 + u(-15, 15), 150 + u(-15, 25))
    stem = _line((u(.22, .32), .07), (u(.22, .3), .45))
    if u(0, 1) < 0.5:
        return [_chain(_line((.8, .07)), stem, bowl)]
    return [_chain(stem, bowl), _line((u(.22, .32), .07), (.82, .07))]


def _six(u):
    loop_r = u(.2, .3)
    loop = _arc(.5, 1 - loop_r * .95, loop_r, loop_r * .95, 90, -270)
    if u(0, 1) < 0.65:  # typeset: the top curls over from the right
        tail = _arc(.56, .52, u(.28, .36), .48, -u(20, 80), -270)
        return [_chain(tail, loop)]
    return [_chain(_line((u(.6, .8), .05), (.27, .6)), _arc(.5, .72, .24, .23, 180, 540))]


def _seven(u):
    bar = _line((.12, .07), (.88, .07))
    strokes = []
    if u(0, 1) < 0.35:  # serif at the left of the bar
        bar = _chain(_line((.12, .07 + u(.08, .2))), bar)
    if u(0, 1) < 0.5:
        stem = _line((.88, .07), (u(.3, .5), .95))
    else:  # curved stem
        stem = _arc(.88 - u(.55, .7), .07, u(.55, .7), .88, 0, 90)
    strokes.append(_chain(bar, stem))
    if u(0, 1) < 0.35:  # crossed
        strokes.append(_line((.38, .5), (.82, .5)))
    return strokes


def _eight(u):
    split = u(.42, .5)
    top_r, bottom_r = u(.2, .28), u(.26, .34)
    top = _arc(.5, split / 2, top_r, split / 2, -90, 270)
    bottom = _arc(.5, (1 + split) / 2, bottom_r, (1 - split) / 2, -90, 270)
    return [top, bottom]


def _nine(u):
    loop_r = u(.24, .32)
    loop = _arc(.5, loop_r * .95, loop_r, loop_r * .95, 0, -360)
    right = .5 + loop_r
    if u(0, 1) < 0.5:  # straight stem
        return [_chain(loop, _line((right, loop_r), (right - u(0, .15), .95)))]
    tail = _arc(right - u(.35, .5), loop_r, u(.35, .5), .95 - loop_r, 0, u(70, 120))
    return [_chain(loop, tail)]


SHAPES = (_zero, _one, _two, _three, _four, _five, _six, _seven, _eight, _nine)


def _sample(digit: int, rng: np.random.Generator) -> np.ndarray:
    """(S, 2, 2) segments in 28x28 pixels: the shape fitted to MNIST's 20x20 box, slanted,
    wobbled, centre of mass at the centre."""
    u = rng.uniform
    strokes = SHAPES[digit](u)
    slant = u(-.25, .25)
    points = []
    for s in strokes:
        s = s + np.cumsum(rng.normal(0, .006, s.shape), axis=0)
        s = np.stack([s[:, 0] * u(.85, 1.15) + slant * (0.5 - s[:, 1]), s[:, 1]], axis=1)
        points.append(s)
    allp = np.vstack(points)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    scale = 20.0 / max(hi - lo)
    segments = []
    for s in points:
        p = (s - (lo + hi) / 2) * scale + 14.0
        segments.append(np.stack([p[:-1], p[1:]], axis=1))
    return np.concatenate(segments)


def _centre(image: np.ndarray) -> np.ndarray:
    total = image.sum()
    if total <= 0:
        return image
    ys, xs = np.indices(image.shape)
    dy = int(round(14.0 - (ys * image).sum() / total))
    dx = int(round(14.0 - (xs * image).sum() / total))
    return np.roll(image, (dy, dx), axis=(0, 1))


@lru_cache(maxsize=2)
def style_bank(seed: int = 0, size: int = BANK_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """`size` printed-style digits: images (size, 28, 28, 1) float32 in [0, 1] and labels
    (size,) int32, balanced over the classes. Cached: made once per process and seed."""
    rng = np.random.default_rng(seed)
    labels = np.arange(size, dtype=np.int32) % 10
    images = np.empty((size, SIDE, SIDE, 1), np.float32)
    for i, digit in enumerate(labels):
        segments = _sample(int(digit), rng)
        ink = rasterize(segments, rng.uniform(0.8, 1.5))[0]
        images[i, :, :, 0] = _centre(ink)
    return images, labels
