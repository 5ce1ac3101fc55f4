"""Mode ``cloak``: an imperceptible adversarial identity mask on the photo's own pixels.

No key and nothing to restore: the published photo keeps the person's look for people while the
surrogate recognisers (and, by transfer, others) no longer match the face. The record stores
per-face metrics instead of an encrypted latent.
"""

from __future__ import annotations

import hashlib
import math

import cv2
import numpy as np
import torch
from torch.nn import functional

from encryptface.config import Settings
from encryptface.faces.alignment import Region, canonical_template, similarity_transform
from encryptface.faces.detection import Face
from encryptface.faces.recognition import NeuralRecognizer, load_recognizer
from encryptface.imaging.codecs import jpeg_round_trip
from encryptface.imaging.metrics import psnr, ssim
from encryptface.modes.base import FaceContext, ProtectedFace, ProtectionMode
from encryptface.modes.cloak_attack import Surrogate, cloak_region, embed_region


class CloakMode(ProtectionMode):
    """Adversarial identity protection (PGD / TIP-IM) against differentiable surrogates."""

    name = "cloak"
    reversible = False
    sees_earlier_faces = True

    @classmethod
    def from_settings(cls, settings: Settings, threads: int = 0) -> CloakMode:  # noqa: ARG003
        return cls(settings)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.cloak
        self.recognizers: list[NeuralRecognizer] = []
        for name in self.settings.surrogates:
            recognizer = load_recognizer(name, settings.recognition)
            if not isinstance(recognizer, NeuralRecognizer):
                raise ValueError(f"recogniser {name!r} is not differentiable: it cannot be a surrogate")
            self.recognizers.append(recognizer)
        if not self.recognizers:
            raise ValueError("cloak.surrogates is empty")
        self.pool = {} if self.settings.method == "pgd" or not self.settings.targets \
            else self._target_pool(settings)
        c = self.settings
        self.model_id = (f"cloak/{c.method}/{c.norm}-{c.epsilon:g}/{c.steps}x{c.step_size:g}/"
                         f"{'+'.join(c.surrogates)}")

    def _target_pool(self, settings: Settings) -> dict[str, torch.Tensor]:
        """Embeddings of synthetic identities: faces decoded from random draws of the prior
        generator's Gaussian (encrypt.prior_model; no real person is a target)."""
        from encryptface.models import load_generator  # only the targeted methods need it

        generator = load_generator(settings.encrypt.prior_model, settings.encrypt.backend)
        rng = np.random.default_rng(self.settings.seed)
        z = (rng.standard_normal((self.settings.targets, generator.latent_dim)) * 0.8).astype(np.float32)
        residual = np.zeros((self.settings.targets, generator.residual_dim), np.float32)
        faces = generator.gaussian_to_face(z, residual)
        source = canonical_template(generator.crop_size, generator.face_scale)
        pool = {}
        for recognizer in self.recognizers:
            matrix = similarity_transform(source, recognizer.template)
            size = recognizer.crop_size
            crops = np.stack([cv2.warpAffine(f, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                             borderMode=cv2.BORDER_REFLECT_101) for f in faces])
            with torch.no_grad():
                tensor = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
                pool[recognizer.name] = recognizer.embed_crops(tensor)
        return pool

    def working_region(self, face: Face, shape: tuple[int, ...]) -> Region:
        """The source pixels any surrogate's aligned crop reads (with room for the jitter)."""
        corners = []
        for recognizer in self.recognizers:
            inverse = cv2.invertAffineTransform(recognizer.alignment_matrix(face.landmarks))
            s = recognizer.crop_size
            square = np.array([[0, 0, 1], [s, 0, 1], [0, s, 1], [s, s, 1]], np.float64)
            corners.append(square @ inverse.T)
        points = np.concatenate(corners)
        low, high = points.min(0), points.max(0)
        margin = 0.06 * (high - low)
        x0, y0 = np.floor(low - margin).astype(int)
        x1, y1 = np.ceil(high + margin).astype(int)
        return Region(max(0, x0), max(0, y0), min(shape[1], x1), min(shape[0], y1))

    def protect(self, original: np.ndarray, face: FaceContext) -> ProtectedFace:
        region = self.working_region(face.face, original.shape)
        pixels = np.ascontiguousarray(original[region.slices])
        height, width = pixels.shape[:2]
        scale = min(1.0, self.settings.work_size / max(height, width))
        work_size = (max(8, round(width * scale)), max(8, round(height * scale)))
        tensor = _working_tensor(pixels, work_size)
        # photo -> working-region pixels: shift to the region, then scale
        to_work = np.array([[work_size[0] / width, 0, 0], [0, work_size[1] / height, 0], [0, 0, 1]]) \
            @ np.array([[1, 0, -region.x0], [0, 1, -region.y0], [0, 0, 1]])
        surrogates = []
        for recognizer in self.recognizers:
            matrix = (np.vstack([recognizer.alignment_matrix(face.face.landmarks), [0, 0, 1]])
                      @ np.linalg.inv(to_work))[:2]
            with torch.no_grad():
                own = embed_region(Surrogate(recognizer, matrix, torch.zeros(0), torch.zeros(0)), tensor)
            surrogates.append(Surrogate(recognizer, matrix, own=own,
                                        targets=self.pool.get(recognizer.name, torch.zeros(0))))
        x, y, w, h = face.face.bbox
        box_mask = np.zeros((height, width), np.float32)
        box = (slice(max(0, round(y) - region.y0), max(0, round(y + h) - region.y0)),
               slice(max(0, round(x) - region.x0), max(0, round(x + w) - region.x0)))
        box_mask[box] = 1.0
        work_mask = cv2.resize(box_mask, work_size, interpolation=cv2.INTER_NEAREST)
        seed = int.from_bytes(hashlib.sha256(face.aad).digest()[:8], "little")
        result = cloak_region(tensor, torch.from_numpy(work_mask)[None, None], surrogates, self.settings,
                              np.random.default_rng([self.settings.seed, seed]))
        change = result.region - tensor
        if scale != 1.0:  # the change is smooth at the working scale: scale it up to the photo
            change = functional.interpolate(change, size=(height, width), mode="bilinear",
                                            align_corners=False)
        cloaked = np.clip(pixels.astype(np.float32) + change[0].permute(1, 2, 0).numpy() * 255.0,
                          0, 255).round().astype(np.uint8)
        metrics = _quality(pixels, cloaked, box)
        metrics["surrogate_similarity_jpeg90"] = _similarity_after_jpeg(cloaked, work_size, surrogates)
        metrics["target"] = result.target
        return ProtectedFace(crop=None, encrypted_latent=None, patch=(region, cloaked), metrics=metrics)

    def restore(self, photo: np.ndarray, landmarks: np.ndarray, encrypted_latent: bytes,
                key: bytes, aad: bytes) -> Region:
        raise ValueError("cloak is not reversible: the published photo is the only copy")



