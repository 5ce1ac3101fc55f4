"""The stylegan generator's blend steps on synthetic arrays (no model needed)."""

import numpy as np


def test_the_landmark_warp_puts_the_rendered_landmarks_on_the_photos():
    from encryptface.models.stylegan_generator import _landmark_warp

    wanted = np.array([[40, 50], [80, 50], [60, 72], [45, 92], [75, 92]], np.float64)
    rendered = wanted + np.array([[2, -1], [-2, 1], [3, 0], [-1, 2], [1, -2]])
    map_x, map_y = _landmark_warp(wanted, rendered, (300, 300))
    # the output pixel at each wanted landmark samples the render at its rendered landmark
    sampled = np.array([[map_x[int(y), int(x)], map_y[int(y), int(x)]] for x, y in wanted])
    np.testing.assert_allclose(sampled, rendered, atol=0.1)
    # smooth: nowhere moved much more than the landmarks were; four eye distances away, not at all
    ys, xs = np.mgrid[0:300, 0:300]
    moved = np.hypot(map_x - xs, map_y - ys)
    assert moved.max() < 2 * np.linalg.norm(rendered - wanted, axis=1).max()
    assert moved[299, 299] < 0.05


def test_grain_makes_up_the_detail_a_smooth_render_lacks():
    import cv2

    from encryptface.models.stylegan_generator import _detail, _match_detail

    rng = np.random.default_rng(1)
    photo = np.clip(128 + 12 * rng.standard_normal((80, 80, 3)), 0, 255).astype(np.float32)
    smooth = cv2.GaussianBlur(photo, (0, 0), 3.0)
    alpha = np.ones((80, 80), np.float32)
    weights = alpha / alpha.sum()
    wanted, before = _detail(photo, weights), _detail(smooth, weights)
    assert np.array_equal(_match_detail(smooth, photo, alpha, 0.0), smooth)
    after = _detail(_match_detail(smooth, photo, alpha, 1.0), weights)
    assert before < 0.5 * wanted and abs(after - wanted) < 0.1 * wanted
    half = _detail(_match_detail(smooth, photo, alpha, 0.5), weights)
    assert before < half < after
