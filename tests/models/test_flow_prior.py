import dataclasses

import numpy as np
import torch

from encryptface.models.flow import CouplingFlow
from encryptface.models.prior import FacePrior
from encryptface.training.prior import fit_prior


def test_flow_is_exactly_invertible_after_training():
    torch.manual_seed(0)
    # a skewed, correlated 2-D cloud repeated to 8 dims: not Gaussian
    base = torch.randn(2000, 8)
    data = torch.cat([base[:, :4], base[:, :4] ** 2 - 1 + 0.3 * base[:, 4:]], dim=1)
    flow = CouplingFlow(8, layers=4, hidden=32)
    before = flow.negative_log_likelihood(data).item()
    optimiser = torch.optim.Adam(flow.parameters(), lr=3e-3)
    for _ in range(300):
        loss = flow.negative_log_likelihood(data)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert flow.negative_log_likelihood(data).item() < before - 0.1
    with torch.no_grad():
        z, _ = flow(data)
        np.testing.assert_allclose(flow.inverse(z).numpy(), data.numpy(), atol=1e-4)


def test_prior_roundtrip_is_exact_and_survives_save_load(tmp_path, settings):
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((64, 256))
    latents = (rng.standard_normal((600, 64)) @ mixing).astype(np.float32)
    prior, history = fit_prior(latents[:500], latents[500:],
                               dataclasses.replace(settings.prior_training, components=32, flow_dim=8,
                                                   flow_layers=2, flow_hidden=16, steps=100, batch_size=64))
    assert history["val_nll"]
    z, residual = prior.to_gaussian(latents[500:])
    assert z.shape == (100, 32) and residual.shape == (100, 256)
    np.testing.assert_allclose(prior.from_gaussian(z, residual), latents[500:], atol=1e-3)
    # the residual is orthogonal to the keyed subspace
    assert np.abs(residual @ prior.components).max() < 1e-2 * np.abs(residual).max() * 16
    prior.save(tmp_path)
    loaded = FacePrior.load(tmp_path)
    np.testing.assert_allclose(loaded.to_gaussian(latents[500:])[0], z, atol=0.05)
    np.testing.assert_allclose(loaded.from_gaussian(*loaded.to_gaussian(latents[500:])), latents[500:],
                               atol=1e-3)
