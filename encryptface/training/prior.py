"""Fitting the face prior: PCA by eigendecomposition of the latent covariance, then a coupling
flow trained by maximum likelihood on the leading whitened coefficients (early-stopped on the
identity-disjoint validation split)."""

from __future__ import annotations

import copy
import logging
import time

import numpy as np
import torch

from encryptface.config import PriorTrainingSettings
from encryptface.models.flow import CouplingFlow
from encryptface.models.prior import FacePrior

log = logging.getLogger(__name__)


def fit_pca(latents: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, components (D, K), scales (K,)) of flattened latents (N, D)."""
    data = latents.reshape(len(latents), -1).astype(np.float64)
    mean = data.mean(axis=0)
    centred = data - mean
    if len(data) < data.shape[1]:  # few samples (tests, small data): thin SVD is cheaper
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        eigenvalues, eigenvectors = singular ** 2 / len(data), vt.T
    else:
        eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / len(data))
    top = np.argsort(eigenvalues)[::-1][:components]
    return mean, eigenvectors[:, top], np.sqrt(np.maximum(eigenvalues[top], 1e-12))


def fit_prior(train: np.ndarray, validation: np.ndarray,
              settings: PriorTrainingSettings) -> tuple[FacePrior, dict[str, list[float]]]:
    """Fit the prior on train latents with the ``[prior_training]`` settings; returns it and the loss
    history (NLL per dim, nats)."""
    torch.manual_seed(settings.seed)
    started = time.perf_counter()
    mean, components, scales = fit_pca(train, settings.components)
    log.info("PCA of %d latents: %d components in %.1fs", len(train), settings.components,
             time.perf_counter() - started)

    def head(latents: np.ndarray) -> torch.Tensor:
        centred = latents.reshape(len(latents), -1) - mean
        return torch.from_numpy((centred @ components[:, :settings.flow_dim]
                                 / scales[:settings.flow_dim]).astype(np.float32))

    train_x, val_x = head(train), head(validation)
    flow = CouplingFlow(settings.flow_dim, settings.flow_layers, settings.flow_hidden, settings.seed)
    optimiser = torch.optim.Adam(flow.parameters(), lr=settings.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, settings.steps)
    generator = torch.Generator().manual_seed(settings.seed)
    history: dict[str, list[float]] = {"step": [], "train_nll": [], "val_nll": []}
    best, best_state = float("inf"), copy.deepcopy(flow.state_dict())
    for step in range(1, settings.steps + 1):
        batch = train_x[torch.randint(len(train_x), (settings.batch_size,), generator=generator)]
        loss = flow.negative_log_likelihood(batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == settings.steps:
            with torch.no_grad():
                val_loss = flow.negative_log_likelihood(val_x).item()
            history["step"].append(step)
            history["train_nll"].append(loss.item())
            history["val_nll"].append(val_loss)
            if val_loss < best:
                best, best_state = val_loss, copy.deepcopy(flow.state_dict())
            log.info("flow step %d/%d: train NLL %.4f, validation NLL %.4f (%.0fs)", step,
                     settings.steps, loss.item(), val_loss, time.perf_counter() - started)
    flow.load_state_dict(best_state)
    return FacePrior(mean, components, scales, flow), history
