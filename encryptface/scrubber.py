"""Scrub one photo (bytes -> contract row) and restore one row (row -> photo).

Pure library code: the Spark jobs, the benchmark's plain-process baseline and the tests all call
these same two classes.
"""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np

from encryptface.alignment import Aligner, Region
from encryptface.config import Settings
from encryptface.crypto import DecryptionError, KeyRing, MasterKey, face_aad, new_record_salt
from encryptface.detection import FaceDetector
from encryptface.images import ImageError, decode_encoded, decode_image, encode_image
from encryptface.limits import PhotoTimeoutError, check_deadline, deadline
from encryptface.modes import FaceContext, ProtectionMode, create_mode, record_settings
from encryptface.records import STATUS_NO_FACE, STATUS_OK, error_row


class Scrubber:
    """Detects, aligns, protects and pastes back every face of a photo. Load once, reuse."""

    def __init__(self, settings: Settings, mode: str, threads: int = 0) -> None:
        self.settings = settings
        self.detector = FaceDetector(settings.detection)
        self.aligner = Aligner(settings.alignment)
        self.mode = create_mode(mode, settings, threads)

    def scrub(self, source_uri: str, relative_path: str, data: bytes,
              master_key: MasterKey | None) -> dict:
        """The contract row for one photo. Never raises for bad input: it returns an error row.
        ``master_key`` may be None only for a mode that is not reversible (``cloak``)."""
        if master_key is None and self.mode.reversible:
            raise ValueError(f"mode {self.mode.name} needs a password")
        started = time.perf_counter()
        sha256 = hashlib.sha256(data).hexdigest()
        limit = self.settings.images.max_seconds
        try:
            with deadline(limit):
                return self._scrub(source_uri, relative_path, data, sha256, master_key, started)
        except PhotoTimeoutError:
            return error_row(source_uri, relative_path,
                             f"photo took longer than images.max_seconds = {limit:g} s; nothing kept",
                             sha256, time.perf_counter() - started)

    def _scrub(self, source_uri: str, relative_path: str, data: bytes, sha256: str,
               master_key: MasterKey | None, started: float) -> dict:
        try:
            original, source_format = decode_image(data, self.settings.images)
        except ImageError as exc:
            return error_row(source_uri, relative_path, str(exc), sha256,
                             time.perf_counter() - started)
        protected = original.copy()
        salt = new_record_salt() if master_key else None
        faces = []
        for index, face in enumerate(self.detector.detect(original)):
            check_deadline()
            aligned = self.aligner.align(original, face)
            context = FaceContext(face=face, aligned=aligned,
                                  region=self.aligner.paste_region(aligned, original.shape),
                                  key=master_key.face_key(salt, index) if master_key else b"",
                                  aad=face_aad(sha256, index, self.mode.name))
            result = self.mode.protect(protected if self.mode.sees_earlier_faces else original, context)
            if result.patch is not None:
                region, pixels = result.patch
                protected[region.slices] = pixels
            else:
                self.aligner.paste(protected, aligned, result.crop)
            faces.append({"bbox": list(face.bbox), "landmarks": face.landmarks.ravel().tolist(),
                          "score": face.score, "mode": self.mode.name,
                          "encrypted_latent": result.encrypted_latent,
                          "kdf": master_key.kdf_json if master_key else None, "salt": salt,
                          "model_id": f"{self.detector.model_id}+{self.mode.model_id}",
                          "metrics": json.dumps(result.metrics) if result.metrics else None})
        image_settings = self.settings.images
        return {"source_uri": source_uri, "relative_path": relative_path, "source_sha256": sha256,
                "status": STATUS_OK if faces else STATUS_NO_FACE, "error": None,
                "width": int(original.shape[1]), "height": int(original.shape[0]),
                "source_format": source_format,
                "deidentified_image": encode_image(protected, image_settings.output_format,
                                                   image_settings.jpeg_quality),
                "faces": faces, "seconds": time.perf_counter() - started}


class Restorer:
    """Puts the original faces back into a row's de-identified photo."""

    def __init__(self, settings: Settings, threads: int = 0) -> None:
        self.settings = settings
        self.threads = threads
        self._modes: dict[tuple[str, str], ProtectionMode] = {}

    def restore(self, row: dict, keys: KeyRing,
                decoys: bool | None = None) -> tuple[np.ndarray, list[Region]]:
        """The restored photo (RGB uint8) and the regions that were restored. ``decoys`` (default:
        ``encrypt.decoys``): render decoys for a wrong password where the mode can.

        Raises :class:`encryptface.crypto.DecryptionError` on a wrong password or altered record.
        """
        if row.get("deidentified_image") is None:
            raise ValueError(f"row has no de-identified image (status {row.get('status')})")
        photo = decode_encoded(row["deidentified_image"])
        faces = list(enumerate(row.get("faces") or []))
        # Last face first: a mode that protected each face on the photo as protected so far sealed
        # the earlier faces' stand-ins where regions overlap; undoing in reverse ends at the original.
        decoys = self.settings.encrypt.decoys if decoys is None else decoys
        regions = [self.restore_face(photo, row["source_sha256"], index, face, keys, decoys)
                   for index, face in reversed(faces) if self.mode_for(face).reversible]
        return photo, [r for r in reversed(regions) if r is not None]

    def restore_face(self, photo: np.ndarray, source_sha256: str, index: int, face: dict,
                     keys: KeyRing, decoys: bool = False) -> Region | None:
        """Restore face ``index`` of a row into ``photo`` in place. With ``decoys`` a wrong
        password renders a decoy face where the mode can (None where it cannot)."""
        mode = self.mode_for(face)
        mode.check_record(face["model_id"])
        key = keys.get(face["kdf"]).face_key(face["salt"], index)
        landmarks = np.asarray(face["landmarks"], np.float32).reshape(5, 2)
        try:
            return mode.restore(photo, landmarks, face["encrypted_latent"], key,
                                face_aad(source_sha256, index, face["mode"]))
        except DecryptionError:
            if not (decoys and mode.renders_decoys):
                raise
            return mode.decoy(photo, landmarks, face["encrypted_latent"], key)

    def mode_for(self, face: dict) -> ProtectionMode:
        """The protection mode that made a face record (for ``encrypt``: with the generator its
        ``model_id`` names), loaded once."""
        settings = record_settings(self.settings, face["mode"], face["model_id"] or "")
        key = (face["mode"], settings.encrypt.generator)
        if key not in self._modes:
            self._modes[key] = create_mode(face["mode"], settings, self.threads)
        return self._modes[key]
