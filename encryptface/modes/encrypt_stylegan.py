"""Mode ``encrypt`` with ``encrypt.generator = "stylegan"``: each face is replaced by a photo-real
face of a synthetic person (chosen by the face key) in the photo's pose and light; the exact
original face region is sealed with AES-GCM.

Record (``encrypted_latent``): header, the coarse (pose) and identity styles of the published
stand-in's synthetic person (float16: what a decoy needs, and nothing the published photo does
not show), then the sealed original pixels. The photo's own encoding (the fine style it was
rendered with) is never stored: it is a linear function of the original face's dlib descriptor
and would give the person away without the password. The right password
restores every pixel of the region bit for bit; a wrong one is refused (:class:`DecryptionError`),
or, with ``encrypt.decoys = true``, renders the wrong key's own synthetic person in the stand-in's
pose (a decoy). A face the generator cannot match (no face found in the render, or a render that
changes less than ``stylegan.min_covered`` of the detected box) falls back to ``seal``'s
pixelation, and its record says why. (Faces too small for it, under
``stylegan.min_face``, never reach it: the scrubber seals them, as for every generator.)
"""

from __future__ import annotations

import dataclasses
import logging
import struct

import numpy as np

from encryptface.config import Settings, resolve_weight
from encryptface.faces.alignment import Region
from encryptface.faces.cover import box_changed_share
from encryptface.models.stylegan import STYLE_DIM
from encryptface.models.stylegan_generator import PUBLISHED_STYLES, StyleGANGenerator
from encryptface.modes.base import FaceContext, ProtectedFace, ProtectionMode
from encryptface.modes.seal import SealMode, seal_region, unseal_region

log = logging.getLogger(__name__)
# magic, kind, the replaced region x0, y0, x1, y1 (public: it shows in the published photo; the
# sealed payload carries it too)
_HEADER = struct.Struct("<4sB4i")
_MAGIC = b"EFs2"
# Records of the first format stored a third style, the photo's encoding: still restored (their
# published styles are read without it), never written.
_MAGIC_V1 = b"EFs1"
STAND_IN, FALLBACK = 1, 2


class StyleGANEncryptMode(ProtectionMode):
    """Photo-real keyed stand-in faces; bit-exact restore with the password."""

    name = "encrypt"
    generator_name = "stylegan"
    # Overlapping faces: each stand-in is blended into the photo as protected so far (so a later
    # face's rectangle does not write an earlier face back); restore runs in reverse order.
    sees_earlier_faces = True
    renders_decoys = True

    @classmethod
    def from_settings(cls, settings: Settings, threads: int = 0) -> StyleGANEncryptMode:
        return cls(settings, SealMode(settings.seal), threads)

    def __init__(self, settings: Settings, seal_mode: SealMode, threads: int = 0) -> None:
        self.settings = settings.encrypt
        self.generator = StyleGANGenerator(resolve_weight(settings.stylegan.model), settings.stylegan,
                                           settings.detection, threads)
        self.seal_mode = seal_mode
        self.model_id = f"{self.generator.model_id}/sealed"
        self.generator_model_id = self.generator.model_id
        self.renders_beards = self.generator.renders_beards
        log.info("encrypt: stylegan generator %s. Licence: %s. For a permissive path set "
                 "encrypt.generator = \"prior\".", self.generator.model_id, self.generator.licence)

    def protect(self, original: np.ndarray, face: FaceContext) -> ProtectedFace:
        stand_in = self.generator.keyed_stand_in(original, face.aligned, face.face.landmarks, face.key,
                                                 face.face.bbox)
        if stand_in is None:
            return self._sealed(original, face, "no face found in the generated image")
        covered = box_changed_share(original, stand_in.region, stand_in.pixels, face.face.bbox)
        least = self.generator.settings.min_covered
        if covered < least:
            return self._sealed(original, face, f"the stand-in changes {covered:.0%} of the detected "
                                                f"face (< stylegan.min_covered {least:g})")
        region = stand_in.region
        sealed = seal_region(original, region, face.key, face.aad)
        header = _HEADER.pack(_MAGIC, STAND_IN, region.x0, region.y0, region.x1, region.y1)
        published = stand_in.styles[:PUBLISHED_STYLES].astype(np.float16).tobytes()
        return ProtectedFace(crop=None, patch=(region, stand_in.pixels),
                             encrypted_latent=header + published + sealed,
                             metrics={"generator": self.generator.model_id})

    def _sealed(self, original: np.ndarray, face: FaceContext, reason: str) -> ProtectedFace:
        """``face`` pixelated and sealed as ``seal`` does (a fallback record), and why."""
        fallback = self.seal_mode.protect(original, face)
        return ProtectedFace(crop=fallback.crop, metrics={"fallback": "seal", "reason": reason},
                             encrypted_latent=_HEADER.pack(_MAGIC, FALLBACK, 0, 0, 0, 0)
                             + fallback.encrypted_latent)

    def restore(self, photo: np.ndarray, landmarks: np.ndarray, encrypted_latent: bytes,
                key: bytes, aad: bytes) -> Region:
        record = read_record(encrypted_latent)
        if record.kind == FALLBACK:
            return self.seal_mode.restore(photo, landmarks, record.sealed, key, aad)
        return unseal_region(photo, record.sealed, key, aad)  # DecryptionError if wrong

    def decoy(self, photo: np.ndarray, landmarks: np.ndarray, encrypted_latent: bytes,
              key: bytes) -> Region | None:
        """What a wrong ``key`` shows when decoys are asked for: its own synthetic person in the
        stand-in's pose, blended in place (None for fallback faces, which stay pixelated)."""
        record = read_record(encrypted_latent)
        if record.kind == FALLBACK:
            return None
        stand_in = self.generator.decoy(photo, landmarks, record.styles, key)
        if stand_in is None:
            return None
        # Only the stored region may change: the decoy's mask follows another person's landmarks
        # and can reach past it, onto pixels that are the published photo's own.
        inside = stand_in.region.intersection(record.region)
        if inside is None:
            return None
        offset = stand_in.region
        photo[inside.slices] = stand_in.pixels[inside.y0 - offset.y0:inside.y1 - offset.y0,
                                               inside.x0 - offset.x0:inside.x1 - offset.x0]
        return inside


@dataclasses.dataclass(frozen=True)
class StyleGANRecord:
    """A parsed stylegan ``encrypted_latent``."""

    kind: int             # STAND_IN or FALLBACK (pixelated and sealed as ``seal`` does)
    region: Region        # the replaced region (zeros for a fallback)
    styles: np.ndarray    # (2, 512) published coarse and identity styles (empty for a fallback)
    sealed: bytes         # the sealed original region (a fallback: seal's own record)


def read_record(encrypted_latent: bytes) -> StyleGANRecord:
    """Parse a stylegan record (both formats)."""
    magic, kind, *box = _HEADER.unpack_from(encrypted_latent)
    if magic not in (_MAGIC, _MAGIC_V1):
        raise ValueError("not a stylegan encrypt record")
    body = encrypted_latent[_HEADER.size:]
    if kind == FALLBACK:
        return StyleGANRecord(kind, Region(*box), np.empty((0, STYLE_DIM), np.float32), body)
    stored = PUBLISHED_STYLES + (magic == _MAGIC_V1)
    size = stored * STYLE_DIM * 2
    styles = np.frombuffer(body[:size], np.float16).reshape(stored, STYLE_DIM)[:PUBLISHED_STYLES]
    return StyleGANRecord(kind, Region(*box), styles.astype(np.float32), body[size:])
