"""Adversarial identity masks: PGD (untargeted / targeted) and TIP-IM-style targeted identity
protection with momentum, optimised through the alignment a third party would do.

The perturbation lives on the photo's pixels around the face (not on an aligned crop), so what is
optimised is what gets published. Each step the perturbed region is, for every surrogate
recogniser, warped to that recogniser's aligned crop by a differentiable similarity warp (with a
small random jitter of the alignment), randomly down- and up-scaled (and, if asked, blurred), and
passed through a real JPEG encoder with a straight-through gradient (BPDA): an expectation over the
transformations a photo meets after publication.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import get_args

import numpy as np
import torch
from torch.nn import functional

from encryptface.config import CloakMethod, CloakSettings
from encryptface.faces.recognition import NeuralRecognizer
from encryptface.imaging.codecs import jpeg_round_trip
from encryptface.runtime import check_deadline

METHODS = get_args(CloakMethod)
L2_PEAK = 4.0  # with an L2 budget, no value moves more than this many times the RMS budget


@dataclasses.dataclass(frozen=True)
class Surrogate:
    """A differentiable recogniser and this face's reference embeddings in its space."""

    recognizer: NeuralRecognizer
    matrix: np.ndarray          # 2x3: working-region pixels -> the recogniser's crop pixels
    own: torch.Tensor           # 1 x D embedding of the unprotected face
    targets: torch.Tensor       # T x D embeddings of the target pool (may be empty)


@dataclasses.dataclass(frozen=True)
class CloakResult:
    """The perturbed region (float, RGB in [0, 1]) and what the optimisation saw at the end."""

    region: torch.Tensor
    similarity: dict[str, float]   # surrogate -> cosine similarity to the own face (last step)
    target: int                    # index of the chosen pool identity, -1 when untargeted


def crop_grid(matrix: np.ndarray, crop_size: int, height: int, width: int,
              jitter: np.ndarray | None = None) -> torch.Tensor:
    """``grid_sample`` grid (1 x S x S x 2) reading a ``crop_size`` aligned crop out of a
    ``height`` x ``width`` image through the 2x3 image->crop ``matrix`` (optionally composed with a
    3x3 ``jitter`` acting on crop coordinates)."""
    forward = np.vstack([matrix, [0.0, 0.0, 1.0]])
    if jitter is not None:
        forward = jitter @ forward
    inverse = np.linalg.inv(forward)[:2]
    centres = np.arange(crop_size, dtype=np.float64)
    u, v = np.meshgrid(centres, centres)
    points = np.stack([u, v, np.ones_like(u)], axis=-1) @ inverse.T   # source pixel coordinates
    # pixel centres -> [-1, 1] (align_corners=False convention)
    grid = np.stack([(2 * points[..., 0] + 1) / width - 1, (2 * points[..., 1] + 1) / height - 1], -1)
    return torch.from_numpy(grid[None].astype(np.float32))


def _random_jitter(rng: np.random.Generator, crop_size: int, amount: float) -> np.ndarray:
    """A small random similarity transform about the crop centre (shift, scale, rotation)."""
    if amount <= 0:
        return np.eye(3)
    angle = math.radians(rng.uniform(-3, 3) * amount)
    scale = 1 + rng.uniform(-0.04, 0.04) * amount
    shift = rng.uniform(-1, 1, size=2) * amount * crop_size * 0.03
    c = crop_size / 2
    rot = np.array([[scale * math.cos(angle), -scale * math.sin(angle), 0],
                    [scale * math.sin(angle), scale * math.cos(angle), 0], [0, 0, 1]])
    to_centre = np.array([[1, 0, -c], [0, 1, -c], [0, 0, 1]])
    back = np.array([[1, 0, c + shift[0]], [0, 1, c + shift[1]], [0, 0, 1]])
    return back @ rot @ to_centre


def jpeg_straight_through(image: torch.Tensor, quality: int) -> torch.Tensor:
    """Real JPEG round trip in the forward pass, identity gradient in the backward pass (BPDA)."""
    pixels = (image[0].detach().permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy()
    jpeg = torch.from_numpy(jpeg_round_trip(pixels, quality)).permute(2, 0, 1)[None].float() / 255.0
    return image + (jpeg - image).detach()


def _random_resize(image: torch.Tensor, rng: np.random.Generator, smallest: float) -> torch.Tensor:
    if smallest >= 1.0:
        return image
    factor = rng.uniform(smallest, 1.0)
    height, width = image.shape[2:]
    size = (max(8, round(height * factor)), max(8, round(width * factor)))
    small = functional.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)
    return functional.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)


