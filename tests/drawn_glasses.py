"""Glasses drawn onto a face (frames, optionally dark lenses) for the eyewear tests."""

import cv2
import numpy as np


def draw_glasses(image: np.ndarray, eyes: np.ndarray, lens: bool, thickness: float = 0.06) -> np.ndarray:
    """A copy of ``image`` with a frame around each of ``eyes`` (2, 2) and a bridge between them,
    ``thickness`` inter-ocular distances thick."""
    out = image.copy()
    unit = float(np.linalg.norm(eyes[1] - eyes[0]))
    axes = (int(0.44 * unit), int(0.3 * unit))  # lenses nearly meeting at the bridge, as most frames do
    thickness = max(1, int(round(thickness * unit)))
    for eye in eyes:
        centre = tuple(int(round(v)) for v in eye)
        if lens:
            cv2.ellipse(out, centre, axes, 0, 0, 360, (15, 15, 20), -1)
        cv2.ellipse(out, centre, axes, 0, 0, 360, (10, 10, 10), thickness)
    left = (int(eyes[0][0] + axes[0]), int(eyes[0][1]))
    right = (int(eyes[1][0] - axes[0]), int(eyes[1][1]))
    cv2.line(out, left, right, (10, 10, 10), thickness)
    return out
