"""Metric functions against hand-computed cases."""

import math

import numpy as np
import pytest

from encryptface.imaging.metrics import psnr, ssim, threshold_at_far


def test_psnr_of_a_uniform_error_of_one_level():
    a = np.full((8, 8, 3), 100, np.uint8)
    assert psnr(a, a + 1) == pytest.approx(20 * math.log10(255))
    assert psnr(a, a) == float("inf")


def test_ssim_hand_cases():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    assert ssim(image, image) == pytest.approx(1.0)
    # flat images differing only in mean: luminance term (2*100*110 + c1) / (100^2 + 110^2 + c1)
    c1 = (0.01 * 255) ** 2
    flat = np.full((32, 32), 100, np.uint8)
    assert ssim(flat, flat + 10) == pytest.approx((2 * 100 * 110 + c1) / (100 ** 2 + 110 ** 2 + c1))
    def noisy(sigma):
        return np.clip(image.astype(int) + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)

    slight, strong = noisy(5), noisy(60)
    assert 0 < ssim(image, strong) < ssim(image, slight) < 1
    assert ssim(image, strong) == pytest.approx(ssim(strong, image))


def test_threshold_at_far_accepts_that_share_of_impostors():
    impostors = np.arange(100) / 100.0  # distances 0.00 .. 0.99
    threshold = threshold_at_far(impostors, 0.05)
    assert (impostors < threshold).mean() == pytest.approx(0.05)
    with pytest.raises(ValueError):
        threshold_at_far([], 0.01)


def test_mean_colour_difference_by_hand():
    from encryptface.imaging.metrics import mean_colour_difference

    black, white = np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 255, np.uint8)
    assert mean_colour_difference(black, black) == 0.0
    assert abs(mean_colour_difference(black, white) - 100.0) < 0.1  # L* 0 -> 100, no hue
    skin = np.full((4, 4, 3), (200, 150, 120), np.uint8)
    assert 0 < mean_colour_difference(skin, skin + 5) < mean_colour_difference(skin, skin // 2)
