"""Can the stylegan photo fit be distilled? Fit many tuning faces' stand-ins, then ask what predicts
the offsets the fits found.

    python -m benchmarks.photo_fit_distill [--people 150] [--steps 12] [--cache out/photo-fits.npz]
        [--output out/photo-fit-distill.json]

The per-face fit (``stylegan.fit_steps``, :mod:`encryptface.models.stylegan_photo_fit`) costs about
2 s a step on one core; #32 asks whether many fits can be distilled into a feed-forward predictor
that costs nothing at scrub time. For the first photo of each of the first ``--people`` LFW tuning
people with two or more photos, the key ``sha256("fit " + file name)`` picks the stand-in, and its
coarse and fine styles are fitted (cached after every face: an interrupted run resumes). Then, for
each fitted group of layers (coarse, fine), along the bank's principal directions:

- the share of the offsets' energy that is their mean (what one fixed correction could carry), and
  the cosine between the means of the two halves of the fits (is that mean stable?);
- the held-out explained variance (5-fold) of ridge regressions from the stand-in's styles (the
  photo's encoding, the coarse and identity styles) and from the photo's own colours (mean and
  spread of five regions of the aligned crop: forehead, both sides, centre, chin).
Writes the numbers as JSON and prints them.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.sweep import split_people
from encryptface.config import load_settings, resolve_repo_path, resolve_weight
from encryptface.faces.detection import FaceDetector, nearest_centre
from encryptface.imaging.codecs import decode_image
from encryptface.models.stylegan_generator import FITTED_STYLES, StyleGANGenerator
from encryptface.models.stylegan_photo_fit import principal_directions
from encryptface.runtime import limit_threads

log = logging.getLogger("photo_fit_distill")
ARRAYS = ("name", "photo_style", "styles", "offsets", "colours")
PENALTIES = (1.0, 10.0, 100.0, 1000.0)


def crop_colours(crop: np.ndarray) -> np.ndarray:
    """Mean and spread of the colours of five regions of an aligned crop (30,)."""
    size = crop.shape[0]
    regions = [crop[:size // 5], crop[:, :size // 6], crop[:, -size // 6:],
               crop[size // 3:2 * size // 3, size // 3:2 * size // 3], crop[-size // 5:]]
    pixels = [r.reshape(-1, 3).astype(np.float64) for r in regions]
    return np.concatenate([p.mean(0) for p in pixels] + [p.std(0) for p in pixels])


def collect(settings: object, generator: StyleGANGenerator, photos: list[Path], cache: Path) -> dict:
    """Fit each photo's stand-in (resuming from ``cache``); the arrays of :data:`ARRAYS`."""
    detector = FaceDetector(settings.detection)
    fits: dict[str, list] = {name: [] for name in ARRAYS}
    if cache.exists():
        with np.load(cache) as data:
            fits = {name: list(data[name]) for name in ARRAYS}
    done, started = set(fits["name"]), time.perf_counter()
    for number, path in enumerate(photos, 1):
        if path.name in done:
            continue
        rgb = decode_image(path.read_bytes(), settings.images)[0]
        face = nearest_centre(detector.detect(rgb), rgb.shape)
        if face is None:
            continue
        landmarks = np.asarray(face.landmarks, np.float64)
        aligned = generator.align(rgb, landmarks)
        photo_style, _ = generator.read_photo(aligned, landmarks)
        key = hashlib.sha256(f"fit {path.name}".encode()).digest()
        styles = generator.styles_for(aligned, landmarks, key)
        image = generator.render(styles)
        found = nearest_centre(generator.detector.detect(image), image.shape)
        fitted = None if found is None else generator.fitted_to_photo(styles, image, found, rgb, landmarks)
        if fitted is None:
            continue
        offsets = fitted[0][list(FITTED_STYLES)] - styles[list(FITTED_STYLES)]
        for name, value in zip(ARRAYS, (path.name, photo_style, styles, offsets, crop_colours(aligned.crop)),
                               strict=True):
            fits[name].append(value)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **{name: np.array(values) for name, values in fits.items()})
        log.info("fit %d/%d %s (%.0f s so far)", number, len(photos), path.name,
                 time.perf_counter() - started)
    return {name: np.array(values) for name, values in fits.items()}


def held_out_explained(features: np.ndarray, targets: np.ndarray, penalty: float, folds: int = 5) -> float:
    """5-fold explained variance of a ridge regression (standardised features, unshrunk constant)."""
    index, residual, total = np.arange(len(features)), 0.0, 0.0
    for fold in range(folds):
        test = index[fold::folds]
        train = np.setdiff1d(index, test)
        mean, scale = features[train].mean(0), features[train].std(0) + 1e-9
        design = np.c_[(features[train] - mean) / scale, np.ones(len(train))]
        shrink = penalty * np.eye(design.shape[1])
        shrink[-1, -1] = 0.0
        weights = np.linalg.solve(design.T @ design + shrink, design.T @ targets[train])
        predicted = np.c_[(features[test] - mean) / scale, np.ones(len(test))] @ weights
        residual += float(((targets[test] - predicted) ** 2).sum())
        total += float(((targets[test] - targets[train].mean(0)) ** 2).sum())
    return 1.0 - residual / total


def analyse(fits: dict, axes: np.ndarray, centre: np.ndarray) -> dict:
    """The numbers of the module docstring, per fitted group."""
    coefficients = fits["offsets"] @ axes.T                         # (N, groups, K)
    from_styles = np.concatenate([(fits["photo_style"] - centre) @ axes.T,
                                  (fits["styles"][:, 0] - centre) @ axes.T,
                                  (fits["styles"][:, 1] - centre) @ axes.T], axis=1)
    half = len(coefficients) // 2
    result: dict = {"fits": len(coefficients)}
    for group, style in enumerate(FITTED_STYLES):
        values = coefficients[:, group]
        mean = values.mean(0)
        first, second = values[:half].mean(0), values[half:].mean(0)
        cosine = first @ second / np.linalg.norm(first) / np.linalg.norm(second)
        result[("coarse", "identity", "fine")[style]] = {
            "mean_energy_share": round(float((mean ** 2).sum() / (values ** 2).sum(1).mean()), 3),
            "halves_mean_cosine": round(float(cosine), 3),
            "explained_from_styles": {p: round(held_out_explained(from_styles, values, p), 3)
                                      for p in PENALTIES},
            "explained_from_photo_colours": {p: round(held_out_explained(fits["colours"], values, p), 3)
                                             for p in PENALTIES},
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=150)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--cache", default="out/photo-fits.npz")
    parser.add_argument("--output", default="out/photo-fit-distill.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    limit_threads(1)
    settings = load_settings(None, [])
    stylegan = dataclasses.replace(settings.stylegan, fit_steps=args.steps)
    generator = StyleGANGenerator(resolve_weight(stylegan.model), stylegan, settings.detection, threads=1)
    first_photos = [photos[0] for photos in split_people(settings, "tuning", args.people)]
    fits = collect(settings, generator, first_photos, resolve_repo_path(args.cache))
    axes, centre, _ = principal_directions(generator.network)
    result = analyse(fits, axes, centre)
    output = resolve_repo_path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
