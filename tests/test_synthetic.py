import numpy as np

from pipeviz.core.synthetic import generate


def test_balanced_deterministic_centred_digits():
    images, labels = generate(200, seed=3)
    again, _ = generate(200, seed=3)
    assert images.shape == (200, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(images, again)
    assert np.bincount(labels, minlength=10).tolist() == [20] * 10
    ink = images.astype(float)
    assert ink[:, 4:24, 4:24].sum() > 0.9 * ink.sum(), "digits must sit in the central 20x20"
    assert 20 < images.max(axis=(1, 2)).min(), "every image has a visible stroke"


def test_classes_look_different():
    images, labels = generate(400, seed=0)
    means = np.stack([images[labels == d].mean(0) for d in range(10)])
    one, zero = means[1], means[0]
    assert one[:, 12:16].sum() > one[:, :8].sum()  # a 1 is a vertical bar in the middle
    assert zero[12:16, 12:16].mean() < zero[12:16, 6:10].mean()  # a 0 is hollow
    distances = np.linalg.norm(means[:, None] - means[None], axis=(2, 3))
    assert distances[~np.eye(10, dtype=bool)].min() > 100
