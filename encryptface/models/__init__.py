"""Face generators and the networks they are built from; :func:`load_generator` picks one."""

from __future__ import annotations

from encryptface.config import resolve_weight
from encryptface.models.base import LatentGenerator

DIFFUSERS_PREFIX = "diffusers:"  # encrypt.prior_model = "diffusers:<local dir>"


def load_generator(model: str, backend: str = "openvino", threads: int = 0,
                   performance_hint: str = "LATENCY", precision: str = "f32") -> LatentGenerator:
    """The generator of the prior's interface named by ``encrypt.prior_model``: a model directory
    (relative: inside the package's weights), or ``diffusers:<local dir>`` for a diffusers UNet +
    DDIM scheduler. ``threads``: the OpenVINO inference threads (0: all cores)."""
    if model.startswith(DIFFUSERS_PREFIX):
        from encryptface.models.diffusers_generator import DiffusersGenerator  # imports diffusers

        return DiffusersGenerator(model[len(DIFFUSERS_PREFIX):])
    from encryptface.models.prior_generator import PriorGenerator  # imports torch and OpenVINO

    return PriorGenerator(resolve_weight(model), backend, threads, performance_hint, precision)


__all__ = ["DIFFUSERS_PREFIX", "LatentGenerator", "load_generator"]
