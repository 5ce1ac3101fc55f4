"""The photo fit's distilled predictor (a ridge regression on the fits' styles)."""

import numpy as np

from encryptface.models.stylegan_photo_fit import FitPredictor


def _fits(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    axes = np.linalg.qr(rng.standard_normal((512, 6)))[0].T   # (6, 512) orthonormal
    centre = rng.standard_normal(512)
    photo = centre + rng.standard_normal((count, 6)) @ axes
    styles = centre + rng.standard_normal((count, 3, 6)) @ axes
    # the offsets: a linear function of where the photo's encoding and the coarse style sit
    mixing = rng.standard_normal((12, 12)) * 0.3
    features = np.concatenate([(photo - centre) @ axes.T, (styles[:, 0] - centre) @ axes.T], axis=1)
    offsets = (features @ mixing).reshape(count, 2, 6) @ axes
    return axes, centre, photo, styles, offsets


def test_the_predictor_learns_offsets_that_follow_the_styles_and_survives_a_save(tmp_path):
    axes, centre, photo, styles, offsets = _fits(200)
    predictor = FitPredictor.fitted(axes, centre, photo[:150], styles[:150], offsets[:150], l2=1e-3)
    predicted = np.stack([predictor.offsets(p, s) for p, s in zip(photo[150:], styles[150:], strict=True)])
    assert predicted.shape == (50, 2, 512)
    assert np.abs(predicted - offsets[150:]).max() < 1e-2 * np.abs(offsets).max()
    predictor.save(tmp_path / "photo_fit.npz")
    loaded = FitPredictor.load(tmp_path / "photo_fit.npz")
    np.testing.assert_allclose(loaded.offsets(photo[0], styles[0]), predictor.offsets(photo[0], styles[0]),
                               atol=1e-3)


def test_a_strong_penalty_predicts_the_mean_offset():
    axes, centre, photo, styles, offsets = _fits(100, seed=1)
    predictor = FitPredictor.fitted(axes, centre, photo, styles, offsets, l2=1e9)
    np.testing.assert_allclose(predictor.offsets(photo[3], styles[3]), offsets.mean(0), atol=1e-4)
