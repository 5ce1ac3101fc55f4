"""What covers the lower face? Small readers of the aligned crop, for the generators.

Every stand-in generator renders a bare, clean-shaven face and blends it down to the chin. On a
person wearing a face mask it paints a mouth and a chin where the photo shows cloth, and the mask's
lower part stays as it was (facebench tune: 22 of 80 masked faces of 64 px or more less than 90 %
changed); on a man with a full beard the beard below the blend stays (every stand-in of 64 px or
more under 90 % changed on facebench was one bearded man). The scrubber seals such faces instead
(``encrypt.seal_masked``, ``encrypt.seal_bearded``), as it seals faces too small for the generator.

Each reader is a class-balanced logistic regression on a cheap view of the aligned crop:

- ``mask``: gradient orientations (HOG: the mask's straight edge and smooth cloth) and the
  12 x 12 CIE Lab image (cloth colour where skin should be) of the whole 48 px crop;
- ``beard``: HOG, colour relative to the cheeks and fine texture of the lower face (mouth to below
  the chin), where a beard is darker or lighter than the skin above it and busier.

They are fitted by ``benchmarks/fit_crop_reader.py`` (seeded); the data, the labels and the
measured accuracy are in the model cards beside the weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from encryptface.config import WEIGHTS_DIR

FEATURE_SIZE = 48
COLOUR_SIZE = 12
# HOG of the 48 px crop: 16 px blocks stepped by 8 px, 8 px cells, 9 orientations (900 numbers)
_HOG = ((FEATURE_SIZE, FEATURE_SIZE), (16, 16), (8, 8), (8, 8), 9)
FACE_FEATURES = 5 * 5 * 4 * 9 + COLOUR_SIZE * COLOUR_SIZE * 3

# The lower face in crop sides (rows from under the nose to below the chin, the middle half of the
# width), the cheeks just above it, and its 48 x 32 px view: HOG (5 x 3 blocks) plus 8 x 6 cells
# of Lab colour minus the cheeks' and of Laplacian texture over the cheeks'.
LOWER_ROWS, LOWER_COLUMNS, CHEEK_ROWS = (0.58, 0.95), (0.25, 0.75), (0.45, 0.58)
_LOWER_SIZE, _CELLS = (48, 32), (8, 6)
_LOWER_HOG = (_LOWER_SIZE, (16, 16), (8, 8), (8, 8), 9)
LOWER_FACE_FEATURES = 5 * 3 * 4 * 9 + _CELLS[0] * _CELLS[1] * 4


def face_features(crops: np.ndarray) -> np.ndarray:
    """(N, FACE_FEATURES) float32 features of aligned RGB crops (N, S, S, 3) uint8, any side S."""
    hog = cv2.HOGDescriptor(*_HOG)
    rows = []
    for crop in crops:
        small = cv2.resize(crop, (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA)
        gradients = hog.compute(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)).ravel()
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
        colour = cv2.resize(lab, (COLOUR_SIZE, COLOUR_SIZE), interpolation=cv2.INTER_AREA).ravel()
        rows.append(np.concatenate([gradients, colour]))
    return np.asarray(rows, np.float32).reshape(len(rows), FACE_FEATURES)


def _band(crop: np.ndarray, rows: tuple[float, float], columns: tuple[float, float]) -> np.ndarray:
    side = crop.shape[0]
    return crop[int(rows[0] * side):int(rows[1] * side), int(columns[0] * side):int(columns[1] * side)]


def lower_face_features(crops: np.ndarray) -> np.ndarray:
    """(N, LOWER_FACE_FEATURES) float32 features of the lower face of aligned RGB crops (N, S, S, 3)
    uint8, any side S (at least 32): relative to the cheeks, so that light and skin tone cancel."""
    hog = cv2.HOGDescriptor(*_LOWER_HOG)
    rows = []
    for crop in crops:
        lower, cheeks = _band(crop, LOWER_ROWS, LOWER_COLUMNS), _band(crop, CHEEK_ROWS, LOWER_COLUMNS)
        small = cv2.resize(lower, _LOWER_SIZE, interpolation=cv2.INTER_AREA)
        gradients = hog.compute(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)).ravel()
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
        cheek_colour = cv2.cvtColor(cheeks, cv2.COLOR_RGB2LAB).astype(np.float32).reshape(-1, 3).mean(0)
        colour = (cv2.resize(lab, _CELLS, interpolation=cv2.INTER_AREA) - cheek_colour).ravel()
        detail = [np.abs(cv2.Laplacian(cv2.cvtColor(part, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F))
                  for part in (lower, cheeks)]
        texture = cv2.resize(detail[0], _CELLS, interpolation=cv2.INTER_AREA).ravel() / (detail[1].mean() + 1)
        rows.append(np.concatenate([gradients, colour, texture]))
    return np.asarray(rows, np.float32).reshape(len(rows), LOWER_FACE_FEATURES)


@dataclasses.dataclass(frozen=True)
class ReaderKind:
    """One reader: its weights file, the view of the crop it reads, and what it reads (for logs)."""

    file: Path
    features: Callable[[np.ndarray], np.ndarray]
    reads: str


READERS = {
    "mask": ReaderKind(WEIGHTS_DIR / "masked" / "mask_reader.npz", face_features, "a face mask"),
    "beard": ReaderKind(WEIGHTS_DIR / "beard" / "beard_reader.npz", lower_face_features,
                        "a beard over the chin"),
}


@dataclasses.dataclass(frozen=True)
class CropReader:
    """Standardised features of one :data:`READERS` view -> logistic probability of what it reads."""

    kind: str             # a key of READERS
    mean: np.ndarray      # (D,) feature mean
    scale: np.ndarray     # (D,) feature spread
    weights: np.ndarray   # (D,)
    bias: float

    @classmethod
    def load(cls, kind: str, path: str | Path | None = None) -> CropReader:
        """The reader ``kind`` from ``path`` (default: the shipped weights)."""
        with np.load(READERS[kind].file if path is None else path) as arrays:
            return cls(kind, arrays["mean"], arrays["scale"], arrays["weights"], float(arrays["bias"]))

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, mean=self.mean.astype(np.float32), scale=self.scale.astype(np.float32),
                 weights=self.weights.astype(np.float32), bias=np.float32(self.bias))

    def features(self, crops: np.ndarray) -> np.ndarray:
        """(N, D) features of aligned crops (N, S, S, 3) in this reader's view."""
        return READERS[self.kind].features(crops)

    def probability_of_features(self, features: np.ndarray) -> np.ndarray:
        """(N,) probabilities for rows of :meth:`features`."""
        scores = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(scores, -50, 50)))

    def probability(self, crops: np.ndarray) -> np.ndarray:
        """(N,) probabilities that the faces of aligned crops (N, S, S, 3) show what it reads."""
        return self.probability_of_features(self.features(crops))
