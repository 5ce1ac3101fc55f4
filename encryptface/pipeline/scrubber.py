"""Scrub one photo: bytes -> contract row (:mod:`encryptface.archive.schema`).

Pure library code: the Spark jobs, the benchmark's plain-process baseline and the tests all call
this same class (and :class:`encryptface.pipeline.restorer.Restorer` for the way back).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

from encryptface.archive.schema import STATUS_NO_FACE, STATUS_OK, error_row, record_model_id
from encryptface.config import Settings
from encryptface.crypto.keys import MasterKey, face_aad, new_record_salt
from encryptface.faces.alignment import Aligner
from encryptface.faces.detection import FaceDetector
from encryptface.faces.matching import embed_face
from encryptface.imaging.codecs import ImageError, decode_image, encode_image
from encryptface.modes import FaceContext, create_mode
from encryptface.pipeline.verify import seal_embedding
from encryptface.runtime import PhotoTimeoutError, check_deadline, deadline


class Scrubber:
    """Detects, aligns, protects and pastes back every face of a photo. Load once, reuse."""

    def __init__(self, settings: Settings, mode: str, threads: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock  # what images.max_seconds is measured on (see runtime.deadline)
        self.detector = FaceDetector(settings.detection)
        self.aligner = Aligner(settings.alignment)
        self.mode = create_mode(mode, settings, threads)
        # verify.seal_embeddings: each face's fused recogniser embedding goes into its record, sealed
        self.seal_embeddings = settings.verify.seal_embeddings and self.mode.reversible

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
            with deadline(limit, self.clock):
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
            aad = face_aad(sha256, index, self.mode.name)
            context = FaceContext(face=face, aligned=aligned,
                                  region=self.aligner.paste_region(aligned, original.shape),
                                  key=master_key.face_key(salt, index) if master_key else b"",
                                  aad=aad)
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
                          "model_id": record_model_id(self.detector.model_id, self.mode.model_id),
                          "metrics": json.dumps(result.metrics) if result.metrics else None,
                          "sealed_embedding": seal_embedding(
                              master_key, salt, sha256, index, self.mode.name,
                              embed_face(original, face, self.settings.recognition))
                          if self.seal_embeddings and master_key else None,
                          "key_check": master_key.key_check(salt, index, aad) if master_key else None})
        image_settings = self.settings.images
        return {"source_uri": source_uri, "relative_path": relative_path, "source_sha256": sha256,
                "status": STATUS_OK if faces else STATUS_NO_FACE, "error": None,
                "width": int(original.shape[1]), "height": int(original.shape[0]),
                "source_format": source_format,
                "deidentified_image": encode_image(protected, image_settings.output_format,
                                                   image_settings.jpeg_quality),
                "faces": faces, "seconds": time.perf_counter() - started}
