import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from pipeviz.core.digits import resize_area, to_mnist


def test_empty_drawing_reads_as_nothing():
    assert to_mnist(np.zeros((280, 280))) is None


def test_stroke_fits_20x20_and_centre_of_mass_is_central():
    drawing = np.zeros((280, 280))
    drawing[40:250, 60:100] = 1.0  # a tall bar, off to the left
    image = to_mnist(drawing)
    assert image.shape == (28, 28) and image.dtype == np.float32
    rows = np.flatnonzero(image.max(axis=1) > 0.05)
    cols = np.flatnonzero(image.max(axis=0) > 0.05)
    assert rows[-1] - rows[0] + 1 == 20, "the longer side becomes 20 pixels"
    assert cols[-1] - cols[0] + 1 <= 5, "aspect ratio kept"
    ys, xs = np.indices(image.shape)
    cy, cx = (ys * image).sum() / image.sum(), (xs * image).sum() / image.sum()
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1


def test_resize_area_antialiases_and_keeps_mean():
    image = np.zeros((100, 100))
    image[:, :50] = 1.0
    small = resize_area(image, 7, 7)
    assert small.mean() == pytest.approx(0.5, abs=0.08)
    assert 0 < small[3, 3] < 1, "the edge pixel is grey, not aliased"


def test_an_mnist_style_digit_survives_the_round_trip(small_data):
    """A digit already in MNIST form, drawn 10x larger, comes back (nearly) unchanged."""
    digit = to_mnist(small_data.train_images[0] / 255.0)
    big = np.kron(digit, np.ones((10, 10)))  # as if drawn on a 280x280 canvas
    again = to_mnist(big)
    assert np.corrcoef(again.ravel(), digit.ravel())[0, 1] > 0.95


@settings(max_examples=150, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 60), st.integers(1, 60)),
              elements=st.floats(-2, 2) | st.just(float("nan"))))
def test_fuzz_any_drawing_gives_none_or_a_valid_image(drawing):
    image = to_mnist(drawing)
    if image is not None:
        assert image.shape == (28, 28) and np.isfinite(image).all()
        assert 0 <= image.min() and image.max() <= 1
