"""A smooth, local warp that moves chosen points of an image onto others (a Gaussian-weighted mean
of their moves), fading to no movement at given anchor points."""

from __future__ import annotations

import cv2
import numpy as np

# Weight of "no movement" in every pixel's mean: the weight of a point two widths away, so that the
# field fades out between points that are far apart instead of holding the nearest one's move.
STILL_WEIGHT = float(np.exp(-2.0))


def displacement_field(shape: tuple[int, int], targets: np.ndarray, moves: np.ndarray,
                       anchors: np.ndarray, sigma: float, step: int = 4) -> np.ndarray:
    """(H, W, 2) float32 displacements near ``moves`` (N x 2) at ``targets`` (N x 2, x y pixels)
    and zero at ``anchors`` (M x 2): a Gaussian-weighted mean of width ``sigma`` pixels
    (normalised convolution), so it never moves a pixel further than the largest move, where an
    exact interpolation through close points that disagree by a pixel or two overshot threefold.
    Evaluated every ``step`` pixels and resized (the field is smooth)."""
    points = np.vstack([targets, anchors]).astype(np.float64)
    values = np.vstack([moves, np.zeros((len(anchors), 2))])
    height, width = shape
    ys, xs = np.mgrid[0:height + step:step, 0:width + step:step].astype(np.float64)
    grid = np.stack([xs.ravel(), ys.ravel()], 1)
    weights = np.exp(-((grid[:, None, :] - points[None, :, :]) ** 2).sum(-1) / (2 * sigma ** 2))
    coarse = weights @ values / (weights.sum(1, keepdims=True) + STILL_WEIGHT)
    coarse = coarse.reshape(*xs.shape, 2).astype(np.float32)
    size = (coarse.shape[1] * step, coarse.shape[0] * step)
    return cv2.resize(coarse, size, interpolation=cv2.INTER_LINEAR)[:height, :width]


def warp(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``image`` with each pixel taken from where ``field`` (H, W, 2) says it came from, minus the
    displacement: a point at ``p - field[p]`` moves to ``p`` (the field is small and smooth, so its
    value at the target stands for its value at the source)."""
    height, width = field.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return cv2.remap(image, xs - field[..., 0], ys - field[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
