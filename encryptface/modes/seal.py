"""Mode ``seal``: pixelate the face, keep the original pixels under AES-GCM.

The sealed payload is the exact source rectangle that pasting may change (PNG, lossless), so the
right password restores every original pixel of the face region bit for bit.
"""

from __future__ import annotations

import hashlib
import struct

import cv2
import numpy as np

from encryptface.config import SealSettings, Settings
from encryptface.crypto.keys import seal, unseal
from encryptface.faces.alignment import Region
from encryptface.imaging.codecs import decode_encoded, encode_image
from encryptface.modes.base import FaceContext, ProtectedFace, ProtectionMode

_HEADER = struct.Struct("<4i")


class SealMode(ProtectionMode):
    """Irreversible-looking pixelation on the photo; reversible only with the password."""

    name = "seal"

    @classmethod
    def from_settings(cls, settings: Settings, threads: int = 0) -> SealMode:  # noqa: ARG003
        return cls(settings.seal)

    def __init__(self, settings: SealSettings) -> None:
        self.blocks = settings.pixel_blocks
        self.block_shift = settings.block_shift
        self.model_id = f"seal/pixelate-{self.blocks}/aes-256-gcm"

    def protect(self, original: np.ndarray, face: FaceContext) -> ProtectedFace:
        crop = face.aligned.crop
        small = cv2.resize(crop, (self.blocks, self.blocks), interpolation=cv2.INTER_AREA)
        if self.block_shift > 0:
            small = shifted_blocks(small, self.block_shift)
        pixelated = cv2.resize(small, crop.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        return ProtectedFace(crop=pixelated,
                             encrypted_latent=seal_region(original, face.region, face.key, face.aad))

    def restore(self, photo: np.ndarray, landmarks: np.ndarray, encrypted_latent: bytes,
                key: bytes, aad: bytes) -> Region:
        return unseal_region(photo, encrypted_latent, key, aad)


def shifted_blocks(blocks: np.ndarray, shift: float) -> np.ndarray:
    """``blocks`` (B, B, 3) uint8 with each block's colour moved towards mid-grey by an amount in
    [shift / 2, 3 shift / 2] levels (the same on every channel: the hue stays). The amounts are
    seeded by the blocks themselves: a photo scrubbed twice publishes the same pixels."""
    digest = hashlib.sha256(b"encryptface seal blocks" + blocks.tobytes()).digest()
    seed = int.from_bytes(digest[:8], "little")
    amount = np.random.default_rng(seed).uniform(0.5 * shift, 1.5 * shift, blocks.shape[:2])
    towards = np.where(blocks.mean(axis=2) < 127.5, 1.0, -1.0)
    moved = blocks.astype(np.float32) + (towards * amount)[:, :, None]
    return np.clip(moved + 0.5, 0, 255).astype(np.uint8)


def seal_region(photo: np.ndarray, region: Region, key: bytes, aad: bytes) -> bytes:
    """The exact pixels of ``region`` of ``photo`` (and where they are), sealed with AES-GCM."""
    payload = _HEADER.pack(region.x0, region.y0, region.x1, region.y1) + encode_image(
        photo[region.slices], "png")
    return seal(key, payload, aad)


def unseal_region(photo: np.ndarray, blob: bytes, key: bytes, aad: bytes) -> Region:
    """Write the pixels :func:`seal_region` sealed back into ``photo`` in place; the region.
    Raises :class:`encryptface.crypto.keys.DecryptionError` for a wrong key."""
    payload = unseal(key, blob, aad)
    stored = Region(*_HEADER.unpack_from(payload))
    pixels = decode_encoded(payload[_HEADER.size:])
    if pixels.shape[:2] != (stored.y1 - stored.y0, stored.x1 - stored.x0) or \
            stored.y1 > photo.shape[0] or stored.x1 > photo.shape[1]:
        raise ValueError("sealed region does not fit this photo")
    photo[stored.slices] = pixels
    return stored
