"""Scrub one photo: bytes -> contract row (:mod:`encryptface.archive.schema`).

Pure library code: the Spark jobs, the benchmark's plain-process baseline and the tests all call
this same class (and :class:`encryptface.pipeline.restorer.Restorer` for the way back).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

import numpy as np

from encryptface.archive.schema import STATUS_NO_FACE, STATUS_OK, error_row, record_model_id
from encryptface.config import Settings
from encryptface.crypto.keys import MasterKey, face_aad, new_record_salt
from encryptface.faces.alignment import Aligner
from encryptface.faces.cover import GUESSED_SHARE, covering_face
from encryptface.faces.detection import Face, FaceDetector
from encryptface.faces.matching import embed_face
from encryptface.faces.readers import READERS, CropReader
from encryptface.generators import generator
from encryptface.imaging.codecs import ImageError, decode_image, encode_image
from encryptface.modes import FaceContext, ProtectionMode, create_mode
from encryptface.modes.seal import SealMode
from encryptface.pipeline.verify import seal_embedding
from encryptface.runtime import PhotoTimeoutError, check_deadline, deadline


class Scrubber:
    """Detects, aligns, protects and pastes back every face of a photo. Load once, reuse."""

    def __init__(self, settings: Settings, mode: str, threads: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock  # what images.max_seconds is measured on (see runtime.deadline)
        self.detector = FaceDetector(settings.detection, threads)
        self.aligner = Aligner(settings.alignment)
        self.mode = create_mode(mode, settings, threads)
        # the safety net: a face scoring only above detection.uncertain_threshold, or too small for
        # the mode's generator, is sealed (reversible with the password) rather than given to a
        # generator or left as it was
        self.seal_mode = create_mode("seal", settings) \
            if self.mode.reversible and self.mode.name != "seal" else self.mode
        self.generator = generator(self.mode.generator_name) if self.mode.generator_name else None
        # generators render bare faces and blend them down to the chin: a face wearing a face mask,
        # or a beard over the chin where the generator renders no beards, is sealed instead
        self.crop_readers = [] if self.generator is None else [
            (CropReader.load(kind), threshold, setting) for kind, on, threshold, setting in (
                ("mask", settings.encrypt.seal_masked, settings.encrypt.masked_probability,
                 "encrypt.masked_probability"),
                ("beard", settings.encrypt.seal_bearded and not self.mode.renders_beards,
                 settings.encrypt.bearded_probability, "encrypt.bearded_probability")) if on]
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
        for index, found in enumerate(self.detector.detect(original, uncertain=True)):
            check_deadline()
            mode, sealed = self._mode_for(found, original)
            face = self._covering(found, mode)
            aligned = self.aligner.align(original, face)
            aad = face_aad(sha256, index, mode.name)
            context = FaceContext(face=face, aligned=aligned,
                                  region=self.aligner.paste_region(aligned, original.shape),
                                  key=master_key.face_key(salt, index) if master_key else b"",
                                  aad=aad)
            result = mode.protect(protected if self.mode.sees_earlier_faces else original, context)
            if result.patch is not None:
                region, pixels = result.patch
                protected[region.slices] = pixels
            else:
                self.aligner.paste(protected, aligned, result.crop)
            faces.append({"bbox": list(face.bbox), "landmarks": face.landmarks.ravel().tolist(),
                          "score": face.score, "mode": mode.name,
                          "encrypted_latent": result.encrypted_latent,
                          "kdf": master_key.kdf_json if master_key else None, "salt": salt,
                          "model_id": record_model_id(self.detector.model_id, mode.model_id),
                          "metrics": json.dumps({**(result.metrics or {}),
                                                 "detection": self._detection_note(face, sealed)}),
                          "sealed_embedding": seal_embedding(
                              master_key, salt, sha256, index, mode.name,
                              embed_face(original, found, self.settings.recognition,
                                         self.settings.verify.score))
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

    def _covering(self, face: Face, mode: ProtectionMode) -> Face:
        """``face`` with landmarks whose protected region contains its box. Pixelation does not
        care how the face sits in its crop: its region takes the box grown by
        ``detection.cover_margin`` (on masked faces detectors stop above the chin). A generator or
        a cloak needs the face's own alignment: refitted only where the landmarks are plainly
        guesses."""
        if isinstance(mode, SealMode):
            return covering_face(face, self.aligner, self.settings.detection.cover_margin)
        return covering_face(face, self.aligner, share=GUESSED_SHARE)

    def _mode_for(self, face: Face, original: np.ndarray) -> tuple[ProtectionMode, str | None]:
        """The mode that protects ``face`` of ``original``: the chosen one, or ``seal`` (and why)
        for a face that is uncertain, too small for the chosen mode's generator (its
        ``min_face_setting``), wearing a face mask (``encrypt.seal_masked``) or a beard over the chin
        (``encrypt.seal_bearded``)."""
        if self.seal_mode is self.mode:
            return self.mode, None
        if not face.confident:
            return self.seal_mode, (f"uncertain detection (score {face.score:.2f} < detection."
                                    f"score_threshold {self.settings.detection.score_threshold:g})")
        if self.generator is not None:
            eyes = float(np.linalg.norm(face.landmarks[1] - face.landmarks[0]))
            smallest = self.generator.min_face(self.settings)
            if eyes < smallest:
                return self.seal_mode, (f"face too small for the {self.generator.name} generator "
                                        f"(eyes {eyes:.1f} px apart < "
                                        f"{self.generator.min_face_setting} {smallest:g})")
        if self.crop_readers:
            crop = self.aligner.align(original, face).crop[None]
            for reader, threshold, setting in self.crop_readers:
                probability = float(reader.probability(crop)[0])
                if probability >= threshold:
                    return self.seal_mode, (f"{READERS[reader.kind].reads} (probability {probability:.2f} >= "
                                            f"{setting} {threshold:g}): the {self.generator.name} "
                                            f"generator renders bare, clean-shaven faces")
        return self.mode, None

    @staticmethod
    def _detection_note(face: Face, sealed: str | None) -> dict:
        """How a face was found, for its record; and why it was sealed instead of the chosen
        mode."""
        note = {"found_by": face.found_by, "score": round(face.score, 3), "confident": face.confident}
        if sealed:
            note["sealed"] = sealed
        return note
