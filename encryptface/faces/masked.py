"""Does a face wear a face mask? A small reader of the aligned crop, for the generators.

Every stand-in generator renders a bare face: on a person wearing a face mask it paints a mouth and
a chin where the photo shows cloth, over a head that still wears the mask's straps, and its blend
stops above the chin, so the part of the box that carries the mask stays as it was (facebench
tune: 22 of 80 masked faces of 64 px or more less than 90 % changed). The scrubber seals such
faces instead (``encrypt.seal_masked``), as it seals faces too small for the generator.

The reader is a class-balanced logistic regression on two cheap views of the 48 px aligned crop:
gradient orientations (HOG: the mask's straight edge and smooth cloth) and the 12 x 12 CIE Lab
image (cloth colour where skin should be). It is fitted by ``benchmarks/fit_mask_reader.py`` on
facebench's tuning photos (masked and bare faces) and LFW tuning-split faces (bare), seeded; its
measured accuracy is in the model card beside the weights.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from encryptface.config import WEIGHTS_DIR

MASK_READER_FILE = WEIGHTS_DIR / "masked" / "mask_reader.npz"
FEATURE_SIZE = 48
COLOUR_SIZE = 12
# HOG of the 48 px crop: 16 px blocks stepped by 8 px, 8 px cells, 9 orientations (900 numbers)
_HOG = ((FEATURE_SIZE, FEATURE_SIZE), (16, 16), (8, 8), (8, 8), 9)
FEATURES = 5 * 5 * 4 * 9 + COLOUR_SIZE * COLOUR_SIZE * 3


def mask_features(crops: np.ndarray) -> np.ndarray:
    """(N, D) float32 features of aligned RGB crops (N, S, S, 3) uint8, any side S."""
    hog = cv2.HOGDescriptor(*_HOG)
    rows = []
    for crop in crops:
        small = cv2.resize(crop, (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA)
        gradients = hog.compute(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)).ravel()
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
        colour = cv2.resize(lab, (COLOUR_SIZE, COLOUR_SIZE), interpolation=cv2.INTER_AREA).ravel()
        rows.append(np.concatenate([gradients, colour]))
    if not rows:
        return np.zeros((0, FEATURES), np.float32)
    return np.asarray(rows, np.float32)


@dataclasses.dataclass(frozen=True)
class MaskReader:
    """Standardised features -> logistic probability that the face wears a face mask."""

    mean: np.ndarray      # (D,) feature mean
    scale: np.ndarray     # (D,) feature spread
    weights: np.ndarray   # (D,)
    bias: float

    @classmethod
    def load(cls, path: str | Path = MASK_READER_FILE) -> MaskReader:
        with np.load(path) as arrays:
            return cls(arrays["mean"], arrays["scale"], arrays["weights"], float(arrays["bias"]))

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, mean=self.mean.astype(np.float32), scale=self.scale.astype(np.float32),
                 weights=self.weights.astype(np.float32), bias=np.float32(self.bias))

    def probability_of_features(self, features: np.ndarray) -> np.ndarray:
        """(N,) probabilities for :func:`mask_features` rows."""
        scores = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(scores, -50, 50)))

    def probability(self, crops: np.ndarray) -> np.ndarray:
        """(N,) probabilities that the faces of aligned crops (N, S, S, 3) wear a face mask."""
        return self.probability_of_features(mask_features(crops))
