"""Perceived sex, age range and appearance group: the labelled classes, and the multinomial logistic
regression both readers of them fit.

Two readers use these classes and never share a model: the stylegan generator picks the key's
synthetic person of the photo's classes from dlib descriptors
(:class:`encryptface.models.stylegan_encoder.DemographicMatch`), and the evaluation's judge checks
the published face from FaceNet embeddings (:mod:`encryptface.evaluation.attributes`), so the judge
measures what the generator did not optimise against. Both learn from the same looked-at labels
(``encryptface/weights/labels/attribute_labels.csv``: LFW tuning-split faces, one person's coarse,
perceived-appearance judgement; the model cards say how they were sampled).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from encryptface.config import WEIGHTS_DIR

LABELS_FILE = WEIGHTS_DIR / "labels" / "attribute_labels.csv"
# The attributes and their classes (LFW has too few children to judge "child": they are left out;
# "unclear" rows are left out of the attribute they are unclear in)
CLASSES = {"sex": ("female", "male"),
           "age": ("young_adult", "middle_aged", "older"),
           "group": ("dark", "east_asian", "other")}


def read_labels(path: Path = LABELS_FILE) -> list[dict[str, str]]:
    """The label rows (identity, file, sex, age, group)."""
    with Path(path).open(newline="") as handle:
        return list(csv.DictReader(handle))


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows (N x D) scaled to unit length (embeddings are compared by direction)."""
    vectors = np.atleast_2d(np.asarray(vectors, np.float64))
    return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of N x K scores."""
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fit_logistic(x: np.ndarray, y: np.ndarray, classes: int, l2: float,
                 balanced: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression with an L2 penalty on the weights, fitted by L-BFGS from
    zeros in float64 (deterministic); ``balanced`` weighs each class equally (labelled sets are
    sampled unevenly on purpose). Returns (weights D x K, bias K)."""
    n, d = x.shape
    counts = np.maximum(np.bincount(y, minlength=classes), 1)
    sample = (n / (classes * counts))[y] / n if balanced else np.full(n, 1.0 / n)
    inputs, targets = torch.from_numpy(np.asarray(x, np.float64)), torch.from_numpy(np.asarray(y))
    per_sample = torch.from_numpy(sample)
    weights = torch.zeros((d, classes), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weights, bias], max_iter=2000, tolerance_grad=1e-9,
                                  tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        log_p = torch.log_softmax(inputs @ weights + bias, dim=1)
        value = -(per_sample * log_p[torch.arange(n), targets]).sum() + 0.5 * l2 * (weights ** 2).sum()
        value.backward()
        return value

    optimiser.step(loss)
    return weights.detach().numpy(), bias.detach().numpy()
