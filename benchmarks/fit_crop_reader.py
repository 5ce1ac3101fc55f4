"""Fit a crop reader (:mod:`encryptface.faces.readers`: face mask or beard) and measure it on faces
it never saw.

    python -m benchmarks.fit_crop_reader --reader mask|beard [--output PATH]

Faces: facebench's ``tune`` photos (``benchmarks.coverage`` split: the even positions), every
annotated face the default detector finds (IoU >= 0.3), plus the central faces of a seeded sample of
LFW tuning-split photos; held out: facebench's ``check`` photos and a sample of LFW
validation-split photos. Each face is aligned exactly as the scrubber aligns it. Labels:

- ``mask``: the set's own (``with_mask`` and ``mask_weared_incorrect``: masked; ``without_mask``
  and every LFW face: bare);
- ``beard`` (a beard over the chin, what the stand-in's blend leaves): looked at by eye on every one
  of those LFW faces and every bare facebench face whose eyes are at least ``BEARD_LOOKED_AT`` px
  apart; the bearded ones are listed in ``encryptface/weights/labels/beards.csv`` (facebench: photo
  and annotated box; LFW: photo), the others are clean-shaven; masked faces count as not bearded
  and smaller bare facebench faces are left out. Training adds each face's mirror image.

Features are cached under ``--cache`` (an interrupted run resumes). The L2 strength is chosen on the
held-out log-loss; the model saved is the one fitted on the training faces only, so the numbers
printed are its own.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from benchmarks.coverage import FACEBENCH, split_photos
from encryptface.config import WEIGHTS_DIR, Settings, load_settings, resolve_repo_path
from encryptface.evaluation.coverage import load_annotations, match
from encryptface.faces.alignment import Aligner
from encryptface.faces.demographics import fit_logistic
from encryptface.faces.detection import FaceDetector
from encryptface.faces.readers import READERS, CropReader
from encryptface.runtime import limit_threads
from encryptface.training.data import central_face_crops, identity_images, split_identities
from jobs.common import configure_logging

log = logging.getLogger("encryptface.benchmarks.fit_crop_reader")
L2_GRID = (0.003, 0.01, 0.03, 0.1)
LFW_FACES = {"tuning": 800, "validation": 400}
SEED = 0
# Reported separately: faces whose eyes are at least this many pixels apart (what the stand-in
# generators render; smaller ones are mostly sealed for their size anyway).
LARGE_EYES = 12.0
BEARD_LABELS = WEIGHTS_DIR / "labels" / "beards.csv"
BEARD_LOOKED_AT = 8.0
MIRRORED = {"mask": False, "beard": True}   # training faces' mirror images added (few bearded faces)


class Faces:
    """Aligned faces of one split: their crops, keys (``facebench/<photo>/<box>`` or
    ``lfw/<person>/<photo>``), facebench's set labels ("" for LFW) and eye distances (NaN for LFW)."""

    def __init__(self, crops: np.ndarray, keys: list[str], set_labels: list[str], eyes: list[float]) -> None:
        self.crops, self.keys = crops, np.array(keys)
        self.set_labels, self.eyes = np.array(set_labels), np.array(eyes, np.float64)


def facebench_faces(settings: Settings, split: str) -> Faces:
    """The annotated faces the detector finds in a facebench split."""
    detector, aligner = FaceDetector(settings.detection, 1), Aligner(settings.alignment)
    root = resolve_repo_path(FACEBENCH)
    annotations = load_annotations(root / "annotations")
    crops, keys, labels, eyes = [], [], [], []
    for count, path in enumerate(split_photos(root / "images", set(annotations), split), 1):
        rgb = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        faces = detector.detect(rgb, uncertain=True)
        boxes = annotations[path.stem]
        matched = match(boxes, [f.bbox for f in faces])[0]
        for number, (box, index) in enumerate(zip(boxes, matched, strict=True)):
            if index is None:
                continue
            face = faces[index]
            crops.append(aligner.align(rgb, face).crop)
            keys.append(f"facebench/{path.stem}/{number}")
            labels.append(box.label)
            eyes.append(float(np.linalg.norm(face.landmarks[1] - face.landmarks[0])))
        if count % 50 == 0:
            log.info("facebench %s: %d photos, %d faces", split, count, len(crops))
    return Faces(np.stack(crops), keys, labels, eyes)


def lfw_faces(settings: Settings, split: str) -> Faces:
    """The central faces of a seeded sample of LFW photos of one identity split."""
    root, names = split_identities(settings, split)
    paths = identity_images(root, names)
    chosen = [paths[i] for i in sorted(np.random.default_rng(SEED).choice(len(paths), LFW_FACES[split],
                                                                           replace=False))]
    crops, kept = central_face_crops(chosen, settings, log_every=0)
    keys = [f"lfw/{chosen[i].parent.name}/{chosen[i].name}" for i in kept]
    return Faces(crops, keys, [""] * len(kept), [float("nan")] * len(kept))


