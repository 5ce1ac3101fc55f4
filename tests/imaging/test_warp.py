"""The smooth landmark warp: moves what it is told to, no further, and nothing at its anchors."""

import numpy as np

from encryptface.imaging.warp import displacement_field, warp


def _dot(shape: tuple[int, int], x: float, y: float) -> np.ndarray:
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    return (255 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / 8.0)).astype(np.float32)


def _centroid(image: np.ndarray) -> np.ndarray:
    ys, xs = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    return np.array([(xs * image).sum(), (ys * image).sum()]) / image.sum()


def test_a_point_moves_towards_its_target_and_the_anchors_stay():
    shape = (96, 96)
    targets, moves = np.array([[48.0, 48.0]]), np.array([[4.0, -2.0]])
    anchors = np.array([[8.0, 8.0], [88.0, 8.0], [8.0, 88.0], [88.0, 88.0]])
    field = displacement_field(shape, targets, moves, anchors, sigma=10.0)
    # the feature that sat at target - move is now near the target
    moved = warp(_dot(shape, 44.0, 50.0), field)
    assert np.linalg.norm(_centroid(moved) - targets[0]) < 1.5
    assert np.abs(field[8, 8]).max() < 0.05 and np.abs(field[88, 88]).max() < 0.05


def test_the_field_never_moves_further_than_the_largest_move():
    # close points that disagree by a pixel or two: an exact interpolation overshot threefold
    rng = np.random.default_rng(0)
    targets = 40 + rng.uniform(0, 16, (40, 2))
    moves = 3.0 + rng.normal(0, 1.5, (40, 2))
    field = displacement_field((96, 96), targets, moves, np.empty((0, 2)), sigma=6.0)
    assert np.linalg.norm(field, axis=2).max() <= np.linalg.norm(moves, axis=1).max() + 1e-3