def _working_tensor(pixels: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """1 x 3 x H x W float tensor in [0, 1] of ``pixels`` resized to ``size`` (width, height)."""
    if size != (pixels.shape[1], pixels.shape[0]):
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].float() / 255.0


def _quality(pixels: np.ndarray, cloaked: np.ndarray, box: tuple[slice, slice]) -> dict:
    """PSNR / SSIM of the change on the face box and on the whole changed region."""
    change = cloaked.astype(np.float64) - pixels.astype(np.float64)
    return {"psnr_face": round(psnr(pixels[box], cloaked[box]), 2),
            "ssim_face": round(ssim(pixels[box], cloaked[box]), 4),
            "psnr_region": round(psnr(pixels, cloaked), 2), "ssim_region": round(ssim(pixels, cloaked), 4),
            "max_change": int(np.abs(change).max()), "rms_change": round(math.sqrt((change ** 2).mean()), 3)}


def _similarity_after_jpeg(cloaked: np.ndarray, work_size: tuple[int, int],
                           surrogates: list[Surrogate]) -> dict[str, float]:
    """Each surrogate's cosine similarity of the cloaked face, after the published JPEG round trip, to the
    unprotected face: what a recogniser sees once the photo is published."""
    published = _working_tensor(jpeg_round_trip(cloaked), work_size)
    with torch.no_grad():
        return {s.recognizer.name: round(float((embed_region(s, published) * s.own).sum()), 4)
                for s in surrogates}
