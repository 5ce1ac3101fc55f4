"""The contract of a protection mode: what every mode provides to the scrubber and the restorer,
and what it can do (restore, render decoys, restore from pixels alone)."""

from __future__ import annotations

import abc
import dataclasses

import numpy as np

from encryptface.archive.schema import generator_of
from encryptface.config import Settings
from encryptface.faces.alignment import AlignedFace, Region
from encryptface.faces.detection import Face
from encryptface.generators import generator


@dataclasses.dataclass(frozen=True)
class FaceContext:
    """Everything a mode may use to protect or restore one face of one photo."""

    face: Face             # the detection (box and landmarks in source pixels)
    aligned: AlignedFace   # aligned crop of the ORIGINAL photo (when protecting)
    region: Region         # source pixels that pasting this face back may change
    key: bytes             # this face's 256-bit key (empty for modes that are not reversible)
    aad: bytes             # associated data binding the record to its photo and face index


@dataclasses.dataclass(frozen=True)
class ProtectedFace:
    """A mode's output for one face: an aligned crop to paste back (feathered) OR source pixels
    to write as they are, plus the bytes and per-face metrics to store."""

    crop: np.ndarray | None
    encrypted_latent: bytes | None
    patch: tuple[Region, np.ndarray] | None = None
    metrics: dict | None = None


class ProtectionMode(abc.ABC):
    """A way to protect a face. ``protect`` must not modify the photo it is given."""

    name: str
    model_id: str
    reversible: bool = True   # False: no key is needed and there is nothing to restore
    # True: ``protect`` gets the photo with the earlier faces already protected, so a face's patch
    # keeps their changes where the regions overlap (a cloak on the original pixels would erase a
    # neighbour's cloak). False: it gets the original photo (the pixels a record must restore).
    sees_earlier_faces: bool = False
    # True: a wrong key can render a decoy (another realistic face) instead of being refused.
    renders_decoys: bool = False
    # True: a bearded face gets a bearded stand-in; False: the scrubber seals bearded faces
    # (encrypt.seal_bearded: a clean-shaven stand-in left the beard below the chin).
    renders_beards: bool = False
    # True: the key alone restores a face from the published pixels (no stored record needed).
    restores_from_pixels: bool = False
    # Modes that run a learned generator: its name in encryptface.generators, and the id of the
    # model loaded (set when it is); None for modes without one.
    generator_name: str | None = None
    generator_model_id: str | None = None

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: Settings, threads: int = 0) -> ProtectionMode:
        """The mode configured by ``settings`` (``threads``: OpenVINO inference threads, 0 = all
        cores; torch and OpenCV threads are the worker's, :func:`encryptface.runtime.limit_threads`)."""

    @abc.abstractmethod
    def protect(self, original: np.ndarray, face: FaceContext) -> ProtectedFace:
        """Protect one face of ``original`` (read-only)."""

    @abc.abstractmethod
    def restore(self, photo: np.ndarray, landmarks: np.ndarray, encrypted_latent: bytes,
                key: bytes, aad: bytes) -> Region:
        """Write the original face (detected at ``landmarks``, 5x2) back into ``photo`` in place;
        return the restored region.
        Raises :class:`encryptface.crypto.keys.DecryptionError` for a wrong password."""

    def decoy(self, photo: np.ndarray, landmarks: np.ndarray, encrypted_latent: bytes,
              key: bytes) -> Region | None:
        """Render what a wrong ``key`` shows into ``photo`` in place (modes with
        :attr:`renders_decoys`); None where a face cannot have a decoy."""
        raise NotImplementedError(f"mode {self.name} does not render decoys")

    def authenticates(self, encrypted_latent: bytes) -> bool:
        """Whether :meth:`restore` of this payload raises ``DecryptionError`` for a wrong key (an
        AEAD tag checks it). Records also carry a key-check value, which decides first."""
        return True

    def restore_from_pixels(self, photo: np.ndarray, landmarks: np.ndarray, key: bytes) -> Region:
        """Restore the face at ``landmarks`` in ``photo`` in place from its pixels and ``key`` alone
        (modes with :attr:`restores_from_pixels`); return the restored region."""
        raise NotImplementedError(f"mode {self.name} cannot restore from pixels")

    def check_record(self, model_id: str) -> None:
        """Raise ``ValueError`` when a face record was made by another model than the generator
        this mode runs: it would decode the stored latents to a wrong face without any error
        (modes without a learned model accept every record)."""
        if self.generator_model_id is None or generator_of(model_id) == self.generator_model_id:
            return
        setting = generator(self.generator_name or "").model_setting
        raise ValueError(f"record made by {model_id!r}, but the loaded generator is "
                         f"{self.generator_model_id!r} (set encrypt.generator and {setting}, or --generator)")
