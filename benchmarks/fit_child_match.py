"""Fit the demographic match's child / adult readers and add them to the stylegan model's
``demographics.npz``.

    python -m benchmarks.fit_child_match [--output encryptface/weights/stylegan/demographics.npz]

About one synthetic person in eight of MobileStyleGAN's people is a child, and the looked-at LFW
labels have no children, so the demographic match gave adults children's faces (4 of 30 adults in
a validation gallery). Training faces: the first 400 people of the key :data:`LABELLED_KEY`
(truncation 1, as stand-ins are drawn), rendered and labelled child / adult / unclear by looking at
contact sheets (``encryptface/weights/labels/bank_children.csv``; unclear teenagers are left out).
Two class-balanced logistic regressions, as for the other classes: one from a style w (the
standardisation of ``demographics.npz``), one from the render's dlib descriptor -- the reader
applied to photos, so it is also measured on LFW tuning faces (all adults). The L2 strength is
chosen on 5 held-out folds by what the match does with a reading: the share of faces read clearly
(at ``stylegan.demographic_certainty``) as their own class, minus :data:`WRONG_COST` times the share
read clearly as the other (a clear wrong reading gives an adult a child's face; an unclear one
only leaves the choice to the other classes). Renders and descriptors are cached under
``--cache``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path

import numpy as np

from encryptface.config import WEIGHTS_DIR, load_settings, resolve_weight
from encryptface.faces.alignment import Aligner
from encryptface.faces.demographics import fit_logistic, softmax, unit_rows
from encryptface.faces.detection import FaceDetector, nearest_centre
from encryptface.imaging.codecs import decode_image
from encryptface.models.stylegan_encoder import CHILD_CLASSES, DemographicMatch
from encryptface.models.stylegan_generator import DEMOGRAPHICS_FILE, StyleGANGenerator
from encryptface.runtime import limit_threads
from encryptface.training.data import identity_images, split_identities
from jobs.common import configure_logging

log = logging.getLogger("encryptface.benchmarks.fit_child_match")
LABELS = WEIGHTS_DIR / "labels" / "bank_children.csv"
LABELLED_KEY = b"child labels: the bank's people."
L2_GRID = (1e-3, 1e-2, 1e-1, 1.0)
WRONG_COST = 10.0
FOLDS = 5
LFW_FACES = 300


def bank_people(generator: StyleGANGenerator, count: int, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """The labelled key's first ``count`` styles (count, 512) and their renders' dlib descriptors
    (NaN where YuNet finds no face in the render)."""
    path = cache / "bank.npz"
    if path.is_file():
        with np.load(path) as saved:
            return saved["styles"], saved["descriptors"]
    styles = generator.identities(LABELLED_KEY, 1.0, count)
    descriptors = np.full((count, 128), np.nan, np.float32)
    for index, style in enumerate(styles):
        image = generator.render(np.stack([style, style, style]))
        found = nearest_centre(generator.detector.detect(image), image.shape)
        if found is not None:
            aligned = generator.align(image, found.landmarks)
            descriptors[index] = generator.describe(aligned, found.landmarks)
        if index % 50 == 0:
            log.info("rendered %d / %d people", index, count)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, styles=styles, descriptors=descriptors)
    return styles, descriptors


def lfw_descriptors(generator: StyleGANGenerator, cache: Path) -> np.ndarray:
    """dlib descriptors of :data:`LFW_FACES` LFW tuning-split photos (seeded), read as the
    generator reads a photo."""
    path = cache / "lfw_tuning.npy"
    if path.is_file():
        return np.load(path)
    settings = load_settings()
    detector, aligner = FaceDetector(settings.detection, 1), Aligner(settings.alignment)
    root, names = split_identities(settings, "tuning")
    paths = identity_images(root, names)
    chosen = np.random.default_rng(4).choice(len(paths), min(LFW_FACES, len(paths)), replace=False)
    rows = []
    for index in chosen:
        photo = decode_image(paths[index].read_bytes(), settings.images)[0]
        face = nearest_centre(detector.detect(photo), photo.shape)
        if face is not None:
            rows.append(generator.read_photo(aligner.align(photo, face), face.landmarks)[1])
    descriptors = np.array(rows, np.float32)
    np.save(path, descriptors)
    return descriptors


def held_out(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Each face's child probability from the reader fitted on the other folds."""
    fold = np.arange(len(y)) % FOLDS
    probability = np.zeros(len(y))
    for k in range(FOLDS):
        weights, bias = fit_logistic(x[fold != k], y[fold != k], 2, l2)
        probability[fold == k] = softmax(x[fold == k] @ weights + bias)[:, 1]
    return probability


def scores(probability: np.ndarray, y: np.ndarray, certainty: float) -> dict:
    """How many children / adults read clearly as theirs and as the other, and the choice's score."""
    shares = {"children_clearly_child": float(np.mean(probability[y == 1] >= certainty)),
              "children_clearly_adult": float(np.mean(1 - probability[y == 1] >= certainty)),
              "adults_clearly_adult": float(np.mean(1 - probability[y == 0] >= certainty)),
              "adults_clearly_child": float(np.mean(probability[y == 0] >= certainty))}
    score = (shares["children_clearly_child"] + shares["adults_clearly_adult"]
             - WRONG_COST * (shares["children_clearly_adult"] + shares["adults_clearly_child"]))
    return {"score": round(score, 3), **{name: round(v, 3) for name, v in shares.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="")
    parser.add_argument("--cache", default="out/child-match")
    args = parser.parse_args(argv)
    limit_threads(1)
    settings = load_settings()
    model_dir = resolve_weight(settings.stylegan.model)
    generator = StyleGANGenerator(model_dir, settings.stylegan, settings.detection, 1)
    match = DemographicMatch.load(model_dir / DEMOGRAPHICS_FILE)
    with LABELS.open(newline="") as handle:
        labels = [row["age"] for row in csv.DictReader(handle)]
    cache = Path(args.cache)
    styles, descriptors = bank_people(generator, len(labels), cache)
    usable = np.array([label in CHILD_CLASSES for label in labels]) & np.isfinite(descriptors).all(1)
    y = np.array([CHILD_CLASSES.index(label) for label, ok in zip(labels, usable, strict=True) if ok])
    inputs = {"style": (styles[usable] - match.style_mean) / match.style_scale,
              "photo": unit_rows(descriptors[usable])}
    certainty = settings.stylegan.demographic_certainty
    report: dict = {"people": len(labels), "children": int(y.sum()), "adults": int((y == 0).sum())}
    for reader, x in inputs.items():
        grid = {l2: scores(held_out(x, y, l2), y, certainty) for l2 in L2_GRID}
        best = max(grid, key=lambda l2: grid[l2]["score"])
        report[reader] = {"l2": best, "held_out": grid[best], "grid": {str(k): v for k, v in grid.items()}}
        getattr(match, reader)["child"] = tuple(a.astype(np.float32) for a in fit_logistic(x, y, 2, best))
        log.info("%s reader: l2 %g, held out %s", reader, best, grid[best])
    lfw = match.photo_probabilities(lfw_descriptors(generator, cache))["child"][:, 1]
    report["lfw_tuning_adults"] = {"faces": int(len(lfw)),
                                   "clearly_adult": round(float(np.mean(1 - lfw >= certainty)), 3),
                                   "clearly_child": round(float(np.mean(lfw >= certainty)), 3)}
    output = Path(args.output) if args.output else model_dir / DEMOGRAPHICS_FILE
    match.save(output)
    (cache / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    print(f"written: {output}, {cache / 'report.json'}")
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
