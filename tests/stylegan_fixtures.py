"""A tiny stylegan model trained in the test session (40 renders): the real network, real fit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from encryptface.config import Settings
from encryptface.training.stylegan_train import train_stylegan


def tiny_stylegan_settings(settings: Settings, cache: Path) -> Settings:
    """``settings`` with a 40-sample bank cached under ``cache``."""
    training = dataclasses.replace(settings.stylegan_training, cache=str(cache), samples=40, chunk=20,
                                   components=16, attributes=4, appearance_samples=40,
                                   appearance_components=4, demographic_faces=60)
    return settings.replace(stylegan_training=training)


def train_tiny_stylegan(settings: Settings, root: Path) -> tuple[Settings, dict]:
    """Train the tiny model into ``root / "model"``; settings that use it, and its metrics."""
    tiny = tiny_stylegan_settings(settings, root / "cache")
    metrics = train_stylegan(tiny, root / "model", threads=2)
    encrypt = dataclasses.replace(tiny.encrypt, generator="stylegan")
    # the appearance match (off by default) on, so the round trips cover it on real photos (the
    # demographic match is on by default)
    stylegan = dataclasses.replace(tiny.stylegan, model=str(root / "model"), candidates=8,
                                   match_appearance=True, demographic_pool=64)
    return tiny.replace(encrypt=encrypt, stylegan=stylegan), metrics
