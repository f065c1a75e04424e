import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from pipeviz.core.digits import (CENTRE_OF_MASS, MNIST_STROKE_WIDTH, centre_of_mass, resize_area,
                                  stroke_width, to_mnist)


def test_empty_drawing_reads_as_nothing():
    assert to_mnist(np.zeros((280, 280))) is None


def test_stroke_fits_20x20_and_centre_of_mass_is_mnists():
    drawing = np.zeros((280, 280))
    drawing[40:250, 60:100] = 1.0  # a tall, thick bar, off to the left
    image = to_mnist(drawing)
    assert image.shape == (28, 28) and image.dtype == np.float32
    rows = np.flatnonzero(image.max(axis=1) > 0.05)
    cols = np.flatnonzero(image.max(axis=0) > 0.05)
    assert 19 <= rows[-1] - rows[0] + 1 <= 21, "the longer side becomes about 20 pixels"
    assert cols[-1] - cols[0] + 1 <= 5, "aspect ratio kept"
    cy, cx = centre_of_mass(image)
    assert abs(cy - CENTRE_OF_MASS) <= 0.15 and abs(cx - CENTRE_OF_MASS) <= 0.15


def pen_drawing(scale: float, pen: float = 9.0, side: int = 280, offset=(0.0, 0.0)) -> np.ndarray:
    """An "8" (two stacked rings) drawn with a round pen `pen` canvas pixels wide, `scale`
    of the canvas tall, rendered anti-aliased like the canvas does."""
    t = np.linspace(0, 2 * np.pi, 200)
    h = scale * side
    cx, cy = side / 2 + offset[0], side / 2 + offset[1]
    rings = [(cx + 0.2 * h * np.cos(t), cy - 0.25 * h + 0.23 * h * np.sin(t)),
             (cx + 0.25 * h * np.cos(t), cy + 0.24 * h + 0.25 * h * np.sin(t))]
    ys, xs = np.mgrid[0:side, 0:side] + 0.5
    distance = np.full((side, side), np.inf)
    for px, py in rings:
        for x, y in zip(px, py):
            distance = np.minimum(distance, np.hypot(xs - x, ys - y))
    return np.clip(pen / 2 + 0.5 - distance, 0, 1)


@pytest.mark.parametrize("scale", [0.3, 0.5, 0.7, 0.9])
def test_any_drawing_size_gives_mnists_stroke_width_and_centre(scale):
    """A fixed pen is thick on a small drawing and thin on a large one; after fitting, the
    strokes come out as wide as MNIST's at every size, centred as MNIST's are."""
    image = to_mnist(pen_drawing(scale, offset=(40 * (scale < 0.6), -30 * (scale < 0.6))))
    assert stroke_width(image) == pytest.approx(MNIST_STROKE_WIDTH, rel=0.2)
    cy, cx = centre_of_mass(image)
    assert abs(cy - CENTRE_OF_MASS) <= 0.15 and abs(cx - CENTRE_OF_MASS) <= 0.15
    ring_hole = image[7:11, 12:16]  # the top ring's hole stays open, not filled by the pen
    assert ring_hole.min() < 0.2


def test_stroke_width_measures_a_bar():
    image = np.zeros((28, 28))
    image[4:24, 10:13] = 1.0
    assert stroke_width(image) == pytest.approx(3.0, rel=0.25)
    assert stroke_width(np.zeros((28, 28))) == 0.0


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
    assert np.corrcoef(again.ravel(), digit.ravel())[0, 1] > 0.9


def test_real_mnist_round_trip():
    """Real MNIST digits shown 10x larger on the canvas (as set_digit does) come back close to
    the originals: same centre of mass, similar strokes (the seed's to_mnist: 0.78)."""
    from conftest import SHARED_MNIST
    from pipeviz.core.idx import load_idx_pair
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("the real MNIST split is not beside the project")
    images, _ = load_idx_pair(SHARED_MNIST / "t10k-images-idx3-ubyte.gz",
                              SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
    correlations, centres = [], []
    for image in images[:100] / 255.0:
        again = to_mnist(np.kron(image, np.ones((10, 10))))
        correlations.append(np.corrcoef(again.ravel(), image.ravel())[0, 1])
        centres.append(centre_of_mass(again))
    assert np.median(correlations) > 0.93
    assert np.abs(np.array(centres) - CENTRE_OF_MASS).max() < 0.25


@settings(max_examples=150, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 60), st.integers(1, 60)),
              elements=st.floats(-2, 2) | st.just(float("nan"))))
def test_fuzz_any_drawing_gives_none_or_a_valid_image(drawing):
    image = to_mnist(drawing)
    if image is not None:
        assert image.shape == (28, 28) and np.isfinite(image).all()
        assert 0 <= image.min() and image.max() <= 1


def test_shape_doubt_flags_what_is_not_a_digit():
    from pipeviz.core.digits import shape_doubt
    dash = np.zeros((280, 280))
    dash[135:144, 60:220] = 1.0
    assert "dash" in shape_doubt(dash)
    speck = np.zeros((280, 280))
    speck[100:108, 100:108] = 1.0
    assert "small" in shape_doubt(speck)
    assert shape_doubt(pen_drawing(0.5)) == "", "an 8 is digit-like"
    assert shape_doubt(np.zeros((280, 280))) == ""


def test_prediction_says_when_it_is_unsure():
    from pipeviz.core.predict import Prediction

    def reading(probabilities, doubt=""):
        return Prediction(np.zeros((28, 28)), {"softmax": np.array(probabilities)}, doubt)

    sure = reading([0.01] * 4 + [0.91] + [0.01] * 5)
    assert sure.digit == 4 and sure.doubt == ""
    weak = reading([0.0] * 7 + [0.55, 0.0, 0.45])
    assert weak.digit == 7 and weak.runner_up == 9 and "55%" in weak.doubt
    assert reading([0.0] * 4 + [0.99] + [0.0] * 4 + [0.01], "wider than any digit").doubt


def test_nan_inf_and_out_of_range_pixels_read_as_their_cleaned_values():
    """to_mnist finds the ink before cleaning (only the crop is cleaned, for speed): the
    result is the one for the drawing with NaN as 0 and values clipped to [0, 1]."""
    drawing = pen_drawing(0.5).astype(np.float32)
    rng = np.random.default_rng(0)
    dirty = drawing.copy()
    rows, cols = rng.integers(0, drawing.shape[0], 40), rng.integers(0, drawing.shape[1], 40)
    dirty[rows[:10], cols[:10]] = np.nan
    dirty[rows[10:20], cols[10:20]] = np.inf
    dirty[rows[20:30], cols[20:30]] = -np.inf
    dirty[rows[30:], cols[30:]] = 3.0
    clean = np.clip(np.nan_to_num(dirty, nan=0.0), 0, 1)
    np.testing.assert_array_equal(to_mnist(dirty), to_mnist(clean))
    far = np.zeros((280, 280), np.float32)
    far[5, 270] = np.inf  # one bright pixel is ink, wherever it is
    assert to_mnist(far) is not None and to_mnist(np.full((50, 50), np.nan)) is None