def _random_blur(image: torch.Tensor, rng: np.random.Generator, largest: float) -> torch.Tensor:
    """On half the calls, a Gaussian blur of sigma uniform in (0, ``largest``] pixels (the other
    half: the image itself), so the mask also survives the smoothing of resampling and denoising."""
    if largest <= 0 or rng.random() < 0.5:
        return image
    sigma = rng.uniform(0.25, 1.0) * largest
    radius = max(1, math.ceil(2.5 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=image.dtype)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).repeat(image.shape[1], 1, 1, 1)
    padded = functional.pad(image, (radius, radius, radius, radius), mode="reflect")
    rows = functional.conv2d(padded, kernel.reshape(-1, 1, 1, len(taps)), groups=image.shape[1])
    return functional.conv2d(rows, kernel.reshape(-1, 1, len(taps), 1), groups=image.shape[1])


def embed_region(surrogate: Surrogate, region: torch.Tensor,
                 jitter: np.ndarray | None = None) -> torch.Tensor:
    """Embedding (1 x D) of the face in a working region (1 x 3 x H x W in [0, 1])."""
    recognizer = surrogate.recognizer
    grid = crop_grid(surrogate.matrix, recognizer.crop_size, region.shape[2], region.shape[3], jitter)
    crop = functional.grid_sample(region, grid, mode="bilinear", padding_mode="reflection",
                                  align_corners=False)
    return recognizer.embed_crops(crop)  # type: ignore[return-value]


def choose_target(surrogates: Sequence[Surrogate]) -> int:
    """TIP-IM's greedy choice, one step deep: the pool identity the face is already closest to
    (on average over the surrogates), i.e. the one reached with the least perturbation."""
    if not len(surrogates[0].targets):
        return -1
    gains = sum((s.targets @ s.own.T).squeeze(1) for s in surrogates)
    return int(torch.argmax(gains))


def _project(delta: torch.Tensor, norm: str, epsilon: float, face: torch.Tensor) -> torch.Tensor:
    """Onto the budget. L2: ``epsilon`` is the RMS change per value, met both on the face box
    (``face``: 1 x 1 x H x W, 1 inside) and on the whole region, by ONE scale factor (so no seam
    at the box edge) and no value changes by more than :data:`L2_PEAK` x ``epsilon`` (no spikes)."""
    if norm == "linf":
        return delta.clamp(-epsilon, epsilon)
    delta = delta.clamp(-L2_PEAK * epsilon, L2_PEAK * epsilon)
    face_values = float(face.sum()) * delta.shape[1]
    face_rms = float((delta * face).norm()) / max(face_values, 1.0) ** 0.5
    rms = float(delta.norm()) / delta.numel() ** 0.5
    return delta * min(1.0, epsilon / (face_rms + 1e-12), epsilon / (rms + 1e-12))


def _step(gradient: torch.Tensor, norm: str, step_size: float) -> torch.Tensor:
    if norm == "linf":
        return step_size * gradient.sign()
    return step_size * math.sqrt(gradient.numel()) * gradient / (gradient.norm() + 1e-12)


def texture_weights(region: torch.Tensor, strength: float) -> torch.Tensor:
    """Per-pixel step weights (1 x 1 x H x W, mean 1) that grow with the local contrast: changes
    hide in hair, eyes and edges and show on flat skin and walls (what SSIM and people notice).
    ``strength`` 0 gives uniform weights."""
    if strength <= 0:
        return torch.ones_like(region[:, :1])
    grey = region.mean(dim=1, keepdim=True)
    mean = functional.avg_pool2d(grey, 5, 1, 2, count_include_pad=False)
    square = functional.avg_pool2d(grey ** 2, 5, 1, 2, count_include_pad=False)
    local = (square - mean ** 2).clamp_min(0).sqrt()
    weights = ((local / (local.mean() + 1e-6)) ** strength).clamp(0.1, 3.0)
    return weights / weights.mean()


