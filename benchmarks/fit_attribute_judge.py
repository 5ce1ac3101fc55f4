"""Fit the attribute judge (:mod:`encryptface.evaluation.attributes`) on the labelled LFW faces.

    python -m benchmarks.fit_attribute_judge [--output encryptface/weights/judge/attributes.npz]

Reads ``encryptface/weights/labels/attribute_labels.csv`` (faces of the TUNING split's identities,
labelled by looking; the script refuses a validation identity), embeds each photo's central face
the way the judge does (106 dense landmarks -> five points -> FaceNet; cached under --cache), and
fits one class-balanced, L2-regularised multinomial logistic regression per attribute. Reports
accuracy by 5 folds grouped by identity, for each regularisation strength of the grid (the one with
the lowest held-out log-loss is fitted on all faces and saved). Seeded: same labels, same model.

It also checks the mouth threshold (``expression.MOUTH_OPEN``) against ``mouth_labels.csv`` there
(tuning faces labelled open/closed by looking): agreement at the threshold and the best threshold.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from encryptface.config import load_settings
from encryptface.evaluation import attributes
from encryptface.evaluation.attributes import CLEAR_PROBABILITY
from encryptface.evaluation.expression import MOUTH_OPEN, DenseLandmarks, mouth_openness
from encryptface.evaluation.measure import central_face
from encryptface.faces.demographics import CLASSES, LABELS_FILE, fit_logistic, read_labels, softmax, unit_rows
from encryptface.faces.detection import Face, FaceDetector
from encryptface.imaging.codecs import decode_image
from encryptface.runtime import limit_threads
from encryptface.training.data import embed_labelled_faces, split_identities
from jobs.common import configure_logging

log = logging.getLogger("encryptface.benchmarks.fit_attribute_judge")
FOLDS = 5
L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
SEED = 0


def embed_faces(rows: list[dict[str, str]], cache: Path) -> np.ndarray:
    """FaceNet embeddings (N x D) of the labelled photos' central faces, as the judge computes them
    (cached by file name; a photo without a face gets NaNs)."""
    def make_embedder() -> Callable[[np.ndarray, Face], np.ndarray]:
        dense = DenseLandmarks(threads=1)
        return lambda rgb, face: attributes.judge_embedding(rgb, face.bbox, dense.points(rgb, face.bbox))

    return embed_labelled_faces(load_settings(), rows, cache, 512, make_embedder)


def identity_folds(identities: list[str], folds: int, seed: int) -> np.ndarray:
    """A fold number per row; all rows of one identity share a fold."""
    names = sorted(set(identities))
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[i]: rank % folds for rank, i in enumerate(order)}
    return np.array([fold_of[name] for name in identities])


def cross_validate(x: np.ndarray, y: np.ndarray, folds: np.ndarray, classes: tuple[str, ...],
                   l2: float) -> dict:
    """Held-out accuracy, balanced accuracy, per-class recall, log-loss, and the share of faces
    judged clear with the accuracy among them."""
    p = np.zeros((len(y), len(classes)))
    for fold in np.unique(folds):
        train = folds != fold
        w, b = fit_logistic(x[train], y[train], len(classes), l2)
        p[~train] = softmax(x[~train] @ w + b)
    predicted, clear = p.argmax(1), p.max(1) >= CLEAR_PROBABILITY
    recall = {label: round(float(np.mean(predicted[y == k] == k)), 3)
              for k, label in enumerate(classes) if np.any(y == k)}
    return {"l2": l2, "faces": int(len(y)), "accuracy": round(float(np.mean(predicted == y)), 3),
            "balanced_accuracy": round(float(np.mean(list(recall.values()))), 3), "recall": recall,
            "log_loss": round(float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12))), 4),
            "clear_share": round(float(np.mean(clear)), 3),
            "accuracy_when_clear": round(float(np.mean(predicted[clear] == y[clear])), 3)
            if clear.any() else None,
            "counts": {label: int(np.sum(y == k)) for k, label in enumerate(classes)}}


def check_mouth_threshold(path: Path) -> dict:
    """Agreement of open/closed at ``MOUTH_OPEN`` with the looked-at labels of ``path`` (unclear
    ones skipped), and the threshold (a midpoint between two measured faces) that agrees best."""
    settings = load_settings()
    root, tuning = split_identities(settings, "tuning")
    detector, dense = FaceDetector(settings.detection), DenseLandmarks(threads=1)
    measured = []
    for row in read_labels(path):
        if row["identity"] not in tuning:
            raise SystemExit(f"{row['identity']} is not a tuning-split identity")
        if row["mouth"] == "unclear":
            continue
        rgb = decode_image((root / row["identity"] / row["file"]).read_bytes(), settings.images)[0]
        face = central_face(detector, rgb)
        if face is not None:
            measured.append((mouth_openness(dense.points(rgb, face.bbox)), row["mouth"] == "open"))
    values = np.array([v for v, _ in measured])
    is_open = np.array([o for _, o in measured])
    ordered = np.sort(values)
    candidates = (ordered[1:] + ordered[:-1]) / 2
    agreement = [float(np.mean((values > t) == is_open)) for t in candidates]
    best = int(np.argmax(agreement))
    return {"faces": len(measured), "open": int(is_open.sum()), "threshold": MOUTH_OPEN,
            "agreement": round(float(np.mean((values > MOUTH_OPEN) == is_open)), 3),
            "best_threshold": round(float(candidates[best]), 4), "best_agreement": round(agreement[best], 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=str(LABELS_FILE))
    parser.add_argument("--mouth-labels", default=str(attributes.JUDGE_DIR / "mouth_labels.csv"))
    parser.add_argument("--output", default=str(attributes.MODEL_FILE))
    parser.add_argument("--cache", default="out/judge/embeddings.npz")
    parser.add_argument("--report", default="out/judge/cross_validation.json")
    args = parser.parse_args(argv)
    limit_threads(1)
    rows = read_labels(Path(args.labels))
    embeddings = embed_faces(rows, Path(args.cache))
    found = np.isfinite(embeddings).all(1)
    log.info("%d labelled faces, %d with a face found", len(rows), int(found.sum()))
    x_all = unit_rows(np.where(found[:, None], embeddings, 0.0))
    identities = [row["identity"] for row in rows]
    folds_all = identity_folds(identities, FOLDS, SEED)
    saved, report = {}, {}
    for name, classes in CLASSES.items():
        keep = np.array([found[i] and row[name] in classes for i, row in enumerate(rows)])
        x, folds = x_all[keep], folds_all[keep]
        y = np.array([classes.index(row[name]) for row, k in zip(rows, keep, strict=True) if k])
        grid = [cross_validate(x, y, folds, classes, l2) for l2 in L2_GRID]
        best = min(grid, key=lambda entry: entry["log_loss"])
        report[name] = {"chosen": best, "grid": grid}
        print(f"{name}: l2={best['l2']} cross-validated accuracy {best['accuracy']} (balanced "
              f"{best['balanced_accuracy']}, recall {best['recall']}), clear (p >= {CLEAR_PROBABILITY}) "
              f"{best['clear_share']} of faces, accuracy when clear {best['accuracy_when_clear']}; "
              f"{best['counts']}", flush=True)
        weights, bias = fit_logistic(x, y, len(classes), best["l2"])
        saved[f"{name}_weights"], saved[f"{name}_bias"] = weights.astype(np.float32), bias.astype(np.float32)
    report["mouth"] = check_mouth_threshold(Path(args.mouth_labels))
    print(f"mouth: {report['mouth']}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.output, **saved)
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    Path(args.report).write_text(json.dumps(report, indent=1))
    print(f"written: {args.output}, {args.report}")
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
