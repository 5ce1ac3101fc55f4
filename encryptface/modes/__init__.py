"""Protection modes, by the name used on the command line and stored in each face record."""

from __future__ import annotations

import dataclasses
import importlib

from encryptface.archive.schema import generator_of
from encryptface.config import Settings
from encryptface.generators import GENERATORS, generator, generator_of_model
from encryptface.modes.base import FaceContext, ProtectedFace, ProtectionMode

# name -> (module, class); encrypt's class is its generator's (encryptface.generators). Imported on
# first use: encrypt and cloak load torch and OpenVINO.
_MODES = {
    "encrypt": None,
    "seal": ("encryptface.modes.seal", "SealMode"),
    "cloak": ("encryptface.modes.cloak", "CloakMode"),
}
MODE_NAMES = tuple(_MODES)


def mode_class(name: str, generator_name: str = "prior") -> type[ProtectionMode]:
    """The class of protection mode ``name`` (for ``encrypt``: with generator ``generator_name``)."""
    if name not in _MODES:
        raise ValueError(f"unknown mode {name!r}; choose from {', '.join(MODE_NAMES)}")
    module, cls = _MODES[name] or generator(generator_name).mode
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
    made_by = generator_of_model(generator_of(model_id)).name
    if made_by == settings.encrypt.generator:
        return settings
    return settings.replace(encrypt=dataclasses.replace(settings.encrypt, generator=made_by))


def create_mode(name: str, settings: Settings, threads: int = 0) -> ProtectionMode:
    """Instantiate the protection mode ``name`` (``threads``: OpenVINO inference threads, 0 = all
    cores)."""
    cls = mode_class(name, settings.encrypt.generator)
    return cls.from_settings(settings, threads)


__all__ = ["GENERATORS", "MODE_NAMES", "FaceContext", "ProtectedFace", "ProtectionMode",
           "create_mode", "is_reversible", "mode_class", "record_settings", "reversible_modes"]
