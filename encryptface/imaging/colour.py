"""Colour transfer: a stand-in face takes the photo's light and skin tone (both generators)."""

from __future__ import annotations

import numpy as np


def colour_stats(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-channel mean and spread (2x3) of an HxWx3 image, weighted by an HxW mask."""
    normalised = (weights / max(weights.sum(), 1e-6))[:, :, None]
    pixels = image.astype(np.float32)
    mean = (pixels * normalised).sum((0, 1))
    return np.stack([mean, np.sqrt((((pixels - mean) ** 2) * normalised).sum((0, 1)))])


def transfer_colours(image: np.ndarray, source: np.ndarray, target: np.ndarray,
                     gain_limits: tuple[float, float]) -> np.ndarray:
    """``image`` (float32) with each channel shifted and scaled from the ``source`` statistics to the
    ``target`` ones (2x3 each, :func:`colour_stats`); the spread's gain is clipped to ``gain_limits``
    so that a flat or extreme patch cannot blow up."""
    gain = np.clip(target[1] / (source[1] + 1e-3), *gain_limits)
    return (image.astype(np.float32) - source[0]) * gain + target[0]
