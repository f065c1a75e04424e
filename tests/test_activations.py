"""The activation view's pictures: every feature map in its place, nothing else drawn."""
import numpy as np

from pipeviz.gui.activations import heat_image, mosaic


def test_mosaic_places_each_map_in_row_major_order_with_dark_gaps():
    rng = np.random.default_rng(0)
    maps = rng.random((5, 4, 7)) + 0.5  # 7 maps of 5x4, all > 0 so a gap would show
    image = mosaic(maps, columns=3)
    assert image.shape == (3 * 6, 3 * 5)
    for c in range(7):
        r, k = divmod(c, 3)
        np.testing.assert_array_equal(image[r * 6: r * 6 + 5, k * 5: k * 5 + 4], maps[:, :, c])
    gaps = np.ones_like(image, dtype=bool)
    for c in range(7):
        r, k = divmod(c, 3)
        gaps[r * 6: r * 6 + 5, k * 5: k * 5 + 4] = False
    assert not image[gaps].any()  # 1-px gaps and the two unused tiles stay zero


def test_non_finite_activations_draw_as_dark_not_garbage():
    maps = np.ones((3, 3, 2))
    maps[1, 1, 0] = np.nan
    image = mosaic(maps, columns=2)
    assert np.isfinite(image).all() and image[1, 1] == 0
    picture = heat_image(image, float(image.max()))
    assert (picture.width(), picture.height()) == (8, 4)


def test_the_digit_panel_says_unsure_and_names_the_runner_up():
    from pipeviz.core.predict import Prediction
    from pipeviz.gui.activations import prediction_text

    probabilities = np.array([0.0] * 7 + [0.55, 0.0, 0.45])
    text = prediction_text(Prediction(np.zeros((28, 28)), {"softmax": probabilities}), "trained")
    assert "unsure" in text and "7 55%" in text and "or 9 45%" in text
    probabilities = np.array([0.0] * 3 + [0.97, 0.03] + [0.0] * 5)
    text = prediction_text(Prediction(np.zeros((28, 28)), {"softmax": probabilities}), "trained")
    assert "unsure" not in text and ">3</b> 97%" in text


def test_heat_image_maps_zero_to_dark_scale_to_bright_and_nan_to_dark():
    from pipeviz.gui.activations import _viridis
    values = np.array([[0.0, 0.5, 1.0, 2.0, np.nan, -1.0]])
    picture = heat_image(values, 1.0)
    pixels = [picture.pixel(x, 0) for x in range(6)]
    table = _viridis()
    assert pixels == [table[0], table[127], table[255], table[255], table[0], table[0]]
    assert len(set(pixels)) == 3 and table[0] != table[255]


def test_canvas_pixels_read_as_floats_and_emptiness_follows_the_ink(qtbot):
    from pipeviz.gui.canvas import DigitCanvas, image_to_array
    canvas = DigitCanvas()
    qtbot.addWidget(canvas)
    assert canvas.is_empty() and not canvas.drawing().any()
    digit = np.zeros((28, 28))
    digit[10:20, 13:15] = 200
    canvas.set_digit(digit)
    assert not canvas.is_empty()
    grey = np.frombuffer(canvas.image.constBits(), np.uint8).reshape(280, canvas.image.bytesPerLine())[:, :280]
    np.testing.assert_array_equal(image_to_array(canvas.image), grey.astype(np.float32) / 255.0)
    assert canvas.drawing().dtype == np.float32 and canvas.drawing().max() == np.float32(200 / 255)
    canvas.clear()
    assert canvas.is_empty()


def test_bar_labels_are_drawn_and_laid_out_once(qtbot):
    """The digits and percentages are painted (dark pixels where each label goes) from
    pixmaps made on the first paint and reused on the next ones."""
    from pipeviz.gui import activations
    from pipeviz.gui.activations import PredictionBars
    bars = PredictionBars()
    qtbot.addWidget(bars)
    bars.resize(370, 140)
    bars.show_probabilities(np.array([0.0] * 3 + [0.55, 0.45] + [0.0] * 5))
    first = bars.grab().toImage()
    made = len(activations._LABELS)
    second = bars.grab().toImage()
    assert len(activations._LABELS) == made, "no label laid out again"
    assert first == second
    row_h = 14

    def dark_pixels(x0, x1, row):
        return sum(first.pixelColor(x, y).lightness() < 128
                   for x in range(x0, x1) for y in range(row * row_h, (row + 1) * row_h))

    for row in range(10):
        assert dark_pixels(0, 20, row) > 5, f"digit label {row}"
        assert dark_pixels(370 - 48, 370, row) > 5, f"percentage of {row}"
    assert dark_pixels(370 - 48, 370, 3) != dark_pixels(370 - 48, 370, 0), "55% is not 0%"
