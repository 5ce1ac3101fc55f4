"""Protection modes, by the name used on the command line and stored in each face record."""

from __future__ import annotations

from encryptface.config import Settings
from encryptface.modes.base import FaceContext, ProtectedFace, ProtectionMode
from encryptface.modes.seal import SealMode

MODE_NAMES = ("seal",)


def create_mode(name: str, settings: Settings) -> ProtectionMode:
    """Instantiate the protection mode ``name``."""
    if name == "seal":
        return SealMode(settings.seal)
    raise ValueError(f"unknown mode {name!r}; choose from {', '.join(MODE_NAMES)}")


__all__ = ["MODE_NAMES", "FaceContext", "ProtectedFace", "ProtectionMode", "SealMode", "create_mode"]
