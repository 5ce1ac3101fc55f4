"""Protection modes, by the name used on the command line and stored in each face record."""

from __future__ import annotations

import dataclasses
import importlib

from encryptface.archive.schema import generator_of
from encryptface.config import Settings
from encryptface.models import STYLEGAN_ID_PREFIX
from encryptface.modes.base import FaceContext, ProtectedFace, ProtectionMode

# name -> (module, class). Imported on first use: encrypt and cloak load torch and OpenVINO.
_MODES = {
    "encrypt": ("encryptface.modes.encrypt", "EncryptMode"),
    "seal": ("encryptface.modes.seal", "SealMode"),
    "cloak": ("encryptface.modes.cloak", "CloakMode"),
}
_STYLEGAN_ENCRYPT = ("encryptface.modes.encrypt_stylegan", "StyleGANEncryptMode")
MODE_NAMES = tuple(_MODES)
GENERATORS = ("prior", "stylegan")


def mode_class(name: str, generator: str = "prior") -> type[ProtectionMode]:
    """The class of protection mode ``name`` (for ``encrypt``: with ``generator``)."""
    if name not in _MODES:
        raise ValueError(f"unknown mode {name!r}; choose from {', '.join(MODE_NAMES)}")
    if name == "encrypt" and generator not in GENERATORS:
        raise ValueError(f"encrypt.generator must be one of {', '.join(GENERATORS)}, not {generator!r}")
    module, cls = _STYLEGAN_ENCRYPT if (name, generator) == ("encrypt", "stylegan") else _MODES[name]
    return getattr(importlib.import_module(module), cls)


def is_reversible(name: str) -> bool:
    """Whether mode ``name`` stores what restores the original (and so needs a password)."""
    return mode_class(name).reversible


def reversible_modes() -> tuple[str, ...]:
    """The names of the modes whose records can be restored."""
    return tuple(name for name in MODE_NAMES if is_reversible(name))


def record_settings(settings: Settings, mode: str, model_id: str) -> Settings:
    """``settings`` with the encrypt generator that made a record (its ``model_id`` names it), so
    that restoring needs no flag for it."""
    if mode != "encrypt":
        return settings
    generator = "stylegan" if generator_of(model_id).startswith(STYLEGAN_ID_PREFIX) else "prior"
    if generator == settings.encrypt.generator:
        return settings
    return settings.replace(encrypt=dataclasses.replace(settings.encrypt, generator=generator))


def create_mode(name: str, settings: Settings, threads: int = 0) -> ProtectionMode:
    """Instantiate the protection mode ``name`` (``threads``: OpenVINO inference threads, 0 = all
    cores)."""
    cls = mode_class(name, settings.encrypt.generator)
    return cls.from_settings(settings, threads)


__all__ = ["GENERATORS", "MODE_NAMES", "FaceContext", "ProtectedFace", "ProtectionMode",
           "create_mode", "is_reversible", "mode_class", "record_settings", "reversible_modes"]
