"""The Augment stage: random pen-and-hand variation of each training batch, on the CPU.

8,000 MNIST digits seen five times teach a model MNIST's writers, not a user's mouse: it
reads a slanted, thicker or hooked digit drawn on the canvas as the wrong class, sure of
itself. Augmenting each batch with what varies between hands makes it read drawings right
(measured in benchmarks/drawn_digits.py, docs/benchmarks.md):

- an affine warp per image: rotation, scale (each axis), shear (slant) and a small shift,
  about MNIST's centre of mass, as one `ImageProjectiveTransformV3` call for the batch;
- stroke thickness: a blend towards a 3x3 grey dilation (thicker) or erosion (thinner);
- an elastic wobble: a smooth random displacement field (coarse noise interpolated) sampled
  bilinearly, like a hand that does not draw straight lines;
- printed-style digits (core/stylebank.py) appended to the batch with their labels.

All of it is vectorized over the batch (no per-image Python or tf.map_fn) and stateless:
the random numbers come from the pipeline's seed and the batch's example ids, so the result
does not depend on the map's parallelism or thread timing. Validation and prediction never
augment.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .stylebank import style_bank

CENTRE = 14.0
"""MNIST's centre of mass (pixel index): rotations and scaling turn about it."""


@dataclass(frozen=True)
class AugmentSettings:
    """How strong each variation is (uniform ranges, symmetric about no change)."""

    rotation_deg: float = 12.0
    scale: float = 0.12          # each axis scaled by 1 +- this
    shear: float = 0.3           # x += shear * (y - centre), a slant of up to ~17 degrees
    shift_px: float = 1.5
    thickness: float = 0.7       # blend weight towards dilation (> 0) or erosion (< 0)
    elastic_px: float = 1.2      # displacement amplitude of the wobble
    elastic_grid: int = 4        # coarse noise cells per side (smoothness of the wobble)
    printed_fraction: float = 0.25
    """Printed-style digits (core/stylebank.py) added per MNIST digit in each batch."""


DEFAULT = AugmentSettings()


def _uniform(shape, seed, limit: float) -> tf.Tensor:
    return tf.random.stateless_uniform(shape, seed, -limit, limit)


def _affine(images: tf.Tensor, seed: tf.Tensor, s: AugmentSettings) -> tf.Tensor:
    """Warp each image by its own random rotation, scale, shear and shift."""
    n = tf.shape(images)[0]
    r = tf.random.stateless_uniform([n, 6], seed, -1.0, 1.0)
    angle = r[:, 0] * math.radians(s.rotation_deg)
    sx, sy = 1.0 + r[:, 1] * s.scale, 1.0 + r[:, 2] * s.scale
    shear = r[:, 3] * s.shear
    tx, ty = r[:, 4] * s.shift_px, r[:, 5] * s.shift_px
    cos, sin = tf.cos(angle), tf.sin(angle)
    # output -> input map about the centre: diag(1/scale) @ rotation @ shear, plus the shift
    a00, a01 = cos / sx, (-sin + shear * cos) / sx
    a10, a11 = sin / sy, (cos + shear * sin) / sy
    a02 = CENTRE - a00 * CENTRE - a01 * CENTRE + tx
    a12 = CENTRE - a10 * CENTRE - a11 * CENTRE + ty
    zeros = tf.zeros_like(a00)
    transforms = tf.stack([a00, a01, a02, a10, a11, a12, zeros, zeros], axis=1)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR")
    out.set_shape(images.shape)
    return out


def _filter3x3(images: tf.Tensor, pick, outside: float) -> tf.Tensor:
    """Grey 3x3 dilation (pick=maximum) or erosion (minimum), separably from shifted
    slices: on a CPU this is ~10x faster than max_pool2d on one channel."""
    p = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=outside)
    rows = pick(pick(p[:, :, :-2], p[:, :, 1:-1]), p[:, :, 2:])
    return pick(pick(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])


def _thickness(images: tf.Tensor, seed: tf.Tensor, s: AugmentSettings) -> tf.Tensor:
    """Blend each image towards its 3x3 dilation or erosion by a random weight."""
    weight = _uniform([tf.shape(images)[0], 1, 1, 1], seed, s.thickness)
    dilated = _filter3x3(images, tf.maximum, 0.0)
    eroded = _filter3x3(images, tf.minimum, 1.0)
    return tf.where(weight > 0, images + weight * (dilated - images),
                    images - weight * (eroded - images))


def _upsampling(size: int, cells: int) -> np.ndarray:
    """(size, cells) linear interpolation weights from `cells` control points spread over
    `size` pixels (rows sum to 1): a coarse field times it on both sides is smooth."""
    at = np.linspace(0, cells - 1, size)
    weights = np.maximum(0.0, 1.0 - np.abs(at[:, None] - np.arange(cells)[None, :]))
    return weights.astype(np.float32)


