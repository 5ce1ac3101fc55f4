"""Mode ``seal``: pixelate the face, keep the original pixels under AES-GCM.

The sealed payload is the exact source rectangle that pasting may change (PNG, lossless), so the
right password restores every original pixel of the face region bit for bit.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from encryptface.alignment import Region
from encryptface.config import SealSettings
from encryptface.crypto import seal, unseal
from encryptface.images import decode_encoded, encode_image
from encryptface.modes.base import FaceContext, ProtectedFace, ProtectionMode

_HEADER = struct.Struct("<4i")


class SealMode(ProtectionMode):
    """Irreversible-looking pixelation on the photo; reversible only with the password."""

    name = "seal"

    def __init__(self, settings: SealSettings) -> None:
        self.blocks = settings.pixel_blocks
        self.model_id = f"seal/pixelate-{self.blocks}/aes-256-gcm"

    def protect(self, original: np.ndarray, face: FaceContext) -> ProtectedFace:
        crop = face.aligned.crop
        small = cv2.resize(crop, (self.blocks, self.blocks), interpolation=cv2.INTER_AREA)
        pixelated = cv2.resize(small, crop.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        region = face.region
        payload = _HEADER.pack(region.x0, region.y0, region.x1, region.y1) + encode_image(
            original[region.slices], "png")
        return ProtectedFace(crop=pixelated, encrypted_latent=seal(face.key, payload, face.aad))

    def restore(self, photo: np.ndarray, landmarks: np.ndarray, encrypted_latent: bytes,
                key: bytes, aad: bytes) -> Region:
        payload = unseal(key, encrypted_latent, aad)
        stored = Region(*_HEADER.unpack_from(payload))
        pixels = decode_encoded(payload[_HEADER.size:])
        if pixels.shape[:2] != (stored.y1 - stored.y0, stored.x1 - stored.x0) or \
                stored.y1 > photo.shape[0] or stored.x1 > photo.shape[1]:
            raise ValueError("sealed region does not fit this photo")
        photo[stored.slices] = pixels
        return stored
