"""YuNet (libfacedetection.train, Apache-2.0) through OpenCV's ``FaceDetectorYN``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from encryptface.faces.detectors.base import ROW, FaceNetwork


class YuNet(FaceNetwork):
    """YuNet n or s; the network's own NMS (OpenCV's) runs inside ``detect``."""

    licence = "Apache-2.0 (libfacedetection.train)"

    def __init__(self, name: str, weights: Path, nms_threshold: float, threads: int = 0) -> None:  # noqa: ARG002
        if not weights.is_file():
            raise FileNotFoundError(f"face detector weights not found: {weights}")
        self.name = name
        self.model_id = weights.stem
        self._threshold = 0.5
        self._net = cv2.FaceDetectorYN.create(str(weights), "", (320, 320), self._threshold,
                                              nms_threshold, 5000)

    def detect(self, rgb: np.ndarray, threshold: float) -> np.ndarray:
        if threshold != self._threshold:
            self._net.setScoreThreshold(threshold)
            self._threshold = threshold
        self._net.setInputSize((rgb.shape[1], rgb.shape[0]))
        _, found = self._net.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        return np.zeros((0, ROW), np.float32) if found is None else found[:, :ROW].astype(np.float32)
