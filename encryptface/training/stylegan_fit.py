"""Fit what the stylegan generator needs beyond the shipped IR, from a rendered style bank.

- an **encoder** from an aligned face crop to a style w (PCA of the downscaled crop, then ridge
  regression), trained on synthetic (w, crop) pairs aligned exactly as real photos are: it reads the
  photo's pose, light, hair and colouring -- never precisely enough to reproduce the person;
- a **pose model**: the face's landmarks in the aligned crop (yaw, pitch, expression are what is
  left after the similarity alignment) as a linear function of w, so that a style can be edited to
  put the landmarks where the photo has them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging

import cv2
import numpy as np

from encryptface.alignment import AlignedFace, Aligner, similarity_transform
from encryptface.detection import Face
from encryptface.recognition import FaceRecognizer

log = logging.getLogger(__name__)
FEATURE_SIDE = 32
DESCRIPTOR_MARGIN = 0.15  # box around the landmarks for the descriptor, in crop sides


def crop_features(crops: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) uint8 aligned crops -> (N, F) float32 features (downscaled RGB in [0, 1])."""
    small = [cv2.resize(c, (FEATURE_SIDE, FEATURE_SIDE), interpolation=cv2.INTER_AREA) for c in crops]
    return np.stack(small).reshape(len(crops), -1).astype(np.float32) / 255.0


def crop_descriptor(recognizer: FaceRecognizer, crop: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A recogniser's embedding of the face in an aligned crop whose landmarks (5x2, crop pixels)
    are ``points``, with a box made from the landmarks: computed the same way for renders and photos."""
    x0, y0 = points.min(0) - DESCRIPTOR_MARGIN * crop.shape[0]
    x1, y1 = points.max(0) + DESCRIPTOR_MARGIN * crop.shape[0]
    face = Face((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), points.astype(np.float32), 1.0)
    return np.asarray(recognizer.embed(crop, face), np.float32)


def crop_landmarks(aligner: Aligner, landmarks: np.ndarray) -> np.ndarray:
    """(N, 5, 2) landmarks in their photos -> (N, 10) landmarks in the aligned crop frame, in units
    of the crop side (what is left after the similarity alignment: pose and expression)."""
    rows = []
    for points in landmarks:
        matrix = similarity_transform(np.asarray(points, np.float64), aligner.template)
        rows.append((points @ matrix[:, :2].T + matrix[:, 2]).ravel() / aligner.size)
    return np.asarray(rows, np.float32)


def aligned_landmarks(aligned: AlignedFace, landmarks: np.ndarray, size: int) -> np.ndarray:
    """(10,) landmarks of one face in its aligned crop, in units of the crop side."""
    points = np.asarray(landmarks, np.float64)
    return ((points @ aligned.matrix[:, :2].T + aligned.matrix[:, 2]).ravel() / size).astype(np.float32)


def ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(weights, bias) minimising |x W + b - y|^2 + alpha |W|^2."""
    x_mean, y_mean = x.mean(0), y.mean(0)
    xc = x - x_mean
    weights = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (y - y_mean))
    return weights.astype(np.float32), (y_mean - x_mean @ weights).astype(np.float32)


