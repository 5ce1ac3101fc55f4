"""A bank of synthetic faces rendered by the StyleGAN and aligned exactly as real photos are.

Each sample is a seeded code z, its truncated style w, and what the scrub pipeline would see of the
rendered face: YuNet's landmarks and score on the 512 px render and the aligned crop cut by the
project's aligner. The bank is written in chunks (``chunk_NNNN.npz``) so an interrupted job resumes
where it stopped.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from encryptface.config import Settings
from encryptface.faces.alignment import Aligner
from encryptface.faces.detection import FaceDetector, nearest_centre
from encryptface.models.stylegan import STYLE_DIM, StyleGAN

log = logging.getLogger(__name__)


def truncated_styles(network: StyleGAN, z: np.ndarray, mean: np.ndarray, truncation: float) -> np.ndarray:
    """Styles of codes ``z`` pulled towards ``mean`` (truncation 1 = none)."""
    return mean + truncation * (network.map(z) - mean)


def render_bank(settings: Settings, folder: Path, count: int, seed: int, truncation: float,
                chunk_size: int = 100, threads: int = 0) -> dict[str, np.ndarray]:
    """Render (or resume) ``count`` samples into ``folder`` in chunks of ``chunk_size``; return
    the whole bank as arrays (samples where YuNet found no face are dropped)."""
    folder.mkdir(parents=True, exist_ok=True)
    network = StyleGAN(threads)
    mean = network.mean_style(seed=seed)
    detector, aligner = FaceDetector(settings.detection), Aligner(settings.alignment)
    chunks = range(-(-count // chunk_size))
    todo = [c for c in chunks if not (folder / f"chunk_{c:04d}.npz").is_file()]
    log.info("style bank: %d samples in %s, %d chunks to render", count, folder, len(todo))
    with tqdm(total=len(todo) * chunk_size, desc="rendering faces", unit="face", mininterval=10) as bar:
        for chunk in todo:
            rng = np.random.default_rng([seed, chunk])
            z = rng.standard_normal((chunk_size, STYLE_DIM)).astype(np.float32)
            w = truncated_styles(network, z, mean, truncation).astype(np.float32)
            crops = np.zeros((chunk_size, aligner.size, aligner.size, 3), np.uint8)
            landmarks = np.zeros((chunk_size, 5, 2), np.float32)
            score = np.zeros(chunk_size, np.float32)
            for i in range(chunk_size):
                image = network.render(w[i])
                face = nearest_centre(detector.detect(image), image.shape)
                if face is not None:
                    crops[i] = aligner.align(image, face).crop
                    landmarks[i], score[i] = face.landmarks, face.score
                bar.update(1)
            np.savez(folder / f"chunk_{chunk:04d}.npz", z=z, w=w, crops=crops, landmarks=landmarks,
                     score=score)
    np.save(folder / "mean_style.npy", mean)
    add_descriptors(folder, aligner, count, chunk_size)
    return load_bank(folder, count, chunk_size)


def add_descriptors(folder: Path, aligner: Aligner, count: int, chunk_size: int) -> None:
    """Add the dlib descriptor of every rendered face to its chunk (a resumable second stage)."""
    from encryptface.faces.recognition import DlibRecognizer
    from encryptface.models.stylegan_encoder import crop_descriptor, crop_landmarks

    paths = [folder / f"chunk_{c:04d}.npz" for c in range(-(-count // chunk_size))]
    todo = [p for p in paths if "descriptor" not in np.load(p).files]
    if not todo:
        return
    recognizer = DlibRecognizer()
    with tqdm(total=len(todo) * chunk_size, desc="describing faces", unit="face", mininterval=10) as bar:
        for path in todo:
            chunk = dict(np.load(path))
            points = crop_landmarks(aligner, chunk["landmarks"]).reshape(-1, 5, 2) * aligner.size
            descriptors = np.zeros((len(points), 128), np.float32)
            for i, (crop, found) in enumerate(zip(chunk["crops"], chunk["score"] > 0, strict=True)):
                if found:
                    descriptors[i] = crop_descriptor(recognizer, crop, points[i])
                bar.update(1)
            np.savez(path.with_suffix(".tmp.npz"), **chunk, descriptor=descriptors)
            path.with_suffix(".tmp.npz").replace(path)


def load_bank(folder: Path, count: int, chunk_size: int = 100) -> dict[str, np.ndarray]:
    """The first ``count`` samples of a rendered bank with a detected face."""
    parts = [np.load(folder / f"chunk_{c:04d}.npz") for c in range(-(-count // chunk_size))]
    bank = {key: np.concatenate([p[key] for p in parts])[:count] for key in parts[0].files}
    found = bank["score"] > 0
    return {key: value[found] for key, value in bank.items()} | {
        "mean_style": np.load(folder / "mean_style.npy")}
