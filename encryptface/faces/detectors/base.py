"""The contract of one face detection network: raw detections of one image, no scales, no tiles
(:class:`encryptface.faces.detection.FaceDetector` plans those and merges the results)."""

from __future__ import annotations

import abc

import numpy as np

# One detection row: x, y, w, h, five landmarks (x, y each: eyes, nose tip, mouth corners, image
# left first), score. In the pixels of the image given to ``detect``.
ROW = 15


class FaceNetwork(abc.ABC):
    """A face detection network loaded once and run on images of any size."""

    name: str
    licence: str   # of the weights: what a deployment has to respect

    @abc.abstractmethod
    def detect(self, rgb: np.ndarray, threshold: float) -> np.ndarray:
        """Detections in an RGB uint8 image scoring at least ``threshold``: (N, :data:`ROW`)
        float32 rows, before any merging across scales or tiles."""
