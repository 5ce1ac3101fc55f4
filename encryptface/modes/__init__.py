"""Protection modes, by the name used on the command line and stored in each face record."""

from __future__ import annotations

import dataclasses

from encryptface.config import Settings
from encryptface.modes.base import FaceContext, ProtectedFace, ProtectionMode
from encryptface.modes.seal import SealMode

MODE_NAMES = ("encrypt", "seal", "cloak")
STYLEGAN_ID_PREFIX = "mobilestylegan-"  # how the stylegan generator's model ids begin


def record_settings(settings: Settings, mode: str, model_id: str) -> Settings:
    """``settings`` with the encrypt generator that made a record (its ``model_id`` names it), so
    that restoring needs no flag for it."""
    if mode != "encrypt":
        return settings
    generator = "stylegan" if f"+{STYLEGAN_ID_PREFIX}" in model_id else "prior"
    if generator == settings.encrypt.generator:
        return settings
    return settings.replace(encrypt=dataclasses.replace(settings.encrypt, generator=generator))


def create_mode(name: str, settings: Settings, threads: int = 0) -> ProtectionMode:
    """Instantiate the protection mode ``name`` (``threads``: native threads, 0 = all cores)."""
    if name == "seal":
        return SealMode(settings.seal)
    if name == "encrypt" and settings.encrypt.generator == "stylegan":
        from encryptface.modes.encrypt_stylegan import StyleGANEncryptMode  # loads OpenVINO

        return StyleGANEncryptMode(settings, SealMode(settings.seal), threads)
    if name == "encrypt" and settings.encrypt.generator != "prior":
        raise ValueError(f"encrypt.generator must be 'stylegan' or 'prior', not "
                         f"{settings.encrypt.generator!r}")
    if name == "encrypt":
        from encryptface.modes.encrypt import EncryptMode  # loads torch/OpenVINO: only when asked

        return EncryptMode(settings.encrypt, settings.alignment, SealMode(settings.seal), threads)
    if name == "cloak":
        from encryptface.modes.cloak import CloakMode  # loads torch and the recognisers

        return CloakMode(settings, threads)
    raise ValueError(f"unknown mode {name!r}; choose from {', '.join(MODE_NAMES)}")


__all__ = ["MODE_NAMES", "STYLEGAN_ID_PREFIX", "FaceContext", "ProtectedFace", "ProtectionMode", "SealMode",
           "create_mode", "record_settings"]
