"""Two-factor verification: a probe face AND a password must both match a stored record."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

import numpy as np

from encryptface.archive.schema import STATUS_OK, record_face
from encryptface.config import Settings
from encryptface.crypto.keys import DecryptionError, KeyRing
from encryptface.faces.detection import FaceDetector
from encryptface.faces.recognition import FaceRecognizer
from encryptface.imaging.codecs import ImageError, decode_encoded, decode_image
from encryptface.pipeline.restorer import Restorer


@dataclasses.dataclass(frozen=True)
class Match:
    source_uri: str
    face_index: int
    distance: float


def probe_embedding(data: bytes, settings: Settings, detector: FaceDetector,
                    recognizer: FaceRecognizer) -> np.ndarray:
    """Embedding of the largest face in the probe photo; :class:`ImageError` if there is none."""
    rgb, _ = decode_image(data, settings.images)
    faces = detector.detect(rgb)
    if not faces:
        raise ImageError("no face found in the probe photo")
    return recognizer.embed(rgb, faces[0])


def find_matches(rows: Iterable[dict], probe: np.ndarray, keys: KeyRing, settings: Settings,
                 recognizer: FaceRecognizer) -> Iterator[Match]:
    """Faces of ``rows`` that the password opens AND whose restored face matches ``probe``.

    A face the password does not open is skipped without a word: which factor failed is not told.
    """
    restorer = Restorer(settings)
    for row in rows:
        if row.get("status") != STATUS_OK:
            continue
        photo = None
        for index, face in enumerate(row["faces"]):
            if photo is None:
                photo = decode_encoded(row["deidentified_image"])
            try:
                restorer.restore_face(photo, row["source_sha256"], index, face, keys)
            except DecryptionError:
                continue
            distance = recognizer.distance(probe, recognizer.embed(photo, record_face(face)))
            if distance < recognizer.threshold:
                yield Match(row["source_uri"], index, distance)
