import math

import numpy as np

from pipeviz.core.series import DecimatingSeries, Ema


def test_series_stays_bounded_and_spans_the_whole_run():
    series = DecimatingSeries(capacity=64)
    for step in range(10_000):
        series.append(step, step * 2.0)
    assert len(series) <= 64
    assert series.x[0] == 0 and series.x[-1] > 9_800
    assert np.all(np.diff(series.x) > 0) and np.array_equal(series.y, series.x * 2)


def test_ema_skips_non_finite_values():
    ema = Ema(alpha=0.5)
    assert math.isnan(ema.update(math.nan))
    assert ema.update(2.0) == 2.0
    assert ema.update(math.inf) == 2.0
    assert ema.update(4.0) == 3.0
