"""Metric functions shared by evaluation jobs and tests."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def threshold_at_far(impostor_distances: Sequence[float], far: float) -> float:
    """The distance threshold accepting a share ``far`` of impostor pairs (distance < threshold
    means "same person")."""
    distances = np.sort(np.asarray(impostor_distances, float))
    if not len(distances):
        raise ValueError("no impostor pairs")
    index = int(np.floor(far * len(distances)))
    return float(distances[min(index, len(distances) - 1)])


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images (optionally inside a 0..1 mask)."""
    diff = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    if mask is not None:
        weights = np.broadcast_to(mask[..., None] if diff.ndim == 3 else mask, diff.shape)
        mse = float((diff * weights).sum() / max(weights.sum(), 1e-9))
    else:
        mse = float(diff.mean())
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two uint8 images on their grey levels (Wang et al. 2004:
    11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03)."""
    def grey(image: np.ndarray) -> np.ndarray:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        return image.astype(np.float64)

    x, y = grey(a), grey(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    index = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return float(index.mean())


def sharpness(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Variance of the Laplacian of the grey image (inside ``mask`` > 0.5 if given)."""
    laplacian = cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_64F)
    return float(laplacian[mask > 0.5].var() if mask is not None else laplacian.var())


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two x, y, w, h boxes."""
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    w = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    h = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def mean_colour_difference(a: np.ndarray, b: np.ndarray) -> float:
    """CIE76 colour difference (Delta E) between the mean CIELAB colours of two RGB uint8 patches:
    about 2 is just noticeable side by side, over 10 reads as another skin tone."""
    def mean_lab(rgb: np.ndarray) -> np.ndarray:
        pixels = rgb.reshape(1, -1, 3).astype(np.float32) / 255.0
        return cv2.cvtColor(pixels, cv2.COLOR_RGB2Lab).reshape(-1, 3).astype(np.float64).mean(0)

    return float(np.linalg.norm(mean_lab(a) - mean_lab(b)))
