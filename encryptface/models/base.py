"""The contract of an invertible face generator, which the ``encrypt`` mode's keyed latent
arithmetic runs on (``encrypt.generator = "prior"``).

A generator maps an aligned face crop to a Gaussian latent ``z`` (plus an optional residual it
keeps exactly) and back. ``encrypt`` rotates ``z`` with the key, so a right key inverts it and a
wrong one lands on another face of the same distribution. Implementations: the prior generator
(:mod:`encryptface.models.prior_generator`) and the diffusers plug-in
(:mod:`encryptface.models.diffusers_generator`). The photo-real stylegan generator is not invertible
and sits behind its own protection mode (:mod:`encryptface.modes.encrypt_stylegan`).
"""

from __future__ import annotations

import abc
import json
from pathlib import Path

import numpy as np

CONFIG_FILE = "config.json"  # every model directory's description (crop size, face scale, id, ...)


def read_config(model_dir: str | Path) -> dict:
    """The ``config.json`` of a model directory."""
    return json.loads((Path(model_dir) / CONFIG_FILE).read_text())


class LatentGenerator(abc.ABC):
    """An invertible generator of aligned face crops (RGB uint8, ``crop_size`` square, faces at
    ``face_scale`` as :class:`encryptface.faces.alignment.Aligner` cuts them)."""

    model_id: str       # names the exact weights: records store it, restore checks it
    crop_size: int
    face_scale: float
    backend: str        # the engine that runs it ("openvino", "torch")
    precision: str      # "f32" or "int8"

    @property
    @abc.abstractmethod
    def latent_dim(self) -> int:
        """Length of the Gaussian latent ``z``."""

    @property
    @abc.abstractmethod
    def residual_dim(self) -> int:
        """Length of the exactly kept residual (0 for none)."""

    @abc.abstractmethod
    def outside_subspace(self, residual: np.ndarray) -> np.ndarray:
        """The part of a (shuffled) residual that a generated face may use."""

    @abc.abstractmethod
    def face_to_gaussian(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, S, S, 3) uint8 crops -> (z (N, latent_dim), residual (N, residual_dim))."""

    @abc.abstractmethod
    def gaussian_to_face(self, z: np.ndarray, residual: np.ndarray) -> np.ndarray:
        """(z, residual) -> (N, S, S, 3) uint8 crops."""
