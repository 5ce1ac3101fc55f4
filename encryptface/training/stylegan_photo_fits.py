"""Distil the photo fit (``stylegan.fit_prediction``): fit the stand-ins of many tuning photos with
:class:`~encryptface.models.stylegan_photo_fit.PhotoFit` (about 25 s a face on one core), then fit
:class:`~encryptface.models.stylegan_photo_fit.FitPredictor` on what the fits found (free at scrub
time). Part of ``encryptface train-stylegan`` when ``stylegan_training.photo_fits`` > 0; the fits are
cached (one file, saved after every face), so an interrupted job resumes.

Photos: the first photo of each of the first ``photo_fits`` people of the LFW tuning split with two
or more photos (the benchmarks' people); each face's synthetic person is drawn with the key
``sha256("fit " + file name)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from pathlib import Path

import numpy as np

from encryptface.config import Settings
from encryptface.faces.detection import FaceDetector, nearest_centre
from encryptface.imaging.codecs import decode_image
from encryptface.models.stylegan_generator import FITTED_STYLES, StyleGANGenerator
from encryptface.models.stylegan_photo_fit import FitPredictor
from encryptface.training.data import identity_images, split_identities

log = logging.getLogger(__name__)

FIT_ARRAYS = ("name", "photo_style", "styles", "offsets")
HOLDOUT = 0.2   # share of the fits the predictor's reported numbers are measured on


def fit_photos(settings: Settings, count: int) -> list[Path]:
    """The first photos of the first ``count`` tuning people with two or more photos."""
    root, names = split_identities(settings, "tuning")
    chosen = []
    for name in names:
        photos = identity_images(root, [name])
        if len(photos) >= 2:
            chosen.append(photos[0])
        if len(chosen) == count:
            break
    return chosen


def collect_photo_fits(settings: Settings, model: Path, photos: list[Path], cache: Path,
                       threads: int = 0) -> dict[str, np.ndarray]:
    """Fit each photo's stand-in (``photo_fit_steps`` steps; resumes from ``cache``): the photo's
    encoding (N, 512), the stand-in's styles (N, 3, 512) and the fitted offsets (N, G, 512)."""
    import torch

    training = settings.stylegan_training
    torch.set_num_threads(max(threads, 1) if threads else torch.get_num_threads())
    # the fit starts from the stand-in as it is without a prediction (what the predictor learns)
    stylegan = dataclasses.replace(settings.stylegan, fit_steps=training.photo_fit_steps, fit_prediction=0.0)
    generator = StyleGANGenerator(model, stylegan, settings.detection, threads)
    detector = FaceDetector(settings.detection)
    fits: dict[str, list] = {name: [] for name in FIT_ARRAYS}
    if cache.exists():
        with np.load(cache) as data:
            fits = {name: list(data[name]) for name in FIT_ARRAYS}
    done = set(fits["name"])
    started = time.perf_counter()
    for number, path in enumerate(photos, 1):
        if path.name in done:
            continue
        rgb = decode_image(path.read_bytes(), settings.images)[0]
        face = nearest_centre(detector.detect(rgb), rgb.shape)
        fitted = None if face is None else _fit_one(generator, rgb, face.landmarks, path.name)
        if fitted is None:
            log.info("photo fit %d/%d %s: no face in the photo or the render, skipped", number,
                     len(photos), path.name)
            continue
        for name, value in zip(FIT_ARRAYS, (path.name, *fitted), strict=True):
            fits[name].append(value)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **{name: np.array(values) for name, values in fits.items()})
        log.info("photo fit %d/%d %s (%.0f s so far)", number, len(photos), path.name,
                 time.perf_counter() - started)
    return {name: np.array(values) for name, values in fits.items()}


def _fit_one(generator: StyleGANGenerator, rgb: np.ndarray, landmarks: np.ndarray,
             name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(photo style, the key's first person's styles, fitted offsets) of one face, or None."""
    landmarks = np.asarray(landmarks, np.float64)
    aligned = generator.align(rgb, landmarks)
    photo_style, _ = generator.read_photo(aligned, landmarks)
    styles = generator.styles_for(aligned, landmarks, hashlib.sha256(f"fit {name}".encode()).digest())
    image = generator.render(styles)
    found = nearest_centre(generator.detector.detect(image), image.shape)
    fitted = None if found is None else generator.fitted_to_photo(styles, image, found, rgb, landmarks)
    if fitted is None:
        return None
    return photo_style, styles, fitted[0][list(FITTED_STYLES)] - styles[list(FITTED_STYLES)]


def fit_predictor(fits: dict[str, np.ndarray], axes: np.ndarray, centre: np.ndarray,
                  l2: float) -> tuple[FitPredictor, dict]:
    """The predictor fitted on all ``fits``, and how much of the fitted coefficients' variance it
    explains on the last :data:`HOLDOUT` of them when fitted on the rest."""
    count = len(fits["name"])
    split = int(round(count * (1 - HOLDOUT)))
    arrays = (fits["photo_style"], fits["styles"], fits["offsets"])
    metrics: dict = {"photo_fits": count}
    if split > 0 and count - split >= 2:   # a variance needs two held-out fits
        trial = FitPredictor.fitted(axes, centre, *(a[:split] for a in arrays), l2)
        truth = fits["offsets"][split:] @ axes.T
        predicted = np.stack([trial.offsets(photo_style, styles) for photo_style, styles
                              in zip(fits["photo_style"][split:], fits["styles"][split:], strict=True)])
        residual = ((truth - predicted @ axes.T) ** 2).sum()
        explained = 1 - residual / ((truth - truth.mean(0)) ** 2).sum()
        metrics["photo_fit_explained_holdout"] = round(float(explained), 3)
    return FitPredictor.fitted(axes, centre, *arrays, l2), metrics
