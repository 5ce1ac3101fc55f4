"""Two-factor verification: a probe face AND a password must both match a stored record.

Two ways in, for two questions:

- **1:1** (a door or login check: "is this person the one in photo K, face i?"):
  :func:`read_records` reads only the records of the named photo from the Parquet dataset, then
  :func:`verify_row` checks them. Seconds whatever the archive's size.
- **1:N** ("which record, if any, is this face with this password?"): :func:`verify_row` over every
  record, as a Spark job (``jobs/verify.py``) with the probe embedded once on the driver.

The password factor comes first, for every face: the record proves the key right or wrong (its
key-check value; in older records the AES-GCM tag of a sealed embedding or payload) before any face
is compared, so a wrong password opens no record and never matches. Records that cannot prove a key
(older ``encrypt`` records of the prior, shuffled residual, no key check) are not verifiable and
never match. Then the face: through its sealed embedding when the record has one
(``verify.seal_embeddings`` at scrub time: one AES-GCM decryption per face), else by restoring the
face and embedding it, compared by :class:`~encryptface.faces.matching.FaceMatcher` at the
configured false-accept rate. Which factor failed is never told.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from encryptface.archive.output import records_dataset
from encryptface.archive.schema import STATUS_OK, VERIFY_SCHEMA, record_face
from encryptface.config import Settings, StorageSettings
from encryptface.crypto.keys import DecryptionError, KeyRing, MasterKey, face_aad, seal, unseal
from encryptface.faces.detection import FaceDetector, best_overlap
from encryptface.faces.matching import FaceMatcher
from encryptface.imaging.codecs import ImageError, decode_encoded, decode_image
from encryptface.pipeline.restorer import Restorer, key_opens

EMBEDDING_DTYPE = np.float32
# A restored face is found again where its record's box is when a detection overlaps it this much.
REDETECTED_IOU = 0.3


@dataclasses.dataclass(frozen=True)
class Match:
    source_uri: str
    relative_path: str
    face_index: int
    distance: float


def _embedding_aad(source_sha256: str, face_index: int, mode: str) -> bytes:
    return face_aad(source_sha256, face_index, mode) + b"|embedding"


def seal_embedding(master_key: MasterKey, record_salt: bytes, source_sha256: str, face_index: int,
                   mode: str, embedding: np.ndarray) -> bytes:
    """A face's recogniser embedding sealed for its record (only the password opens it)."""
    return seal(master_key.embedding_key(record_salt, face_index),
                np.asarray(embedding, EMBEDDING_DTYPE).tobytes(),
                _embedding_aad(source_sha256, face_index, mode))


def open_embedding(master_key: MasterKey, face: dict, source_sha256: str, face_index: int) -> np.ndarray:
    """The embedding sealed in a face record; :class:`DecryptionError` for a wrong password."""
    plain = unseal(master_key.embedding_key(face["salt"], face_index), face["sealed_embedding"],
                   _embedding_aad(source_sha256, face_index, face["mode"]))
    return np.frombuffer(plain, EMBEDDING_DTYPE).astype(np.float64)


def probe_embedding(data: bytes, settings: Settings, detector: FaceDetector,
                    matcher: FaceMatcher) -> np.ndarray:
    """Embedding of the largest face in the probe photo; :class:`ImageError` if there is none."""
    rgb, _ = decode_image(data, settings.images)
    faces = detector.detect(rgb)  # largest first
    if not faces:
        raise ImageError("no face found in the probe photo")
    return matcher.embed(rgb, faces[0])