def stop_below(surrogate: Surrogate, settings: CloakSettings) -> float:
    """The cosine similarity to the unprotected face under which ``surrogate`` is done: its own
    match threshold less ``stop_margin`` (thresholds differ a lot between recognisers: FaceNet
    matches above 0.53, ArcFace above 0.15)."""
    return 1.0 - surrogate.recognizer.threshold - settings.stop_margin


def _view_loss(image: torch.Tensor, surrogates: Sequence[Surrogate], target: int,
               settings: CloakSettings, rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, float]]:
    """The attack loss of one randomly transformed view of the cloaked region (resize, blur, JPEG,
    per-surrogate alignment jitter), and each surrogate's similarity to the own face."""
    seen = _random_resize(image, rng, settings.resize_min)
    seen = _random_blur(seen, rng, settings.blur)
    if settings.jpeg_quality:
        seen = jpeg_straight_through(seen, settings.jpeg_quality)
    loss = torch.zeros(())
    similarity = {}
    for surrogate in surrogates:
        jitter = _random_jitter(rng, surrogate.recognizer.crop_size, settings.jitter)
        embedding = embed_region(surrogate, seen, jitter)
        own = (embedding * surrogate.own).sum()
        similarity[surrogate.recognizer.name] = float(own.detach())
        loss = loss + own / len(surrogates)
        if target >= 0:
            loss = loss - settings.target_weight * (embedding * surrogate.targets[target]).sum() \
                / len(surrogates)
    return loss, similarity


def cloak_region(region: torch.Tensor, face: torch.Tensor, surrogates: Sequence[Surrogate],
                 settings: CloakSettings, rng: np.random.Generator) -> CloakResult:
    """Optimise an identity mask for the face in ``region`` (1 x 3 x H x W, RGB in [0, 1]);
    ``face`` (1 x 1 x H x W) marks the face box, where the budget is also met on its own.

    Loss (minimised): mean over ``views`` transformed views and over surrogates of cos(own) -
    target_weight * cos(target) (targeted methods) + naturalness * mean(delta^2) / epsilon^2
    (tip-im). Steps: sign (L-inf) or normalised (L2) gradient with momentum (``momentum`` 0 gives
    plain PGD), projected onto the budget ball. A face stops early once every surrogate, in every
    view, is ``stop_margin`` past its own match threshold (:func:`stop_below`).
    """
    if settings.method not in METHODS:
        raise ValueError(f"unknown cloak method {settings.method!r}; choose from {', '.join(METHODS)}")
    epsilon, step_size = settings.epsilon / 255.0, settings.step_size / 255.0
    target = choose_target(surrogates) if settings.method != "pgd" else -1
    delta = torch.zeros_like(region)
    if settings.random_start:
        start = torch.from_numpy(rng.uniform(-1, 1, size=tuple(region.shape)).astype(np.float32))
        delta = _project(start * epsilon * 0.5, settings.norm, epsilon, face)
    velocity = torch.zeros_like(region)
    weights = texture_weights(region, settings.texture)
    naturalness = settings.naturalness if settings.method == "tip-im" else 0.0
    views = max(1, settings.views)
    similarity: dict[str, float] = {}
    for _ in range(settings.steps):
        check_deadline()
        if similarity and all(similarity[s.recognizer.name] < stop_below(s, settings) for s in surrogates):
            break  # every surrogate is past its margin: spend the time on harder faces
        delta.requires_grad_(True)
        loss = naturalness * (delta ** 2).mean() / epsilon ** 2
        similarity = {}
        cloaked = (region + delta).clamp(0, 1)
        for _ in range(views):  # average the gradient over transformed views
            view_loss, seen_similarity = _view_loss(cloaked, surrogates, target, settings, rng)
            loss = loss + view_loss / views
            for name, value in seen_similarity.items():  # a face is done when its worst view is
                similarity[name] = max(value, similarity.get(name, -1.0))
        (gradient,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            # MI-FGSM: accumulate the L1-normalised gradient.
            velocity = settings.momentum * velocity + gradient / (gradient.abs().mean() + 1e-12)
            step = _step(velocity * weights, settings.norm, step_size)
            delta = _project(delta - step, settings.norm, epsilon, face)
            delta = (region + delta).clamp(0, 1) - region
    return CloakResult(region=(region + delta).detach().clamp(0, 1), similarity=similarity,
                       target=target)
