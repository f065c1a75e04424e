"""Bounded series for live plots of unbounded runs: when full, keep every other point.

Memory and redraw cost stay fixed however long training runs, while the whole run stays
visible (at coarser resolution for older parts). Plain numpy, tested headless.
"""
from __future__ import annotations

import math

import numpy as np


class DecimatingSeries:
    def __init__(self, capacity: int = 8192):
        if capacity < 4 or capacity % 2:
            raise ValueError("capacity must be an even number >= 4")
        self.capacity = capacity
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self._n = 0
        self.stride = 1  # one kept point per `stride` appended
        self._skip = 0

    def append(self, x: float, y: float) -> None:
        if self._skip:
            self._skip -= 1
            return
        if self._n == self.capacity:
            half = self.capacity // 2
            self._x[:half], self._y[:half] = self._x[0::2], self._y[0::2]
            self._n, self.stride = half, self.stride * 2
        self._x[self._n], self._y[self._n] = x, y
        self._n += 1
        self._skip = self.stride - 1

    def __len__(self) -> int:
        return self._n

    @property
    def x(self) -> np.ndarray:
        return self._x[: self._n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self._n]


class Ema:
    """Exponential moving average that skips NaN/inf (a NaN loss must not poison the curve)."""

    def __init__(self, alpha: float = 0.05):
        self.alpha = alpha
        self.value = math.nan

    def update(self, sample: float) -> float:
        if math.isfinite(sample):
            self.value = sample if math.isnan(self.value) else self.value + self.alpha * (sample - self.value)
        return self.value
