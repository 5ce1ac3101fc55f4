"""Fit a stand-in render's non-identity layers to the photo around the face (``stylegan.fit_steps``).

The render's coarse (pose, head shape) and fine (colour, light) styles come from linear readers of
the photo, which miss: the render's forehead, hair and cheeks do not continue the photo's where the
blend fades from one to the other, and that band is where a pasted face shows. This fits them to
the photo, through a torch replay of the synthesis graph
(:meth:`~encryptface.models.stylegan.StyleGAN.differentiable`):

- only the coarse and fine styles move, along the bank's first :data:`DIRECTIONS` principal
  directions of w (free offsets in all 512 wrecked 6 of 20 renders in #32's feasibility run), one
  offset per group of layers;
- the loss is the blurred L1 gap to the photo (warped into the render's frame) over the blend's
  outer band, plus the gap to the first render over the inner face (brows to chin: the synthetic
  person's identity, kept), plus a pull towards no offset;
- computed at :data:`FIT_SIZE` px: only the low frequencies are fitted, not the photo's texture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from encryptface.models.stylegan import LAYERS, RENDER_SIZE, STYLE_DIM, StyleGAN, low_band_pixels

if TYPE_CHECKING:   # imported where a fit runs
    import torch

FIT_SIZE = 128           # the loss's resolution (px)
BLUR = 2.0               # its blur (px at FIT_SIZE): only the photo's low frequencies are fitted
DIRECTIONS = 32          # principal directions of w the offsets move along
BANK = 4096              # seeded codes the directions are computed from
LEARNING_RATE = 0.15     # Adam's step, in bank spreads along a direction
ANCHOR = 1.0             # weight of the inner face's gap to the first render
PRIOR = 0.02             # weight of the offsets' squared size (bank spreads)


def _gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    import torch
    from torch.nn import functional

    radius = int(3 * sigma + 0.5)
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / sigma) ** 2)
    taps = taps / taps.sum()
    channels = image.shape[1]
    rows = taps.reshape(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    image = functional.conv2d(functional.pad(image, (0, 0, radius, radius), mode="replicate"), rows,
                              groups=channels)
    return functional.conv2d(functional.pad(image, (radius, radius, 0, 0), mode="replicate"),
                             rows.transpose(2, 3), groups=channels)


def _to_fit_size(image: np.ndarray) -> torch.Tensor:
    """(H, W[, C]) at the render's size -> (1, C, FIT_SIZE, FIT_SIZE) float tensor."""
    import torch
    from torch.nn import functional

    array = np.asarray(image, np.float32)
    if array.ndim == 2:
        array = array[:, :, None]
    tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]
    return functional.avg_pool2d(tensor, RENDER_SIZE // FIT_SIZE)


def principal_directions(network: StyleGAN, count: int = DIRECTIONS,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``count`` principal directions of w over :data:`BANK` seeded codes: orthonormal
    axes (count, 512), the mean w (512,) and the spreads along the axes (count,)."""
    styles = network.seeded_styles(BANK, seed).astype(np.float64)
    centre = styles.mean(0)
    _, singular, axes = np.linalg.svd(styles - centre, full_matrices=False)
    return axes[:count], centre, singular[:count] / np.sqrt(BANK)


class PhotoFit:
    """Per-face fit of chosen layers' styles of a render to a photo (see the module docstring)."""

    def __init__(self, network: StyleGAN, steps: int) -> None:
        import torch

        self.steps = steps
        self.graph, learned_input = network.differentiable()
        self.learned_input = torch.from_numpy(learned_input)
        axes, _, spreads = principal_directions(network)
        # each row one bank spread long: a coefficient of 1 moves a style one spread along it
        self.directions = torch.from_numpy((axes * spreads[:, None]).astype(np.float32))

    def render(self, layer_styles: torch.Tensor) -> torch.Tensor:
        """(LAYERS, 512) styles -> (1, 3, FIT_SIZE, FIT_SIZE) pixels in [0, 255] (differentiable)."""
        from torch.nn import functional

        low_band = self.graph(layer_styles[None], self.learned_input)
        return functional.avg_pool2d(low_band_pixels(low_band), RENDER_SIZE // FIT_SIZE)

    def offsets(self, layer_styles: np.ndarray, groups: list[slice], target: np.ndarray,
                band: np.ndarray, inner: np.ndarray) -> np.ndarray:
        """``layer_styles`` (LAYERS, 512) with one offset per group of rows (``groups``) fitted so
        that the render matches ``target`` (the photo in the render's frame, RENDER_SIZE px, RGB)
        where ``band`` weighs (RENDER_SIZE px, [0, 1]) and stays the first render where ``inner``
        does: the fitted offsets, one (512,) row per group."""
        import torch

        base = torch.from_numpy(np.asarray(layer_styles, np.float32))
        if base.shape != (LAYERS, STYLE_DIM):
            raise ValueError(f"expected ({LAYERS}, {STYLE_DIM}) styles, got {tuple(base.shape)}")
        wanted = _gaussian_blur(_to_fit_size(target), BLUR)
        band_weight, inner_weight = _to_fit_size(band), _to_fit_size(inner)
        band_weight = band_weight / band_weight.sum().clamp(min=1e-6)
        inner_weight = inner_weight / inner_weight.sum().clamp(min=1e-6)
        coefficients = torch.zeros(len(groups), DIRECTIONS, requires_grad=True)
        optimiser = torch.optim.Adam([coefficients], lr=LEARNING_RATE)
        with torch.no_grad():
            first = self.render(base)

        def styles_of(values: torch.Tensor) -> torch.Tensor:
            offsets = values @ self.directions
            rows = torch.zeros_like(base)
            for group, layers in enumerate(groups):
                rows[layers] = offsets[group]
            return base + rows

        for _ in range(self.steps):
            optimiser.zero_grad()
            image = self.render(styles_of(coefficients))
            loss = ((band_weight * (_gaussian_blur(image, BLUR) - wanted).abs()).sum()
                    + ANCHOR * (inner_weight * (image - first).abs()).sum()
                    + PRIOR * coefficients.pow(2).sum())
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            return (coefficients @ self.directions).numpy().astype(np.float32)