@dataclasses.dataclass
class StyleFit:
    """The fitted arrays (saved as one ``.npz``)."""

    mean_style: np.ndarray       # (512,)
    feature_mean: np.ndarray     # (F,)
    feature_basis: np.ndarray    # (K, F) PCA rows
    code_mean: np.ndarray        # (K + D,) standardisation of [PCA coordinates, descriptor]
    code_scale: np.ndarray       # (K + D,)
    encoder_weights: np.ndarray  # (K + D, 512)
    encoder_bias: np.ndarray     # (512,)
    pose_weights: np.ndarray     # (512, 10): w -> landmarks in the aligned crop
    pose_bias: np.ndarray        # (10,)
    attribute_basis: np.ndarray  # (A, 512): the directions of w the encoder reads best from photos

    def codes(self, crops: np.ndarray, descriptors: np.ndarray) -> np.ndarray:
        """Standardised encoder inputs (N, K + D): PCA of the downscaled crop and a dlib descriptor
        (a recogniser's embedding reads sex, age and build far better than pixels do)."""
        coded = (crop_features(crops) - self.feature_mean) @ self.feature_basis.T
        return (np.hstack([coded, descriptors]) - self.code_mean) / self.code_scale

    def encode(self, crops: np.ndarray, descriptors: np.ndarray) -> np.ndarray:
        """Aligned crops and their descriptors -> styles (N, 512)."""
        return self.codes(crops, descriptors) @ self.encoder_weights + self.encoder_bias

    def attributes(self, styles: np.ndarray) -> np.ndarray:
        """Styles (N, 512) -> coordinates (N, A) along :attr:`attribute_basis`."""
        return (styles - self.mean_style) @ self.attribute_basis.T

    def pose(self, styles: np.ndarray) -> np.ndarray:
        """Styles (N, 512) -> predicted aligned landmarks (N, 10)."""
        return styles @ self.pose_weights + self.pose_bias

    def match_pose(self, style: np.ndarray, target: np.ndarray, strength: float = 1.0,
                   damping: float = 1e-3) -> np.ndarray:
        """The smallest (damped least-squares) edit of ``style`` whose predicted landmarks are
        ``target`` (10,)."""
        error = target - self.pose(style[None])[0]
        jacobian = self.pose_weights.T  # (10, 512)
        step = jacobian.T @ np.linalg.solve(jacobian @ jacobian.T + damping * np.eye(len(error)), error)
        return (style + strength * step).astype(np.float32)

    def fingerprint(self) -> str:
        """A short digest of the fitted numbers: records name the exact fit that made them."""
        digest = hashlib.sha256()
        for field in dataclasses.fields(self):
            digest.update(np.ascontiguousarray(getattr(self, field.name), np.float32).tobytes())
        return digest.hexdigest()[:10]

    def save(self, path: object) -> None:
        np.savez(path, **dataclasses.asdict(self))

    @classmethod
    def load(cls, path: object) -> StyleFit:
        with np.load(path) as data:
            return cls(**{f.name: data[f.name].astype(np.float32) for f in dataclasses.fields(cls)})


def fit_styles(bank: dict[str, np.ndarray], aligner: Aligner, components: int, encoder_alpha: float,
               pose_alpha: float, attributes: int) -> tuple[StyleFit, dict]:
    """Fit the encoder and the pose model on a bank (last 10 % held out for the reported numbers,
    then refitted on everything)."""
    features, styles, descriptors = crop_features(bank["crops"]), bank["w"], bank["descriptor"]
    landmarks = crop_landmarks(aligner, bank["landmarks"])
    held = max(1, len(styles) // 10)
    metrics = {}
    for final in (False, True):
        train = slice(None) if final else slice(None, -held)
        feature_mean = features[train].mean(0)
        _, _, vt = np.linalg.svd(features[train] - feature_mean, full_matrices=False)
        basis = vt[:components]
        coded = np.hstack([(features - feature_mean) @ basis.T, descriptors])
        code_mean, code_scale = coded[train].mean(0), coded[train].std(0) + 1e-6
        coded = (coded - code_mean) / code_scale
        enc_w, enc_b = ridge(coded[train], styles[train], encoder_alpha)
        pose_w, pose_b = ridge(styles[train], landmarks[train], pose_alpha)
        predicted = coded[train] @ enc_w + enc_b
        # Compare people only where the photo says something: the principal directions of the
        # encoder's predictions (sex, age, colouring, pose), not the 512-d norm, which would
        # always pick the most average candidate.
        _, _, directions = np.linalg.svd(predicted - predicted.mean(0), full_matrices=False)
        fit = StyleFit(bank["mean_style"].astype(np.float32), feature_mean.astype(np.float32),
                       basis.astype(np.float32), code_mean.astype(np.float32),
                       code_scale.astype(np.float32), enc_w, enc_b, pose_w, pose_b,
                       directions[:attributes].astype(np.float32))
        if not final:
            test = slice(-held, None)
            metrics = {"encoder_r2_held_out": _r2(styles[test], fit.encode(bank["crops"][test],
                                                                         descriptors[test])),
                       "pose_r2_held_out": _r2(landmarks[test], fit.pose(styles[test])),
                       "pose_error_held_out_crop_fraction": float(np.abs(
                           landmarks[test] - fit.pose(styles[test])).mean()),
                       "samples": int(len(styles))}
    log.info("style fit: %s", metrics)
    return fit, metrics


def _r2(truth: np.ndarray, predicted: np.ndarray) -> float:
    residual = ((truth - predicted) ** 2).sum()
    return round(float(1.0 - residual / ((truth - truth.mean(0)) ** 2).sum()), 4)
