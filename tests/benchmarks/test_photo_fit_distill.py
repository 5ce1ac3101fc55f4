"""The distillation benchmark's held-out measure tells a predictable target from noise."""

import numpy as np

from benchmarks.photo_fit_distill import crop_colours, held_out_explained


def test_held_out_explained_variance_finds_a_linear_target_and_not_noise():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((120, 8))
    linear = features @ rng.standard_normal((8, 3)) + 0.05 * rng.standard_normal((120, 3))
    assert held_out_explained(features, linear, 1.0) > 0.95
    assert held_out_explained(features, rng.standard_normal((120, 3)), 1.0) < 0.05


def test_crop_colours_are_five_regions_means_and_spreads():
    crop = np.zeros((64, 64, 3), np.uint8)
    crop[:12] = 200   # the forehead band
    colours = crop_colours(crop)
    assert colours.shape == (30,)
    assert colours[0] == 200 and colours[9] == 0   # forehead mean; centre mean
