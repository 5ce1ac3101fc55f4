"""Plug-in generator for users with a GPU-trained diffusion model: ``encrypt.prior_model =
"diffusers:<local dir>"``.

The directory holds ``unet/`` and ``scheduler/`` as saved by diffusers' ``save_pretrained`` and a
``config.json`` (``crop_size``, ``face_scale``, ``model_id``, ``steps``, ``space``: ``pixel``, or
``taef2`` for a UNet over TAEF2 latents with ``autoencoder`` naming the TAEF2 weights folder).
The face's Gaussian latent is its DDIM inversion x_T (``DDIMInverseScheduler``); generation is DDIM
sampling (``DDIMScheduler``) from a keyed x_T. Nothing is downloaded: ``from_pretrained`` reads the
local folder only. DDIM inversion is approximate, so restores are as good as the model's inversion
round trip.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from encryptface.models.autoencoder import Autoencoder
from encryptface.models.base import LatentGenerator, read_config


class DiffusersGenerator(LatentGenerator):
    """A :class:`~encryptface.models.base.LatentGenerator` over a diffusers UNet and DDIM schedulers."""

    backend = "torch"
    precision = "f32"

    def __init__(self, model_dir: str | Path) -> None:
        from diffusers import DDIMInverseScheduler, DDIMScheduler, UNet2DModel

        self.model_dir = Path(model_dir)
        config = read_config(self.model_dir)
        self.crop_size = int(config["crop_size"])
        self.face_scale = float(config["face_scale"])
        self.model_id = f"diffusers-{config['model_id']}"  # one path segment: see archive.schema
        self.steps = int(config.get("steps", 25))
        self.unet = UNet2DModel.from_pretrained(self.model_dir / "unet", local_files_only=True).eval()
        self.scheduler = DDIMScheduler.from_pretrained(self.model_dir / "scheduler", local_files_only=True)
        self.inverse_scheduler = DDIMInverseScheduler.from_config(self.scheduler.config)
        size = int(self.unet.config.sample_size)
        self.sample_shape = (int(self.unet.config.in_channels), size, size)
        self._latent_dim = int(np.prod(self.sample_shape))
        self.autoencoder = None
        if config.get("space", "pixel") == "taef2":
            self.autoencoder = Autoencoder(self.model_dir, self.crop_size, "torch")

    @property
    def latent_dim(self) -> int:
        return self._latent_dim

    @property
    def residual_dim(self) -> int:
        return 0  # DDIM inversion keeps no residual

    def outside_subspace(self, residual: np.ndarray) -> np.ndarray:
        return residual

    def face_to_gaussian(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Aligned crops -> (x_T by DDIM inversion, empty residual)."""
        x = torch.from_numpy(self._to_model_space(crops))
        self.inverse_scheduler.set_timesteps(self.steps)
        with torch.no_grad():
            for t in self.inverse_scheduler.timesteps:
                x = self.inverse_scheduler.step(self.unet(x, t).sample, t, x).prev_sample
        return x.reshape(len(crops), -1).numpy(), np.zeros((len(crops), 0), np.float32)

    def gaussian_to_face(self, z: np.ndarray, residual: np.ndarray) -> np.ndarray:
        """x_T -> aligned crops by DDIM sampling (``residual`` is empty for this generator)."""
        x = torch.from_numpy(z.astype(np.float32).reshape((-1,) + self.sample_shape))
        self.scheduler.set_timesteps(self.steps)
        with torch.no_grad():
            for t in self.scheduler.timesteps:
                x = self.scheduler.step(self.unet(x, t).sample, t, x).prev_sample
        return self._from_model_space(x.numpy())

    def _to_model_space(self, crops: np.ndarray) -> np.ndarray:
        if self.autoencoder is not None:
            return self.autoencoder.encode(crops)
        size = self.sample_shape[1]
        resized = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])
        return (resized.transpose(0, 3, 1, 2).astype(np.float32) / 127.5) - 1.0

    def _from_model_space(self, samples: np.ndarray) -> np.ndarray:
        if self.autoencoder is not None:
            return self.autoencoder.decode(samples)
        images = ((np.clip(samples, -1, 1) + 1) * 127.5 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)
        return np.stack([cv2.resize(img, (self.crop_size, self.crop_size), interpolation=cv2.INTER_CUBIC)
                         for img in images])
