"""Restore one contract row: its de-identified photo with the original faces put back."""

from __future__ import annotations

import numpy as np

from encryptface.config import Settings
from encryptface.crypto.keys import DecryptionError, KeyRing, MasterKey, face_aad
from encryptface.faces.alignment import Region
from encryptface.imaging.codecs import decode_encoded
from encryptface.modes import ProtectionMode, create_mode, record_settings


def key_opens(master_key: MasterKey, face: dict, index: int, aad: bytes) -> bool:
    """False when the face record's key-check value proves ``master_key`` wrong (True without one:
    then the mode's own authentication, if any, decides)."""
    check = face.get("key_check")
    return check is None or master_key.opens(face["salt"], index, aad, check)


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

        Raises :class:`encryptface.crypto.keys.DecryptionError` on a wrong password or altered record.
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
        master_key = keys.get(face["kdf"])
        key = master_key.face_key(face["salt"], index)
        aad = face_aad(source_sha256, index, face["mode"])
        landmarks = np.asarray(face["landmarks"], np.float32).reshape(5, 2)
        try:
            if not key_opens(master_key, face, index, aad):
                raise DecryptionError()
            return mode.restore(photo, landmarks, face["encrypted_latent"], key, aad)
        except DecryptionError:
            if not (decoys and mode.renders_decoys):
                raise
            return mode.decoy(photo, landmarks, face["encrypted_latent"], key)

    def proves_key(self, face: dict) -> bool:
        """Whether a face record tells a right key from a wrong one (a key-check value, or a
        payload the mode authenticates); older ``encrypt`` records of the prior with a shuffled
        residual and no key check do not: any key restores *a* face from them."""
        return face.get("key_check") is not None or \
            self.mode_for(face).authenticates(face["encrypted_latent"])

    def mode_for(self, face: dict) -> ProtectionMode:
        """The protection mode that made a face record (for ``encrypt``: with the generator its
        ``model_id`` names), loaded once."""
        settings = record_settings(self.settings, face["mode"], face["model_id"] or "")
        key = (face["mode"], settings.encrypt.generator)
        if key not in self._modes:
            self._modes[key] = create_mode(face["mode"], settings, self.threads)
        return self._modes[key]