def beard_keys(path: Path = BEARD_LABELS) -> set[str]:
    """The keys of the faces labelled bearded."""
    with open(path, newline="") as rows:
        return {f"facebench/{r['photo']}/{r['face']}" if r["source"] == "facebench" else f"lfw/{r['photo']}"
                for r in csv.DictReader(rows)}


def labelled(reader: str, faces: Faces) -> tuple[np.ndarray, np.ndarray]:
    """(which faces are labelled, their labels) for ``reader``."""
    masked = (faces.set_labels != "") & (faces.set_labels != "without_mask")
    if reader == "mask":
        return np.ones(len(masked), bool), masked
    looked_at = masked | (faces.set_labels == "") | (faces.eyes >= BEARD_LOOKED_AT)
    return looked_at, np.isin(faces.keys, sorted(beard_keys())) & ~masked


def cached(cache: Path, name: str, reader: str, make: Callable[[], Faces]) -> dict[str, np.ndarray]:
    """The labelled faces' features (and their mirror images'), labels and eye distances, saved
    under ``cache/<reader>/name.npz`` (read back when it is there)."""
    path = cache / reader / f"{name}.npz"
    if not path.is_file():
        faces = make()
        keep, labels = labelled(reader, faces)
        crops = faces.crops[keep]
        features = READERS[reader].features
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, features=features(crops), mirrored=features(crops[:, :, ::-1]),
                 labels=labels[keep], eyes=faces.eyes[keep])
    with np.load(path) as arrays:
        return dict(arrays)


def fit(reader: str, features: np.ndarray, labels: np.ndarray, l2: float) -> CropReader:
    """The reader fitted on standardised ``features`` (class-balanced)."""
    mean, scale = features.mean(0), features.std(0) + 1e-6
    weights, bias = fit_logistic((features - mean) / scale, labels.astype(int), 2, l2)
    # two-class softmax -> one logistic score
    return CropReader(reader, mean, scale, weights[:, 1] - weights[:, 0], float(bias[1] - bias[0]))


def scores(reader: CropReader, features: np.ndarray, labels: np.ndarray) -> dict:
    """Recall of both classes at p >= 0.5, and the log-loss."""
    p = reader.probability_of_features(features)
    called = p >= 0.5
    p_label = np.where(labels, p, 1 - p)
    return {"faces": int(len(labels)), "positive": int(labels.sum()),
            "positive_found": round(float(called[labels].mean()), 3) if labels.any() else None,
            "negative_kept": round(float((~called[~labels]).mean()), 3) if (~labels).any() else None,
            "log_loss": round(float(-np.mean(np.log(p_label + 1e-12))), 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reader", choices=sorted(READERS), required=True)
    parser.add_argument("--output", help="default: the shipped weights of --reader")
    parser.add_argument("--cache", default="out/crop-reader")
    args = parser.parse_args(argv)
    limit_threads(1)
    settings, cache, reader = load_settings(), Path(args.cache), args.reader

    def faces(name: str, make: Callable[[Settings, str], Faces], split: str) -> dict[str, np.ndarray]:
        return cached(cache, name, reader, lambda: make(settings, split))

    train = [faces("facebench_tune", facebench_faces, "tune"), faces("lfw_tuning", lfw_faces, "tuning")]
    held = {"facebench check": faces("facebench_check", facebench_faces, "check"),
            "lfw validation": faces("lfw_validation", lfw_faces, "validation")}
    check = held["facebench check"]
    views = ("features", "mirrored") if MIRRORED[reader] else ("features",)
    x = np.vstack([t[view] for view in views for t in train])
    y = np.concatenate([t["labels"] for _ in views for t in train])
    large = check["eyes"] >= LARGE_EYES
    grid = []
    for l2 in L2_GRID:
        fitted = fit(reader, x, y, l2)
        grid.append({"l2": l2,
                     **{name: scores(fitted, h["features"], h["labels"]) for name, h in held.items()},
                     f"facebench check, eyes >= {LARGE_EYES:g} px": scores(
                         fitted, check["features"][large], check["labels"][large])})
        log.info("l2 %g: %s", l2, json.dumps(grid[-1]))
    best = min(grid, key=lambda g: g["facebench check"]["log_loss"] + g["lfw validation"]["log_loss"])
    output = args.output or READERS[reader].file
    fit(reader, x, y, best["l2"]).save(output)
    report = {"reader": reader, "training faces": int(len(y)), "training positive": int(y.sum()),
              "chosen": best, "grid": grid}
    (cache / reader / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(best, indent=1))
    print(f"written: {output}, {cache / reader / 'report.json'}")
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