def _elastic(images: tf.Tensor, seed: tf.Tensor, s: AugmentSettings) -> tf.Tensor:
    """Move each pixel by a smooth random displacement (bilinear sampling, zeros outside).
    The field is a coarse random grid interpolated to every pixel (two small matmuls), and
    the four neighbours of every sample come from one gather over the flattened batch."""
    n = tf.shape(images)[0]
    h, w = images.shape[1], images.shape[2]
    coarse = _uniform([n, s.elastic_grid, s.elastic_grid, 2], seed, s.elastic_px)
    up_y, up_x = tf.constant(_upsampling(h, s.elastic_grid)), tf.constant(_upsampling(w, s.elastic_grid))
    flow = tf.einsum("yi,nijc,xj->nyxc", up_y, coarse, up_x)  # (n, h, w, 2): dy, dx
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    y = tf.clip_by_value(ys[None] + flow[..., 0], -1.0, h - 1.0)
    x = tf.clip_by_value(xs[None] + flow[..., 1], -1.0, w - 1.0)
    y0, x0 = tf.floor(y), tf.floor(x)
    fy, fx = y - y0, x - x0
    # a zero border of one pixel: samples outside the image read zeros
    padded = tf.reshape(tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]]), [-1])
    yi, xi = tf.cast(y0, tf.int32) + 1, tf.cast(x0, tf.int32) + 1  # in the padded image
    base = tf.range(n)[:, None, None] * ((h + 2) * (w + 2))
    corner = base + yi * (w + 2) + xi
    tl, tr, bl, br = tf.unstack(tf.gather(padded, tf.stack(
        [corner, corner + 1, corner + w + 2, corner + w + 3], axis=-1)), axis=-1)
    out = (tl * (1 - fx) + tr * fx) * (1 - fy) + (bl * (1 - fx) + br * fx) * fy
    return out[..., None]


def batch_seed(seed: int | tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
    """A stateless seed pair from the pipeline's seed and the batch's example ids."""
    key = tf.reduce_sum(tf.cast(ids, tf.int64) * 2_654_435_761 % 1_000_003)
    return tf.stack([tf.cast(seed, tf.int64), key])


def augment_images(images: tf.Tensor, seed: tf.Tensor,
                   settings: AugmentSettings = DEFAULT) -> tf.Tensor:
    """A batch of 28x28x1 images in [0, 1] -> the same batch, each image varied at random
    (affine, stroke thickness, elastic wobble); values stay in [0, 1]."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    out = _affine(images, seeds[0], settings)
    out = _thickness(out, seeds[1], settings)
    if settings.elastic_px > 0:
        out = _elastic(out, seeds[2], settings)
    return tf.clip_by_value(out, 0.0, 1.0)


_bank_lock = threading.Lock()
_bank: tuple[tf.Variable, tf.Variable] | None = None


def _bank_variables() -> tuple[tf.Variable, tf.Variable]:
    """The printed-style bank as two variables, made once per process (outside any graph
    being traced). As graph constants its 6 MB were copied into every pipeline and
    instantiated with every iterator: about 0.1 s more per epoch here (measured: creating
    the iterator took 0.19-0.26 s with the constants, 0.12-0.14 s with the variables)."""
    global _bank
    with _bank_lock:
        if _bank is None:
            images, labels = style_bank()
            with tf.init_scope():
                _bank = (tf.Variable(images, trainable=False, name="printed_bank_images"),
                         tf.Variable(labels, trainable=False, name="printed_bank_labels"))
        return _bank


def _add_printed(images: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor, fraction: float
                 ) -> tuple[tf.Tensor, tf.Tensor]:
    """The batch plus round(fraction * batch) digits drawn from the printed-style bank."""
    bank_images, bank_labels = _bank_variables()
    count = tf.cast(tf.round(tf.cast(tf.shape(images)[0], tf.float32) * fraction), tf.int32)
    pick = tf.random.stateless_uniform([count], seed, 0, bank_labels.shape[0], dtype=tf.int32)
    return (tf.concat([images, tf.gather(bank_images, pick)], axis=0),
            tf.concat([labels, tf.gather(bank_labels, pick)], axis=0))


@tf.function(reduce_retracing=True)
def augment_traced(element: dict[str, tf.Tensor], seed: tf.Tensor) -> dict[str, tf.Tensor]:
    """`augment_batch` with the default settings, traced once per process (per batch
    structure) and called from every pipeline built after: tracing it inside each epoch's
    new `map` cost 0.3-0.6 s of CPU per epoch here, which the trainer paid while training
    (each epoch builds a new pipeline; model.fit builds its dataset once)."""
    return augment_batch(element, seed)


def augment_batch(element: dict[str, tf.Tensor], seed: int | tf.Tensor,
                  settings: AugmentSettings = DEFAULT) -> dict[str, tf.Tensor]:
    """The pipeline's map function: the batch's images varied at random, plus a few
    printed-style digits with their labels (after the batch's own; `id` keeps naming only
    the batch's MNIST examples, so exactly-once accounting is unchanged)."""
    seeds = tf.random.experimental.stateless_split(batch_seed(seed, element["id"]), 2)
    images, labels = element["image"], element["label"]
    if settings.printed_fraction > 0:
        images, labels = _add_printed(images, labels, seeds[0], settings.printed_fraction)
    return {**element, "image": augment_images(images, seeds[1], settings), "label": labels}
