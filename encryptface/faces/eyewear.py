"""Eyewear on an aligned face crop: a pixel test for glasses frames and dark lenses.

Three measurements around the template's eye positions of the project's aligned crop (sizes in
inter-ocular distances, so any crop size works):

- ``bridge``: vertical gradient energy between the eyes (a frame's bridge) over the forehead's;
- ``rim``: horizontal gradient energy just outside each eye (a frame's sides);
- ``lens``: how much darker the eyes are than the cheeks below them (dark lenses), negated so
  that, like the others, larger means eyewear.

Each is compared with its median and interquartile range over a reference set of crops (the
stylegan bank: see :func:`eyewear_reference`); a face wears eyewear when any is more than
``EYEWEAR_Z`` ranges above its median. On the bank's renders the top 6 % by this score all wore
glasses when looked at.
"""

from __future__ import annotations

import cv2
import numpy as np

EYEWEAR_Z = 2.0


def _box(image: np.ndarray, centre: tuple[float, float], half: tuple[float, float],
         unit: float) -> np.ndarray:
    """The pixels of ``image`` in a box around ``centre`` (x, y), ``half`` (x, y) in ``unit``s."""
    x0, x1 = int(round(centre[0] - half[0] * unit)), int(round(centre[0] + half[0] * unit))
    y0, y1 = int(round(centre[1] - half[1] * unit)), int(round(centre[1] + half[1] * unit))
    return image[max(0, y0):max(y0 + 1, y1), max(0, x0):max(x0 + 1, x1)]


def eyewear_features(crops: np.ndarray, template: np.ndarray) -> np.ndarray:
    """(N, 3) ``bridge``, ``rim``, ``lens`` of aligned RGB crops (N, S, S, 3) whose five template
    landmarks are ``template`` (5, 2)."""
    left, right = template[0], template[1]
    unit = float(np.linalg.norm(right - left))
    middle = (left + right) / 2
    below = lambda eye: (eye[0] - 0.2 * unit * np.sign(middle[0] - eye[0]), eye[1] + 0.55 * unit)  # noqa: E731
    outside = lambda eye: (eye[0] + 0.42 * unit * np.sign(eye[0] - middle[0]), eye[1] + 0.02 * unit)  # noqa: E731
    rows = []
    for crop in crops:
        grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY).astype(np.float32)
        vertical, horizontal = np.abs(np.diff(grey, axis=0)), np.abs(np.diff(grey, axis=1))
        bridge = (_box(vertical, (middle[0], middle[1] - 0.08 * unit), (0.15, 0.23), unit).mean()
                  / (_box(vertical, (middle[0], middle[1] - 0.65 * unit), (0.3, 0.2), unit).mean() + 2.0))
        rim = np.mean([_box(horizontal, outside(eye), (0.08, 0.3), unit).mean() for eye in (left, right)])
        eyes = np.mean([_box(grey, tuple(eye), (0.27, 0.19), unit).mean() for eye in (left, right)])
        cheeks = np.mean([_box(grey, below(eye), (0.19, 0.15), unit).mean() for eye in (left, right)])
        rows.append((bridge, rim, -eyes / (cheeks + 1.0)))
    return np.asarray(rows, np.float32)


def eyewear_reference(features: np.ndarray) -> np.ndarray:
    """(2, 3) median and interquartile range of each feature over a reference set."""
    low, median, high = np.percentile(features, (25, 50, 75), axis=0)
    return np.stack([median, np.maximum(high - low, 1e-6)]).astype(np.float32)


def wears_eyewear(features: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(N,) True where a face's features (N, 3) stand out from the reference's as eyewear does."""
    return (((features - reference[0]) / reference[1]) > EYEWEAR_Z).any(axis=1)
