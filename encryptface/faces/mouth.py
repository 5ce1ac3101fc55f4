"""How open a face's mouth is, read by dlib's 68-point shape predictor (CC0, in
``face-recognition-models``): what the stylegan generator reads in a photo and in its renders to
give the stand-in the photo's open or closed mouth. The evaluation's expression judge reads mouths
with another model (InsightFace's 106 points), so it measures what this reader was not tuned to.
"""

from __future__ import annotations

import numpy as np

from encryptface.faces.detection import Face

# 68-point indices: inner-lip pairs (upper, lower) and the inner mouth corners
INNER_LIPS = ((61, 67), (62, 66), (63, 65))
INNER_CORNERS = (60, 64)


class MouthReader:
    """dlib's 68-point predictor inside a face box; :meth:`openness` of the mouth."""

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as models

        self._shape = dlib.shape_predictor(models.pose_predictor_model_location())
        self._rect = dlib.rectangle

    def points(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """The 68 landmarks (68 x 2) found inside ``face``'s box."""
        x, y, w, h = (int(round(v)) for v in face.bbox)
        shape = self._shape(np.ascontiguousarray(rgb), self._rect(x, y, x + w, y + h))
        return np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], np.float64)

    def openness(self, rgb: np.ndarray, face: Face) -> float:
        """Mean inner-lip gap over the inner mouth width: about 0 closed, 0.1-0.2 talking or a
        smile with teeth, 0.3 and more wide open."""
        points = self.points(rgb, face)
        gap = np.mean([np.linalg.norm(points[a] - points[b]) for a, b in INNER_LIPS])
        width = max(float(np.linalg.norm(points[INNER_CORNERS[1]] - points[INNER_CORNERS[0]])), 1e-6)
        return float(gap / width)
