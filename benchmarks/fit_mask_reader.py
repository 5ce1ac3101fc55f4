"""Fit the face-mask reader (:mod:`encryptface.faces.masked`) and measure it on faces it never saw.

    python -m benchmarks.fit_mask_reader [--output encryptface/weights/masked/mask_reader.npz]

Training faces: facebench's ``tune`` photos (``benchmarks.coverage`` split: the even positions),
every annotated face the default detector finds (IoU >= 0.3), labelled by the set (``with_mask``
and ``mask_weared_incorrect``: masked; ``without_mask``: bare), plus the central faces of LFW
tuning-split photos (bare; a random sample, seeded). Held out: facebench's ``check`` photos and LFW
validation-split photos. Each face is aligned exactly as the scrubber aligns it. Features are cached
under ``--cache`` (an interrupted run resumes). The L2 strength is chosen on the held-out log-loss;
the model saved is the one fitted on the training faces only, so the numbers printed are its own.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from benchmarks.coverage import FACEBENCH, split_photos
from encryptface.config import Settings, load_settings, resolve_repo_path
from encryptface.evaluation.coverage import load_annotations, match
from encryptface.faces.alignment import Aligner
from encryptface.faces.demographics import fit_logistic
from encryptface.faces.detection import FaceDetector
from encryptface.faces.masked import MASK_READER_FILE, MaskReader, mask_features
from encryptface.runtime import limit_threads
from encryptface.training.data import central_face_crops, identity_images, split_identities
from jobs.common import configure_logging

log = logging.getLogger("encryptface.benchmarks.fit_mask_reader")
L2_GRID = (0.003, 0.01, 0.03, 0.1)
LFW_FACES = {"tuning": 800, "validation": 400}
SEED = 0
# Reported separately: faces whose eyes are at least this many pixels apart (what the stand-in
# generators render; smaller ones are mostly sealed for their size anyway).
LARGE_EYES = 12.0


def facebench_faces(settings: Settings, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, masked, eye distance) of the annotated faces the detector finds in a split."""
    detector, aligner = FaceDetector(settings.detection, 1), Aligner(settings.alignment)
    root = resolve_repo_path(FACEBENCH)
    annotations = load_annotations(root / "annotations")
    crops, labels, eyes = [], [], []
    for count, path in enumerate(split_photos(root / "images", set(annotations), split), 1):
        rgb = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        faces = detector.detect(rgb, uncertain=True)
        boxes = annotations[path.stem]
        for box, index in zip(boxes, match(boxes, [f.bbox for f in faces])[0], strict=True):
            if index is None:
                continue
            face = faces[index]
            crops.append(aligner.align(rgb, face).crop)
            labels.append(box.label != "without_mask")
            eyes.append(float(np.linalg.norm(face.landmarks[1] - face.landmarks[0])))
        if count % 50 == 0:
            log.info("facebench %s: %d photos, %d faces", split, count, len(crops))
    return mask_features(np.stack(crops)), np.array(labels), np.array(eyes)


def lfw_faces(settings: Settings, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, masked = False, eye distance = NaN: only facebench is reported by size) of the
    central faces of a seeded LFW sample."""
    root, names = split_identities(settings, split)
    paths = identity_images(root, names)
    chosen = np.random.default_rng(SEED).choice(len(paths), LFW_FACES[split], replace=False)
    crops, _ = central_face_crops([paths[i] for i in sorted(chosen)], settings, log_every=0)
    return mask_features(crops), np.zeros(len(crops), bool), np.full(len(crops), np.nan)


def cached(cache: Path, name: str, make: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """``make()`` saved under ``cache/name.npz`` (read back when it is there)."""
    path = cache / f"{name}.npz"
    if not path.is_file():
        features, labels, eyes = make()
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, features=features, labels=labels, eyes=eyes)
    with np.load(path) as arrays:
        return arrays["features"], arrays["labels"], arrays["eyes"]


def fit(features: np.ndarray, labels: np.ndarray, l2: float) -> MaskReader:
    """The reader fitted on standardised ``features`` (class-balanced)."""
    mean, scale = features.mean(0), features.std(0) + 1e-6
    weights, bias = fit_logistic((features - mean) / scale, labels.astype(int), 2, l2)
    # two-class softmax -> one logistic score
    return MaskReader(mean, scale, weights[:, 1] - weights[:, 0], float(bias[1] - bias[0]))


def scores(reader: MaskReader, features: np.ndarray, labels: np.ndarray) -> dict:
    """Recall of masked and bare faces at p >= 0.5, and the log-loss."""
    p = reader.probability_of_features(features)
    masked = p >= 0.5
    p_label = np.where(labels, p, 1 - p)
    return {"faces": int(len(labels)), "masked": int(labels.sum()),
            "masked_found": round(float(masked[labels].mean()), 3) if labels.any() else None,
            "bare_kept": round(float((~masked[~labels]).mean()), 3) if (~labels).any() else None,
            "log_loss": round(float(-np.mean(np.log(p_label + 1e-12))), 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(MASK_READER_FILE))
    parser.add_argument("--cache", default="out/mask-reader")
    args = parser.parse_args(argv)
    limit_threads(1)
    settings, cache = load_settings(), Path(args.cache)
    train = [cached(cache, "facebench_tune", lambda: facebench_faces(settings, "tune")),
             cached(cache, "lfw_tuning", lambda: lfw_faces(settings, "tuning"))]
    held = {"facebench check": cached(cache, "facebench_check", lambda: facebench_faces(settings, "check")),
            "lfw validation": cached(cache, "lfw_validation", lambda: lfw_faces(settings, "validation"))}
    x = np.vstack([t[0] for t in train])
    y = np.concatenate([t[1] for t in train])
    grid = []
    for l2 in L2_GRID:
        reader = fit(x, y, l2)
        grid.append({"l2": l2, **{name: scores(reader, f, lab) for name, (f, lab, _) in held.items()},
                     f"facebench check, eyes >= {LARGE_EYES:g} px": scores(
                         reader, *(a[held["facebench check"][2] >= LARGE_EYES]
                                   for a in held["facebench check"][:2]))})
        log.info("l2 %g: %s", l2, json.dumps(grid[-1]))
    best = min(grid, key=lambda g: g["facebench check"]["log_loss"] + g["lfw validation"]["log_loss"])
    fit(x, y, best["l2"]).save(args.output)
    report = {"training faces": int(len(y)), "training masked": int(y.sum()), "chosen": best, "grid": grid}
    (cache / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(best, indent=1))
    print(f"written: {args.output}, {cache / 'report.json'}")
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
