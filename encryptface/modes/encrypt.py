"""Mode ``encrypt``: replace each face by a realistic different face generated from a keyed
transform of the original face's Gaussian latent; the right password recovers the original.

    aligned crop -> autoencoder -> prior -> (z, r)
    z' = R_k z      (keyed rotation: z' is again N(0, I))
    s' = P_k r      (keyed shuffle of the residual)          [residual = "permuted", the default]
    protected face = decode(prior^-1(z', outside(s')))       -> colour-matched paste back
    stored: z', s' (float16)

Restoring inverts R_k and P_k. The record's key-check value refuses a wrong password; asked for
decoys, a wrong password runs the same arithmetic with its key and yields another face of the same
kind. With ``residual = "sealed"`` the exact original face region is also sealed with AES-GCM
instead of storing the shuffled residual: restoring is bit-exact.
"""

from __future__ import annotations

import struct
from typing import get_args

import numpy as np

from encryptface.config import AlignmentSettings, EncryptSettings, Residual, Settings
from encryptface.crypto.keyed import KeyedRotation, KeyedShuffle
from encryptface.faces.alignment import AlignedFace, Aligner, Region
from encryptface.faces.detection import Face
from encryptface.imaging.colour import colour_stats, transfer_colours
from encryptface.models import load_generator
from encryptface.modes.base import FaceContext, ProtectedFace, ProtectionMode
from encryptface.modes.seal import SealMode

_HEADER = struct.Struct("<4sBHI6f")  # magic, residual kind, K, D, colour mean and spread (RGB)
_MAGIC = b"EFz2"
_PERMUTED, _SEALED = 1, 2


