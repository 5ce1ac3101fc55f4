"""Face detection with YuNet (OpenCV), returning boxes and 5 landmarks in source pixels."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from encryptface.config import DetectionSettings, resolve_weight


@dataclasses.dataclass(frozen=True)
class Face:
    """One detected face. ``landmarks`` is 5x2: eyes, nose tip, mouth corners (image left first)."""

    bbox: tuple[float, float, float, float]  # x, y, w, h
    landmarks: np.ndarray
    score: float


class FaceDetector:
    """YuNet run on a downscaled copy of the photo; results are scaled back to full resolution."""

    def __init__(self, settings: DetectionSettings) -> None:
        self.settings = settings
        model = resolve_weight(settings.model)
        if not model.is_file():
            raise FileNotFoundError(f"face detector weights not found: {model}")
        self._net = cv2.FaceDetectorYN.create(str(model), "", (320, 320), settings.score_threshold,
                                              settings.nms_threshold, 5000)
        self.model_id = model.stem

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """All faces in an RGB uint8 photo, largest first."""
        height, width = rgb.shape[:2]
        scale = min(1.0, self.settings.max_side / max(height, width))
        small = rgb if scale == 1.0 else cv2.resize(
            rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
            interpolation=cv2.INTER_AREA)
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        self._net.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, found = self._net.detect(bgr)
        faces = []
        for row in ([] if found is None else found):
            box = row[:4] / scale
            if box[2] < self.settings.min_face:
                continue
            faces.append(Face(bbox=tuple(float(v) for v in box),
                              # float32: exactly what the Parquet record stores and restore reads.
                              landmarks=(row[4:14].reshape(5, 2) / scale).astype(np.float32),
                              score=float(row[14])))
        return sorted(faces, key=lambda f: -f.bbox[2] * f.bbox[3])


def nearest_centre(faces: list[Face], shape: tuple[int, ...]) -> Face | None:
    """The face whose landmarks are nearest the centre of a photo of ``shape`` (portrait datasets
    such as LFW centre their person), or None when there is no face."""
    centre = np.array([shape[1], shape[0]]) / 2
    return min(faces, key=lambda f: np.linalg.norm(f.landmarks.mean(axis=0) - centre)) if faces else None
