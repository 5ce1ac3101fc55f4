"""Attribute judge: sex, age range and appearance group of a face, from FaceNet embeddings.

A stand-in face should keep what people see first about the person it replaces. The generators read
faces through dlib's descriptor and YuNet's five landmarks, so this judge uses neither: the face is
aligned on five points taken from the 106 dense landmarks (:mod:`encryptface.evaluation.expression`)
and embedded by FaceNet (held out from every generator fit), and a multinomial logistic regression
per attribute reads the L2-normalised embedding. The regressions were fitted by
``python -m benchmarks.fit_attribute_judge`` on LFW tuning-split faces labelled by looking
(``encryptface/weights/labels/attribute_labels.csv``, the classes of
:mod:`encryptface.faces.demographics`; MODEL_CARD.md in ``weights/judge`` has the accuracies).

An attribute counts as *clear* for a face when its most likely class has probability at least
:data:`CLEAR_PROBABILITY`; kept-attribute rates are measured over faces whose original is clear.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from encryptface.config import WEIGHTS_DIR
from encryptface.evaluation.expression import five_points
from encryptface.faces.demographics import CLASSES, softmax, unit_rows
from encryptface.faces.detection import Face
from encryptface.faces.recognition import FaceNetRecognizer

JUDGE_DIR = WEIGHTS_DIR / "judge"
MODEL_FILE = JUDGE_DIR / "attributes.npz"
CLEAR_PROBABILITY = 0.8
# FaceNet's crop scale the regressions were fitted with (the judge's own, not recognition's setting
# for verification; looser crops with more hair judged worse: docs/evaluation.md)
FACE_SCALE = 0.9


@functools.cache
def _facenet() -> FaceNetRecognizer:
    return FaceNetRecognizer(threshold=float("nan"), face_scale=FACE_SCALE)  # embeds, never matches


def judge_embedding(rgb: np.ndarray, bbox: tuple[float, float, float, float],
                    dense_points: np.ndarray) -> np.ndarray:
    """FaceNet's embedding (loaded once per process) of a face aligned on the five points of its
    dense landmarks: what :class:`AttributeJudge` reads."""
    return _facenet().embed(rgb, Face(bbox=bbox, landmarks=five_points(dense_points), score=1.0))


class AttributeJudge:
    """The fitted regressions (one per attribute) over :func:`judge_embedding`'s embeddings."""

    def __init__(self, model_file: Path = MODEL_FILE) -> None:
        if not model_file.is_file():
            raise FileNotFoundError(f"attribute judge {model_file} is missing "
                                    "(python -m benchmarks.fit_attribute_judge writes it)")
        with np.load(model_file) as saved:
            self._weights = {name: (saved[f"{name}_weights"], saved[f"{name}_bias"]) for name in CLASSES}

    def probabilities(self, embedding: np.ndarray) -> dict[str, dict[str, float]]:
        """Per attribute, each class's probability (rounded to 3 decimals) for one embedding."""
        x = unit_rows(embedding)
        result = {}
        for name, (weights, bias) in self._weights.items():
            p = softmax(x @ weights + bias)[0]
            result[name] = {label: round(float(v), 3) for label, v in zip(CLASSES[name], p, strict=True)}
        return result


def clear_label(probabilities: dict[str, float] | None) -> str | None:
    """The most likely class if its probability reaches :data:`CLEAR_PROBABILITY`, else None."""
    if not probabilities:
        return None
    label, p = max(probabilities.items(), key=lambda item: item[1])
    return label if p >= CLEAR_PROBABILITY else None


def judged_label(measurement: dict, attribute: str, face: str = "original") -> str | None:
    """The clear label of ``attribute`` for ``face`` ("original" or "published") of a measurement
    record (None when unclear or not judged)."""
    return clear_label(((measurement.get("judged") or {}).get(face) or {}).get(attribute))


def top_label(probabilities: dict[str, float] | None) -> str | None:
    """The most likely class (None without probabilities)."""
    return max(probabilities.items(), key=lambda item: item[1])[0] if probabilities else None