@dataclasses.dataclass(frozen=True)
class Verifier:
    """What checking records needs, loaded once: a restorer (for records without a sealed
    embedding), the matcher at one FAR, and a detector to find restored faces again."""

    restorer: Restorer
    matcher: FaceMatcher
    detector: FaceDetector

    @classmethod
    def from_settings(cls, settings: Settings, far: float, threads: int = 0) -> Verifier:
        """A verifier deciding at ``far`` (``verify.far`` for 1:N, ``verify.far_one_to_one`` for 1:1)."""
        return cls(Restorer(settings, threads),
                   FaceMatcher(settings.recognition, far, settings.verify.score),
                   FaceDetector(settings.detection))

    def embed_restored(self, photo: np.ndarray, faces: list[dict]) -> list[np.ndarray]:
        """Embeddings of restored faces: each re-detected in the restored photo where its box is
        (a record's landmarks may have been refitted to cover a masked face), else as recorded."""
        found = self.detector.detect(photo)
        boxes = np.array([f.bbox for f in found], np.float64).reshape(-1, 4)
        embeddings = []
        for face in faces:
            best = best_overlap(face["bbox"], boxes, REDETECTED_IOU)
            embeddings.append(self.matcher.embed(photo, record_face(face) if best is None else found[best]))
        return embeddings


def verify_row(row: dict, probe: np.ndarray, keys: KeyRing, verifier: Verifier,
               face_index: int | None = None) -> list[Match]:
    """The faces of one record (or only ``face_index``) that ``keys`` open AND whose face matches
    ``probe``."""
    if row.get("status") != STATUS_OK:
        return []
    opened, to_restore = [], []
    for index, face in enumerate(row["faces"]):
        if face_index is not None and index != face_index:
            continue
        if face.get("kdf") is None:  # a mode without a key (cloak): nothing to verify against
            continue
        try:
            master_key = keys.get(face["kdf"])
            if not key_opens(master_key, face, index, face_aad(row["source_sha256"], index, face["mode"])):
                continue
            if face.get("sealed_embedding") is not None:
                opened.append((index, open_embedding(master_key, face, row["source_sha256"], index)))
            elif verifier.restorer.proves_key(face):  # else any key would restore *a* face
                to_restore.append(index)
        except DecryptionError:
            continue
    if to_restore:
        photo = decode_encoded(row["deidentified_image"])
        restored = []
        for index in reversed(to_restore):  # last face first, as Restorer.restore does
            try:
                verifier.restorer.restore_face(photo, row["source_sha256"], index, row["faces"][index], keys)
                restored.append(index)
            except DecryptionError:
                continue
        restored.reverse()
        opened += zip(restored, verifier.embed_restored(photo, [row["faces"][i] for i in restored]),
                      strict=True)
    matches = []
    for index, embedding in sorted(opened, key=lambda item: item[0]):
        same, distance = verifier.matcher.matches(probe, embedding)
        if same:
            matches.append(Match(row["source_uri"], row["relative_path"], index, distance))
    return matches


def find_matches(rows: Iterable[dict], probe: np.ndarray, keys: KeyRing,
                 verifier: Verifier) -> Iterator[Match]:
    """Every face of ``rows`` that the password opens AND whose face matches ``probe`` (one process)."""
    for row in rows:
        yield from verify_row(row, probe, keys, verifier)


def read_records(scrub_output: str | Path, photo: str, storage: StorageSettings | None = None) -> list[dict]:
    """The records of one photo, named by its relative path or its source URI, read from the
    dataset (local, or S3 with ``storage``) without reading any other record's image: the key
    columns are scanned first, then only the row group that holds the photo is read."""
    dataset = records_dataset(scrub_output, storage)
    wanted = (ds.field("relative_path") == photo) | (ds.field("source_uri") == photo)
    found = []
    for fragment in dataset.get_fragments():
        for group in fragment.split_by_row_group():
            keys = group.to_table(columns=["relative_path", "source_uri"], filter=wanted)
            if keys.num_rows:
                table = group.to_table(filter=wanted)
                found += table.to_pylist()
    return found


def matches_batch(matches: Iterable[Match]) -> pa.RecordBatch:
    """Matches as a batch of :data:`~encryptface.archive.schema.VERIFY_SCHEMA` rows."""
    return pa.RecordBatch.from_pylist([dataclasses.asdict(m) for m in matches], schema=VERIFY_SCHEMA)