class EncryptMode(ProtectionMode):
    """Generative, keyed, reversible de-identification."""

    name = "encrypt"
    generator_name = "prior"
    restores_from_pixels = True
    renders_decoys = True

    @classmethod
    def from_settings(cls, settings: Settings, threads: int = 0) -> EncryptMode:
        return cls(settings.encrypt, settings.alignment, SealMode(settings.seal), threads)

    def __init__(self, settings: EncryptSettings, alignment: AlignmentSettings, seal: SealMode,
                 threads: int = 0) -> None:
        self.settings = settings
        self.generator = load_generator(settings.prior_model, settings.backend, threads,
                                        settings.performance_hint, settings.precision)
        if (self.generator.crop_size, self.generator.face_scale) != (alignment.crop_size,
                                                                     alignment.face_scale):
            raise ValueError(
                f"generator {self.generator.model_id} expects crop_size={self.generator.crop_size}, "
                f"face_scale={self.generator.face_scale}; the alignment settings say "
                f"{alignment.crop_size}, {alignment.face_scale}")
        if settings.residual not in get_args(Residual):
            raise ValueError(f"encrypt.residual must be one of {get_args(Residual)}, "
                             f"not {settings.residual!r}")
        self.generator_model_id = self.generator.model_id
        self.aligner = Aligner(alignment)
        self.seal = seal
        engine = self.generator.backend + ("-int8" if self.generator.precision == "int8" else "")
        self.model_id = f"{self.generator.model_id}/{settings.residual}/{engine}"

    # -- the keyed latent arithmetic -------------------------------------------------------------
    def _transforms(self, key: bytes) -> tuple[KeyedRotation, KeyedShuffle]:
        return (KeyedRotation(key, self.generator.latent_dim),
                KeyedShuffle(key, self.generator.residual_dim))

    def _no_residual(self) -> np.ndarray:
        return np.zeros((1, self.generator.residual_dim), np.float32)

    def _generate(self, z_keyed: np.ndarray, residual_keyed: np.ndarray | None) -> np.ndarray:
        residual = self._no_residual() if residual_keyed is None \
            else self.generator.outside_subspace(residual_keyed.astype(np.float32))
        return self.generator.gaussian_to_face(z_keyed.astype(np.float32), residual)[0]

    def encrypt_crop(self, crop: np.ndarray, key: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(protected crop, z', s') for one aligned crop."""
        z, residual = self.generator.face_to_gaussian(crop[None])
        rotation, shuffle = self._transforms(key)
        z_keyed = rotation.apply(z).astype(np.float16)
        residual_keyed = shuffle.apply(residual).astype(np.float16)
        stored = residual_keyed if self.settings.residual == "permuted" else None
        return self._generate(z_keyed, stored), z_keyed, residual_keyed

    def decrypt_latents(self, z_keyed: np.ndarray, residual_keyed: np.ndarray | None,
                        key: bytes) -> np.ndarray:
        """The crop the key gives for stored latents: the original face for the right key."""
        rotation, shuffle = self._transforms(key)
        z = rotation.invert(z_keyed.astype(np.float32))
        residual = self._no_residual() if residual_keyed is None \
            else shuffle.invert(residual_keyed.astype(np.float32))
        return self.generator.gaussian_to_face(z, residual)[0]

    # -- ProtectionMode --------------------------------------------------------------------------
    def protect(self, original: np.ndarray, face: FaceContext) -> ProtectedFace:
        crop, z_keyed, residual_keyed = self.encrypt_crop(face.aligned.crop, face.key)
        colours = colour_stats(face.aligned.crop, self.aligner.mask)
        crop = match_colours(crop, colours, self.aligner.mask)
        if self.settings.residual == "permuted":
            body = residual_keyed.tobytes()
            kind = _PERMUTED
        else:
            body = self.seal.protect(original, face).encrypted_latent
            kind = _SEALED
        header = _HEADER.pack(_MAGIC, kind, z_keyed.shape[1], residual_keyed.shape[1],
                              *colours.ravel())
        return ProtectedFace(crop=crop, encrypted_latent=header + z_keyed.tobytes() + body)

    def restore(self, photo: np.ndarray, landmarks: np.ndarray, encrypted_latent: bytes,
                key: bytes, aad: bytes) -> Region:
        kind, z_keyed, body, colours = _unpack(encrypted_latent)
        if kind == _SEALED:  # lossless: the AEAD raises DecryptionError on a wrong password
            return self.seal.restore(photo, landmarks, body, key, aad)
        return self._decrypt_into(photo, landmarks, z_keyed, np.frombuffer(body, np.float16)[None],
                                  colours, key)

    def decoy(self, photo: np.ndarray, landmarks: np.ndarray, encrypted_latent: bytes,
              key: bytes) -> Region:
        """The face a wrong key decrypts the stored latents to (for a sealed residual: without it)."""
        kind, z_keyed, body, colours = _unpack(encrypted_latent)
        residual_keyed = np.frombuffer(body, np.float16)[None] if kind == _PERMUTED else None
        return self._decrypt_into(photo, landmarks, z_keyed, residual_keyed, colours, key)

    def authenticates(self, encrypted_latent: bytes) -> bool:
        return _unpack(encrypted_latent)[0] == _SEALED

    def _decrypt_into(self, photo: np.ndarray, landmarks: np.ndarray, z_keyed: np.ndarray,
                      residual_keyed: np.ndarray | None, colours: np.ndarray, key: bytes) -> Region:
        aligned = self.aligner.align(photo, Face((0, 0, 0, 0), landmarks, 1.0))
        return self._paste(photo, aligned, self.decrypt_latents(z_keyed, residual_keyed, key), colours)

    def restore_from_pixels(self, photo: np.ndarray, landmarks: np.ndarray, key: bytes) -> Region:
        """Recover a face from a published photo alone (no record): re-align the protected face,
        map it back to (z', s') and decrypt. Lossy: the residual's in-subspace part and whatever
        re-compression destroyed are gone."""
        aligned = self.aligner.align(photo, Face((0, 0, 0, 0), landmarks, 1.0))
        z_keyed, residual = self.generator.face_to_gaussian(aligned.crop[None])
        crop = self.decrypt_latents(z_keyed, residual, key)
        return self._paste(photo, aligned, crop, colour_stats(aligned.crop, self.aligner.mask))

    def _paste(self, photo: np.ndarray, aligned: AlignedFace, crop: np.ndarray,
               colours: np.ndarray) -> Region:
        return self.aligner.paste(photo, aligned, match_colours(crop, colours, self.aligner.mask))


def _unpack(encrypted_latent: bytes) -> tuple[int, np.ndarray, bytes, np.ndarray]:
    """(residual kind, z', the bytes after z', colour statistics) of a stored payload."""
    magic, kind, k, _, *colours = _HEADER.unpack_from(encrypted_latent)
    if magic != _MAGIC:
        raise ValueError("not an encrypt-mode record (or one of an older format)")
    z_keyed = np.frombuffer(encrypted_latent, np.float16, k, _HEADER.size)[None]
    return kind, z_keyed, encrypted_latent[_HEADER.size + 2 * k:], \
        np.asarray(colours, np.float32).reshape(2, 3)


def match_colours(crop: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shift and scale each channel of ``crop`` so that its mean and spread inside ``mask`` become
    ``target`` (2x3, from :func:`colour_stats` of the original face): the stand-in face takes the
    lighting and skin tone of the photo. Stored in the record, so the right and a wrong password
    are matched to the same statistics."""
    matched = transfer_colours(crop, colour_stats(crop, mask), target, (0.5, 2.0))
    return np.clip(matched + 0.5, 0, 255).astype(np.uint8)

