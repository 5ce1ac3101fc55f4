"""The prior generator: the TAEF2 autoencoder (OpenVINO by default, torch as fallback) plus the
invertible prior over its latents.

A model directory holds ``config.json``, the prior (``prior.npz``, ``flow.pt``), OpenVINO IR of the
autoencoder (``encoder.xml``/``decoder.xml``, exported by the training job) and ``MODEL_CARD.md``.
The TAEF2 torch weights are found through ``config["autoencoder"]`` (relative to the directory).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from encryptface.models.autoencoder import Autoencoder
from encryptface.models.base import LatentGenerator, read_config
from encryptface.models.prior import FacePrior


class PriorGenerator(LatentGenerator):
    """Autoencoder + prior, loaded from a model directory."""

    def __init__(self, model_dir: str | Path, backend: str = "openvino", threads: int = 0,
                 performance_hint: str = "LATENCY", precision: str = "f32") -> None:
        self.model_dir = Path(model_dir)
        self.config = read_config(self.model_dir)
        self.crop_size = int(self.config["crop_size"])
        self.face_scale = float(self.config["face_scale"])
        self.model_id = str(self.config["model_id"])
        self.autoencoder = Autoencoder(self.model_dir, self.crop_size, backend, threads, performance_hint,
                                       precision)
        self.prior = FacePrior.load(self.model_dir)

    @property
    def backend(self) -> str:
        return self.autoencoder.backend

    @property
    def precision(self) -> str:
        return self.autoencoder.precision

    @property
    def latent_dim(self) -> int:
        return self.prior.latent_dim

    @property
    def residual_dim(self) -> int:
        return self.prior.mean.shape[0]

    def outside_subspace(self, residual: np.ndarray) -> np.ndarray:
        """The part of a (shuffled) residual that the generated face may use."""
        return self.prior.outside_subspace(residual)

    def face_to_gaussian(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Aligned crops -> (z, residual)."""
        return self.prior.to_gaussian(self.autoencoder.encode(crops).reshape(len(crops), -1))

    def gaussian_to_face(self, z: np.ndarray, residual: np.ndarray) -> np.ndarray:
        """(z, residual) -> aligned crops."""
        return self.autoencoder.decode(self.prior.from_gaussian(z, residual))
