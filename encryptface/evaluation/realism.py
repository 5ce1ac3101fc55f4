"""Realism: can a simple classifier tell protected face crops from original ones?

A classifier two-sample test. Each face crop is described by hand-made image statistics that no
part of the project optimises (HOG, uniform LBP histogram, colour moments, frequency energy); an
L2-regularised logistic regression is cross-validated with folds grouped by photo (a photo's
original and protected crop are always on the same side). ROC AUC 0.5 means the protected faces
cannot be told from the originals by these features; 1.0 means always.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import cv2
import numpy as np

SIDE = 64
_HOG = cv2.HOGDescriptor((SIDE, SIDE), (32, 32), (16, 16), (16, 16), 9)


def realism_features(crop: np.ndarray) -> np.ndarray:
    """Image statistics (float32 vector) of an RGB uint8 face crop."""
    return np.concatenate(list(_feature_families(crop).values())).astype(np.float32)


def _feature_families(crop: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`realism_features` by family: shape (HOG), texture (LBP), colour and sharpness."""
    rgb = cv2.resize(crop, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    hog = _HOG.compute(grey).ravel()
    lbp = _uniform_lbp_histogram(grey)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).reshape(-1, 3).astype(np.float32) / 255.0
    colour = np.concatenate([hsv.mean(0), hsv.std(0)])
    grey_f = grey.astype(np.float32)
    energy = [float(cv2.Laplacian(grey_f, cv2.CV_32F).var()) ** 0.5 / 64.0,
                float(np.abs(np.diff(grey_f, axis=0)).mean()) / 32.0,
                float(np.abs(np.diff(grey_f, axis=1)).mean()) / 32.0,
                float((grey_f - cv2.GaussianBlur(grey_f, (0, 0), 1.0)).std()) / 16.0]
    return {"hog": hog, "lbp": lbp, "colour": colour, "energy": np.asarray(energy, np.float32)}


@functools.cache
def feature_groups() -> dict[str, slice]:
    """Where each family sits in :func:`realism_features` (a per-family AUC says what gives the
    protected faces away)."""
    groups, start = {}, 0
    for name, values in _feature_families(np.zeros((SIDE, SIDE, 3), np.uint8)).items():
        groups[name] = slice(start, start + len(values))
        start += len(values)
    return groups


def _uniform_lbp_histogram(grey: np.ndarray) -> np.ndarray:
    """Normalised histogram of 8-neighbour LBP codes, folded to their number of 0/1 transitions
    and ones (the 'uniform' patterns; all others in one bin)."""
    centre = grey[1:-1, 1:-1].astype(np.int16)
    offsets = [(-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1)]
    bits = [(grey[1 + dy:grey.shape[0] - 1 + dy, 1 + dx:grey.shape[1] - 1 + dx] >= centre)
            for dy, dx in offsets]
    ones = np.sum(bits, axis=0)
    transitions = np.sum([bits[i] != bits[(i + 1) % 8] for i in range(8)], axis=0)
    code = np.where(transitions <= 2, ones, 9)
    histogram = np.bincount(code.ravel(), minlength=10).astype(np.float32)
    return histogram / histogram.sum()


def _logistic_fit(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 300) -> np.ndarray:
    """Weights (with bias last) of an L2-regularised logistic regression (gradient descent with a
    fixed step on standardised inputs; convex, so the result does not depend on the start)."""
    x1 = np.hstack([x, np.ones((len(x), 1))])
    weights = np.zeros(x1.shape[1])
    step = 1.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x1 @ weights, -30, 30)))
        grad = x1.T @ (p - y) / len(y) + l2 * np.r_[weights[:-1], 0.0]
        weights -= step * grad
    return weights


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (the rank statistic; ties count half)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks of ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    positives = labels.sum()
    negatives = len(labels) - positives
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def two_sample_auc(originals: Sequence[np.ndarray], protected: Sequence[np.ndarray], folds: int = 5,
                   l2: float = 0.01, seed: int = 0) -> float | None:
    """Cross-validated ROC AUC of telling ``protected`` feature vectors from ``originals`` (both in
    photo order: item i of each is the same photo, so folds are grouped by photo). None below 10
    photos."""
    count = min(len(originals), len(protected))
    if count < 10:
        return None
    x = np.concatenate([np.asarray(originals[:count]), np.asarray(protected[:count])]).astype(np.float64)
    y = np.r_[np.zeros(count), np.ones(count)]
    photo = np.r_[np.arange(count), np.arange(count)]
    fold_of_photo = np.random.default_rng(seed).permutation(count) % folds
    aucs = []
    for fold in range(folds):
        test = fold_of_photo[photo] == fold
        mean, std = x[~test].mean(0), x[~test].std(0) + 1e-6
        weights = _logistic_fit((x[~test] - mean) / std, y[~test], l2)
        scores = np.hstack([(x[test] - mean) / std, np.ones((test.sum(), 1))]) @ weights
        aucs.append(roc_auc(scores, y[test]))
    return round(float(np.mean(aucs)), 4)


def two_sample_auc_by_group(originals: Sequence[np.ndarray],
                            protected: Sequence[np.ndarray]) -> dict[str, float | None]:
    """:func:`two_sample_auc` on each family of :func:`feature_groups` alone."""
    originals, protected = np.asarray(originals), np.asarray(protected)
    if originals.ndim != 2 or protected.ndim != 2:
        return {name: None for name in feature_groups()}
    return {name: two_sample_auc(originals[:, part], protected[:, part])
            for name, part in feature_groups().items()}
