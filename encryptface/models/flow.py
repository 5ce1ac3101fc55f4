"""A RealNVP-style normalizing flow: affine coupling layers, exactly invertible."""

from __future__ import annotations

import torch
from torch import nn


class AffineCoupling(nn.Module):
    """Transforms one half of the dimensions with a scale and shift computed from the other half."""

    def __init__(self, dim: int, hidden: int, flip: bool) -> None:
        super().__init__()
        self.half = dim // 2
        self.flip = flip
        kept, changed = (dim - self.half, self.half) if flip else (self.half, dim - self.half)
        self.net = nn.Sequential(nn.Linear(kept, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                                 nn.SiLU(), nn.Linear(hidden, 2 * changed))
        nn.init.zeros_(self.net[-1].weight)  # start as the identity map
        nn.init.zeros_(self.net[-1].bias)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = x[:, :self.half], x[:, self.half:]
        return (b, a) if self.flip else (a, b)

    def _join(self, kept: torch.Tensor, changed: torch.Tensor) -> torch.Tensor:
        return torch.cat((changed, kept) if self.flip else (kept, changed), dim=1)

    def _scale_shift(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_scale, shift = self.net(kept).chunk(2, dim=1)
        return 2.0 * torch.tanh(log_scale / 2.0), shift  # bounded scales keep the inverse stable

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kept, changed = self._split(x)
        log_scale, shift = self._scale_shift(kept)
        return self._join(kept, changed * torch.exp(log_scale) + shift), log_scale.sum(dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        kept, changed = self._split(y)
        log_scale, shift = self._scale_shift(kept)
        return self._join(kept, (changed - shift) * torch.exp(-log_scale))


class CouplingFlow(nn.Module):
    """Data -> N(0, I): a stack of affine couplings with a fixed dimension shuffle between them."""

    def __init__(self, dim: int, layers: int = 8, hidden: int = 256, seed: int = 0) -> None:
        super().__init__()
        self.dim = dim
        self.couplings = nn.ModuleList(AffineCoupling(dim, hidden, flip=i % 2 == 1) for i in range(layers))
        generator = torch.Generator().manual_seed(seed)
        orders = torch.stack([torch.randperm(dim, generator=generator) for _ in range(layers)])
        self.register_buffer("orders", orders)
        self.register_buffer("inverse_orders", torch.argsort(orders, dim=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``z`` and ``log |det dz/dx|`` per row."""
        log_det = torch.zeros(x.shape[0], dtype=x.dtype)
        for coupling, order in zip(self.couplings, self.orders):
            x, step = coupling(x[:, order])
            log_det = log_det + step
        return x, log_det

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        for coupling, inverse_order in zip(reversed(self.couplings), reversed(self.inverse_orders)):
            z = coupling.inverse(z)[:, inverse_order]
        return z

    def negative_log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """Mean NLL per dimension (nats) under a standard normal base: the training loss."""
        z, log_det = self(x)
        log_prob = -0.5 * (z ** 2).sum(dim=1) - 0.5 * self.dim * torch.log(torch.tensor(2 * torch.pi))
        return -(log_prob + log_det).mean() / self.dim
