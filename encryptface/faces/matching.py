"""Deciding "same person" for verification at a stated false-accept rate.

A match is judged on a *score*: one recogniser's distance, or the fusion of dlib and ArcFace (a
weighted sum of their distances, each divided by its scale below). Thresholds are not
guessed: ``benchmarks.verify_calibration`` measures, on millions of impostor pairs of LFW train
people, the score under which a given fraction of impostor pairs falls (the FAR per comparison),
and stores them in :data:`CALIBRATION_FILE` with the genuine accept rate (TAR) measured at each on
identities the threshold never saw.

The embedding of a face is the concatenation of the fused recognisers' embeddings (dlib 128-d, then
ArcFace 512-d unit length). Records sealed before fusion hold a dlib descriptor alone (128 numbers):
they are compared on the dlib score, with dlib's own calibrated threshold.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping

import numpy as np

from encryptface.config import WEIGHTS_DIR, MatchScore, RecognitionSettings
from encryptface.faces.detection import Face
from encryptface.faces.recognition import distance_matrix, load_recognizer

CALIBRATION_FILE = WEIGHTS_DIR / "verify" / "calibration.json"
FUSION_RECOGNIZERS = ("dlib", "arcface")
EMBEDDING_SIZES = {"dlib": 128, "arcface": 512}
# The fused score: each recogniser's distance divided by its scale (about its distance at FAR 1e-2
# on LFW), weighted. Weights measured on LFW tuning people (thresholds from one half, pairs of the
# other, benchmarks.verify_calibration): ArcFace alone kept 99.5 % of genuine pairs at FAR 1e-5 and
# let 5.2e-6 of impostor pairs through; a fifth of dlib kept 99.4 % at 3.3e-6; equal weights kept
# only 97.8 % (dlib is the weaker recogniser).
FUSION_SCALES = {"dlib": 0.6, "arcface": 0.85}
FUSION_WEIGHTS = {"dlib": 0.2, "arcface": 0.8}
SCORES = (*FUSION_RECOGNIZERS, "fusion")
# The recognisers a face is embedded with for each verify.score
SCORE_RECOGNIZERS: dict[str, tuple[str, ...]] = {"fusion": FUSION_RECOGNIZERS, "dlib": ("dlib",)}


def fused_distances(score: str, a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> np.ndarray:
    """Distances (len(a) x len(b)) of embeddings given per recogniser, by ``score``: a recogniser
    of :data:`FUSION_RECOGNIZERS` or ``"fusion"``."""
    if score in FUSION_RECOGNIZERS:
        return distance_matrix(score, a[score], b[score])
    if score != "fusion":
        raise ValueError(f"unknown score {score!r}; choose from {', '.join(SCORES)}")
    return sum(FUSION_WEIGHTS[name] / FUSION_SCALES[name]
               * distance_matrix(name, a[name], b[name])
               for name in FUSION_RECOGNIZERS)


def split_embedding(embedding: np.ndarray) -> dict[str, np.ndarray]:
    """A stored embedding per recogniser: a fused one, or a dlib descriptor alone (older records)."""
    embedding = np.asarray(embedding, np.float64).ravel()
    if embedding.size == EMBEDDING_SIZES["dlib"]:
        return {"dlib": embedding}
    parts, start = {}, 0
    for name in FUSION_RECOGNIZERS:
        parts[name] = embedding[start:start + EMBEDDING_SIZES[name]]
        start += EMBEDDING_SIZES[name]
    if start != embedding.size:
        raise ValueError(f"an embedding of {embedding.size} numbers is neither dlib's nor the fused one")
    return parts


def embed_face(rgb: np.ndarray, face: Face, settings: RecognitionSettings,
               score: MatchScore = "fusion") -> np.ndarray:
    """The embedding of ``face`` in an RGB photo for ``score`` (float32: dlib's 128 numbers, then
    for the fusion ArcFace's 512)."""
    return np.concatenate([load_recognizer(name, settings).embed(rgb, face)
                           for name in SCORE_RECOGNIZERS[score]]).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Thresholds per score and target FAR, and what was measured at each."""

    thresholds: Mapping[str, Mapping[str, float]]
    measured: Mapping[str, Mapping[str, Mapping[str, float]]]

    @classmethod
    def load(cls) -> Calibration:
        """The calibration shipped in the package (written by ``benchmarks.verify_calibration``)."""
        data = json.loads(CALIBRATION_FILE.read_text())
        return cls(thresholds=data["thresholds"], measured=data["measured"])

    @property
    def fars(self) -> tuple[float, ...]:
        """The target FARs this calibration has thresholds for."""
        return tuple(sorted(float(f) for f in self.thresholds["fusion"]))

    def threshold(self, score: str, far: float) -> float:
        """The largest distance that still counts as a match of ``score`` at ``far``."""
        for key, value in self.thresholds[score].items():
            if np.isclose(float(key), far, rtol=1e-6, atol=0.0):
                return float(value)
        raise ValueError(f"no threshold calibrated for FAR {far:g}; choose from "
                         f"{', '.join(f'{f:g}' for f in self.fars)}")


@functools.cache
def shipped_calibration() -> Calibration:
    """:meth:`Calibration.load`, read once per process."""
    return Calibration.load()


class FaceMatcher:
    """Embeds faces for ``score`` and decides matches at a target FAR."""

    def __init__(self, settings: RecognitionSettings, far: float, score: MatchScore = "fusion",
                 calibration: Calibration | None = None) -> None:
        self.calibration = calibration or shipped_calibration()
        self.far = far
        self.score = score
        self.thresholds = {name: self.calibration.threshold(name, far) for name in SCORES}
        self._settings = settings

    @property
    def threshold(self) -> float:
        """The threshold of this matcher's own score."""
        return self.thresholds[self.score]

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """The embedding of ``face`` for this matcher's score (:func:`embed_face`)."""
        return embed_face(rgb, face, self._settings, self.score)

    def compare(self, probe: np.ndarray, stored: np.ndarray) -> tuple[float, float]:
        """(distance, threshold) of a stored embedding against the probe's, on the best score both
        have (the fusion where both hold ArcFace's part, else dlib)."""
        stored_parts, probe_parts = split_embedding(stored), split_embedding(probe)
        score = "fusion" if len(stored_parts) == len(probe_parts) == len(FUSION_RECOGNIZERS) else "dlib"
        distance = fused_distances(score, {k: v[None] for k, v in probe_parts.items()},
                                   {k: v[None] for k, v in stored_parts.items()})[0, 0]
        return float(distance), self.thresholds[score]

    def matches(self, probe: np.ndarray, stored: np.ndarray) -> tuple[bool, float]:
        """(whether ``stored`` is the probe's person at this FAR, the distance)."""
        distance, threshold = self.compare(probe, stored)
        return distance < threshold, distance
