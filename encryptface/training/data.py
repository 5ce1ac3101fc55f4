"""Training and validation data: identity-disjoint splits of an identity-folder dataset (LFW) and
aligned face crops, exactly as the scrub pipeline aligns them."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from encryptface.config import Settings, resolve_repo_path
from encryptface.faces.alignment import Aligner
from encryptface.faces.detection import Face, FaceDetector, nearest_centre
from encryptface.imaging.codecs import ImageError, decode_image

log = logging.getLogger(__name__)


def identity_split(names: Sequence[str], fraction: float,
                   salt: str = "encryptface-split-v1") -> tuple[list[str], list[str]]:
    """Split identity names into (rest, held out) by a salted hash of the name: stable across
    machines and runs, about ``fraction`` held out, and no person on both sides."""
    rest, held_out = [], []
    for name in sorted(names):
        digest = hashlib.sha256(f"{salt}/{name}".encode()).digest()
        bucket = int.from_bytes(digest[:8], "big") / 2 ** 64
        (held_out if bucket < fraction else rest).append(name)
    return rest, held_out


def split_identities(settings: Settings, split: str) -> tuple[Path, list[str]]:
    """(data root, identity names) of one side of the identity-disjoint split of
    ``prior_training.data``: "validation" (held out from every fit and setting) or "tuning" (the rest)."""
    if split not in ("validation", "tuning"):
        raise ValueError(f"split must be 'validation' or 'tuning', not {split!r}")
    root = resolve_repo_path(settings.prior_training.data)
    tuning, validation = identity_split(identities(root), settings.prior_training.validation_fraction)
    return root, validation if split == "validation" else tuning


def identities(root: str | Path) -> list[str]:
    """The identity folder names of an identity-folder dataset."""
    return sorted(p.name for p in Path(root).iterdir() if p.is_dir())


def identity_images(root: str | Path, identities: Sequence[str]) -> list[Path]:
    """Every image of the given identities, sorted."""
    return [path for name in identities for path in sorted((Path(root) / name).glob("*.jpg"))]


def central_face_crops(paths: Sequence[Path], settings: Settings,
                       log_every: int = 1000) -> tuple[np.ndarray, list[int]]:
    """Aligned crops (N, S, S, 3) uint8 of the face nearest the centre of each photo, and the
    indices of ``paths`` they came from (photos without a face are skipped)."""
    detector, aligner = FaceDetector(settings.detection), Aligner(settings.alignment)
    crops, kept = [], []
    for index, path in enumerate(paths):
        try:
            rgb, _ = decode_image(path.read_bytes(), settings.images)
        except ImageError:
            continue
        face = nearest_centre(detector.detect(rgb), rgb.shape)
        if face is not None:
            crops.append(aligner.align(rgb, face).crop)
            kept.append(index)
        if log_every and (index + 1) % log_every == 0:
            log.info("aligned %d / %d photos (%d faces)", index + 1, len(paths), len(crops))
    return np.stack(crops) if crops else np.zeros((0,) + (aligner.size,) * 2 + (3,), np.uint8), kept


def embed_labelled_faces(settings: Settings, rows: Sequence[dict[str, str]], cache: Path, size: int,
                         make_embedder: Callable[[], Callable[[np.ndarray, Face], np.ndarray]]) -> np.ndarray:
    """Per looked-at label row (identity, file, ...), the embedding (``size`` numbers) that
    ``make_embedder()`` -- built once, only if a face is not cached -- gives the photo's central
    face; NaN where no face is found. Cached by file name in ``cache`` (.npz; an interrupted run
    resumes). Refuses a validation-split identity: what learns from labels never sees it."""
    root, tuning = split_identities(settings, "tuning")
    allowed = set(tuning)
    cached = dict(np.load(cache)) if cache.is_file() else {}
    detector = embed = None
    for count, row in enumerate(rows, 1):
        if row["identity"] not in allowed:
            raise ValueError(f"{row['identity']} is not a tuning-split identity: labelled faces must not "
                             "include the validation split")
        if row["file"] in cached:
            continue
        if detector is None:
            detector, embed = FaceDetector(settings.detection), make_embedder()
        rgb = decode_image((root / row["identity"] / row["file"]).read_bytes(), settings.images)[0]
        face = nearest_centre(detector.detect(rgb), rgb.shape)
        cached[row["file"]] = np.full(size, np.nan, np.float32) if face is None else embed(rgb, face)
        if count % 100 == 0:
            log.info("labelled faces: embedded %d / %d", count, len(rows))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **cached)
    return np.stack([cached[row["file"]] for row in rows])
