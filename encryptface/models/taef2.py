"""The tiny autoencoder for FLUX.2's latent space (TAEF2, MIT, madebyollin/taesd), as torch modules
matching its published state dicts.

Image in [0, 1] RGB (N, 3, H, W) -> latent (N, 32, H/8, W/8) -> image. The deepest three blocks
of each side carry an extra per-pixel branch (1x1 conv -> GroupNorm(4) -> ReLU -> 1x1 conv) added
to the residual sum; GroupNorm's statistics over the whole feature map give those blocks global
context. The group count is not in the state dict: 4 groups reconstructs LFW faces at ~34 dB PSNR,
every other count tried (1, 2, 8, 16, 32, 64) at 26 dB or less.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

LATENT_CHANNELS = 32
DOWNSCALE = 8
_WIDTH = 64
_GLOBAL_WIDTH = 256
_GLOBAL_GROUPS = 4


def _conv(n_in: int, n_out: int, **kwargs: object) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class Block(nn.Module):
    """Three 3x3 convolutions with a residual connection, optionally plus the global branch."""

    def __init__(self, global_branch: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(_WIDTH, _WIDTH), nn.ReLU(), _conv(_WIDTH, _WIDTH), nn.ReLU(),
                                  _conv(_WIDTH, _WIDTH))
        self.pool = nn.Sequential(
            nn.Conv2d(_WIDTH, _GLOBAL_WIDTH, 1, bias=False), nn.GroupNorm(_GLOBAL_GROUPS, _GLOBAL_WIDTH),
            nn.ReLU(), nn.Conv2d(_GLOBAL_WIDTH, _WIDTH, 1, bias=False)) if global_branch else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x) + x
        if self.pool is not None:
            out = out + self.pool(x)
        return torch.relu(out)


class _Clamp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


def _stage(count: int, global_branch: bool = False) -> list[nn.Module]:
    return [Block(global_branch) for _ in range(count)]


class TinyEncoder(nn.Sequential):
    """RGB [0, 1] -> 32-channel latent at 1/8 resolution."""

    def __init__(self) -> None:
        def down() -> nn.Conv2d:
            return _conv(_WIDTH, _WIDTH, stride=2, bias=False)

        super().__init__(_conv(3, _WIDTH), Block(), down(), *_stage(3), down(), *_stage(3), down(),
                         *_stage(3, global_branch=True), _conv(_WIDTH, LATENT_CHANNELS))


class TinyDecoder(nn.Sequential):
    """32-channel latent -> RGB (about [0, 1]; clamp before use) at 8x resolution."""

    def __init__(self) -> None:
        def up() -> list[nn.Module]:
            return [nn.Upsample(scale_factor=2), _conv(_WIDTH, _WIDTH, bias=False)]

        super().__init__(_Clamp(), _conv(LATENT_CHANNELS, _WIDTH), nn.ReLU(),
                         *_stage(3, global_branch=True), *up(), *_stage(3), *up(), *_stage(3), *up(),
                         Block(), _conv(_WIDTH, 3))


def load_taef2(weights_dir: str | Path) -> tuple[TinyEncoder, TinyDecoder]:
    """Encoder and decoder with the weights ``taef2_encoder.pth`` / ``taef2_decoder.pth`` of
    ``weights_dir``, in float32 eval mode."""
    weights_dir = Path(weights_dir)
    modules = []
    for module, name in ((TinyEncoder(), "taef2_encoder.pth"), (TinyDecoder(), "taef2_decoder.pth")):
        state = torch.load(weights_dir / name, map_location="cpu", weights_only=True)
        module.load_state_dict({key: value.float() for key, value in state.items()})
        modules.append(module.eval())
    return modules[0], modules[1]
