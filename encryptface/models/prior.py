"""An exactly invertible face prior over autoencoder latents.

``x`` (a flattened latent) -> whitened PCA coefficients ``c = U^T (x - mean) / scale`` of the leading
K components; a normalizing flow Gaussianises the first F of them; the rest of ``x`` is kept as the
residual ``r = x - mean - U (scale * c)``, orthogonal to the keyed subspace. Then

    to_gaussian(x) = (z, r)        from_gaussian(z, r) = x   (exactly, up to float rounding)

and any ``z ~ N(0, I)`` with any residual decodes to a face.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from encryptface.models.flow import CouplingFlow

PRIOR_FILE = "prior.npz"
FLOW_FILE = "flow.pt"


class FacePrior:
    """PCA whitening of face latents plus a coupling flow over the leading coefficients."""

    def __init__(self, mean: np.ndarray, components: np.ndarray, scales: np.ndarray,
                 flow: CouplingFlow) -> None:
        self.mean = mean.astype(np.float32)
        self.components = components.astype(np.float32)  # (D, K), orthonormal columns
        self.scales = scales.astype(np.float32)          # (K,)
        self.flow = flow.eval()

    @property
    def latent_dim(self) -> int:
        return self.components.shape[1]

    @property
    def flow_dim(self) -> int:
        return self.flow.dim

    def to_gaussian(self, latents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flattened latents (N, D) -> (z (N, K), residual (N, D))."""
        centred = latents.reshape(len(latents), -1).astype(np.float32) - self.mean
        coefficients = centred @ self.components / self.scales
        residual = centred - (coefficients * self.scales) @ self.components.T
        with torch.no_grad():
            head, _ = self.flow(torch.from_numpy(coefficients[:, :self.flow_dim]))
        return np.concatenate([head.numpy(), coefficients[:, self.flow_dim:]], axis=1), residual

    def from_gaussian(self, z: np.ndarray, residual: np.ndarray) -> np.ndarray:
        """(z (N, K), residual (N, D)) -> flattened latents (N, D)."""
        z = z.astype(np.float32)
        with torch.no_grad():
            head = self.flow.inverse(torch.from_numpy(np.ascontiguousarray(z[:, :self.flow_dim])))
        coefficients = np.concatenate([head.numpy(), z[:, self.flow_dim:]], axis=1)
        return self.mean + (coefficients * self.scales) @ self.components.T + residual

    def outside_subspace(self, vectors: np.ndarray) -> np.ndarray:
        """The part of ``vectors`` (N, D) orthogonal to the keyed subspace."""
        vectors = vectors.astype(np.float32)
        return vectors - (vectors @ self.components) @ self.components.T

    def fingerprint(self) -> str:
        """Short digest of the prior's numbers as saved: two fits that differ at all (refitting
        need not reproduce a prior bit for bit) get different ids, so records made with one are
        never silently decoded with the other."""
        digest = hashlib.sha256()
        for array in (self.mean, self.components.astype(np.float16), self.scales):
            digest.update(np.ascontiguousarray(array).tobytes())
        for name, tensor in sorted(self.flow.state_dict().items()):
            digest.update(name.encode() + tensor.numpy().tobytes())
        return digest.hexdigest()[:8]

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # float16 components: exact invertibility does not depend on them, and the file halves.
        np.savez_compressed(directory / PRIOR_FILE, mean=self.mean,
                            components=self.components.astype(np.float16), scales=self.scales)
        torch.save({"state": self.flow.state_dict(),
                    "config": json.dumps({"dim": self.flow.dim, "layers": len(self.flow.couplings),
                                          "hidden": self.flow.couplings[0].net[0].out_features})},
                   directory / FLOW_FILE)

    @classmethod
    def load(cls, directory: str | Path) -> FacePrior:
        directory = Path(directory)
        with np.load(directory / PRIOR_FILE) as data:
            mean, components, scales = data["mean"], data["components"], data["scales"]
        saved = torch.load(directory / FLOW_FILE, map_location="cpu", weights_only=True)
        config = json.loads(saved["config"])
        flow = CouplingFlow(config["dim"], config["layers"], config["hidden"])
        flow.load_state_dict(saved["state"])
        return cls(mean, components, scales, flow)
