"""What the stylegan generator reads a photo with, fitted by ``encryptface train-stylegan``
(:mod:`encryptface.training.stylegan_fit`) and shipped as ``styles.npz``:

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
from typing import Self

import cv2
import numpy as np

from encryptface.faces.alignment import AlignedFace, Aligner, similarity_transform
from encryptface.faces.demographics import CLASSES, softmax, unit_rows
from encryptface.faces.detection import Face
from encryptface.faces.recognition import FaceRecognizer

FEATURE_SIDE = 32
DESCRIPTOR_MARGIN = 0.15  # box around the landmarks for the descriptor, in crop sides


def crop_features(crops: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) uint8 aligned crops -> (N, F) float32 features (downscaled RGB in [0, 1])."""
    small = [cv2.resize(c, (FEATURE_SIDE, FEATURE_SIDE), interpolation=cv2.INTER_AREA) for c in crops]
    return np.stack(small).reshape(len(crops), -1).astype(np.float32) / 255.0


def crop_descriptor(recognizer: FaceRecognizer, crop: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A recogniser's embedding of the face in an aligned crop whose landmarks (5x2, crop pixels)
    are ``points``, with a box made from the landmarks: computed the same way for renders and photos."""
    return np.asarray(recognizer.embed(crop, crop_face(crop, points)), np.float32)


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


def crop_face(crop: np.ndarray, points: np.ndarray) -> Face:
    """The face box the generator's readers use in an aligned crop: the landmarks' (5x2, crop
    pixels) bounds grown by :data:`DESCRIPTOR_MARGIN` of the crop side."""
    return landmark_face(points, DESCRIPTOR_MARGIN * crop.shape[0])


def landmark_face(points: np.ndarray, margin: float) -> Face:
    """A face whose box is its landmarks' (5x2) bounds grown by ``margin`` pixels."""
    x0, y0 = points.min(0) - margin
    x1, y1 = points.max(0) + margin
    return Face((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), points.astype(np.float32), 1.0)


def aligned_descriptor(recognizer: FaceRecognizer, aligned: AlignedFace, landmarks: np.ndarray) -> np.ndarray:
    """A recogniser's embedding (the generators use dlib's) of the face with ``landmarks`` (in its
    photo) in its aligned crop: how photos, renders and labelled faces are all read."""
    size = aligned.crop.shape[0]
    points = aligned_landmarks(aligned, landmarks, size).reshape(5, 2) * size
    return crop_descriptor(recognizer, aligned.crop, points)


def damped_step(weights: np.ndarray, error: np.ndarray, damping: float) -> np.ndarray:
    """The smallest (damped least-squares) change of a style (512,) that moves a linear model
    ``style @ weights`` (512, K) by ``error`` (K,)."""
    jacobian = weights.T
    return jacobian.T @ np.linalg.solve(jacobian @ jacobian.T + damping * np.eye(len(error)), error)


class SavedArrays:
    """A dataclass of float32 arrays saved as one ``.npz``."""

    def save(self, path: object) -> None:
        np.savez(path, **dataclasses.asdict(self))

    @classmethod
    def load(cls, path: object) -> Self:
        with np.load(path) as data:
            return cls(**{f.name: data[f.name].astype(np.float32) for f in dataclasses.fields(cls)})


@dataclasses.dataclass
class StyleFit(SavedArrays):
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
        step = damped_step(self.pose_weights, target - self.pose(style[None])[0], damping)
        return (style + strength * step).astype(np.float32)

    def fingerprint(self) -> str:
        """A short digest of the fitted numbers: records name the exact fit that made them."""
        digest = hashlib.sha256()
        for field in dataclasses.fields(self):
            digest.update(np.ascontiguousarray(getattr(self, field.name), np.float32).tobytes())
        return digest.hexdigest()[:10]


@dataclasses.dataclass(frozen=True)
class AppearanceMatch(SavedArrays):
    """What the key's person takes from the photo besides pose and light (shipped as
    ``appearance.npz``, fitted on the rendered bank): its *demographic coordinates*.

    The leading principal components of dlib descriptors of rendered faces are the directions in
    which faces differ most as groups: sex and age (the first), complexion and hair colour, child
    against adult, Black against white appearance (the fourth). Identity lives in the other ~120
    dimensions, which are left to the key. The coordinates (along those components, in units of
    the bank's spread) are predicted from a style w by a ridge regression, and the key's person
    is moved onto the photo's by the smallest edit of w. (The encoder's own attribute directions
    follow pose and light: matched along them, Black people got white faces and women men's.)"""

    descriptor_mean: np.ndarray   # (128,)
    descriptor_basis: np.ndarray  # (K, 128) leading principal directions of rendered descriptors
    scale: np.ndarray             # (K,) the bank's spread along each
    weights: np.ndarray           # (512, K): w -> coordinates
    bias: np.ndarray              # (K,)

    def coordinates(self, descriptors: np.ndarray) -> np.ndarray:
        """dlib descriptors (N, 128) -> coordinates (N, K)."""
        return (descriptors - self.descriptor_mean) @ self.descriptor_basis.T / self.scale

    def predict(self, styles: np.ndarray) -> np.ndarray:
        """Styles (N, 512) -> predicted coordinates (N, K)."""
        return styles @ self.weights + self.bias

    def move_to(self, style: np.ndarray, target: np.ndarray, damping: float = 1e-2) -> np.ndarray:
        """The smallest (damped least-squares) edit of ``style`` whose predicted coordinates are
        ``target``."""
        return (style + damped_step(self.weights, target - self.predict(style[None])[0], damping)
                ).astype(np.float32)


# How far past the eyewear cap a coordinate may read from rounding alone (float16 styles over 512
# dimensions: about 1e-2 at worst); the glasses group sits about 1 further along.
CAP_ROUNDING = 0.02


@dataclasses.dataclass(frozen=True)
class EyewearEdit(SavedArrays):
    """No glasses on a face that had none (shipped as ``eyewear.npz``, fitted with the styles): the
    key's person got them by chance (on 9 % of 134 tuning photos without any), most visibly as
    dark lenses on a bare face.

    ``direction`` is the unit direction of w from bare to bespectacled renders (their mean
    difference, orthogonal to the attribute directions); where the photo's face has no eyewear the
    key's person's coordinate along it is capped at ``cap`` (halfway between the two groups'
    means, untruncated). Glasses are not added where the photo has them: shared glasses made
    recognisers match the stand-in to the person (tuning, 150 people: matched 0-1 % -> 3-5 %).
    ``reference`` is the eyewear test's calibration (:mod:`encryptface.faces.eyewear`)."""

    direction: np.ndarray  # (512,)
    cap: np.ndarray        # (): the bare faces' limit along it
    reference: np.ndarray  # (2, 3)

    def coordinate(self, style: np.ndarray, mean_style: np.ndarray) -> float:
        """A style's coordinate along the direction."""
        return float((style - mean_style) @ self.direction)

    def without_glasses(self, style: np.ndarray, mean_style: np.ndarray) -> np.ndarray:
        """``style`` moved along the direction no further than ``cap`` (nothing else changes)."""
        current = self.coordinate(style, mean_style)
        return (style + (min(current, float(self.cap)) - current) * self.direction).astype(np.float32)

    def worn_by(self, style: np.ndarray, mean_style: np.ndarray) -> bool:
        """Whether a style's person is past the cap (likely to wear glasses) by more than
        :data:`CAP_ROUNDING`: a style capped exactly at it reads back a little over it in float32,
        more from the float16 a record stores, and is still bare."""
        return self.coordinate(style, mean_style) > float(self.cap) + CAP_ROUNDING


# Child or adult: matched by the stand-in choice only (the looked-at LFW labels have no children,
# so the judge does not read it); fitted on rendered people labelled by looking
# (``python -m benchmarks.fit_child_match``). About one synthetic person in eight is a child.
CHILD_CLASSES = ("adult", "child")
MATCHED_CLASSES = {**CLASSES, "child": CHILD_CLASSES}
# The order in which a photo's classes are kept when no candidate person has them all: appearance
# group first (a Black person given a white face was the failure people saw first), then child or
# adult (an adult given a child's face), then sex.
DEMOGRAPHIC_PRIORITY = ("group", "child", "sex", "age")
# A photo's face not clearly of these classes is matched as this one: the child reader of photos
# (fitted on renders) reads no LFW adult clearly as a child (0 of 300 tuning faces) but only 77 %
# clearly as adults, and one synthetic person in eight is a child.
PHOTO_DEFAULTS = {"child": CHILD_CLASSES.index("adult")}
# Attributes a face that does not read clearly of one class is matched on anyway, by its
# probabilities (``stylegan.unclear_group_tolerance``).
NEAR_WHEN_UNCLEAR = ("group",)
# What a face is matched on per attribute: a class, or (unclear) the class probabilities (K,).
Wanted = int | np.ndarray


@dataclasses.dataclass(frozen=True)
class DemographicMatch:
    """The key's synthetic person is of the photo's perceived sex, age range and appearance group
    (shipped as ``demographics.npz``; classes of :mod:`encryptface.faces.demographics`), and a
    child or an adult as the photo's face is (:data:`CHILD_CLASSES`, where the file has them).

    Two multinomial logistic regressions per attribute: one reads a photo's dlib descriptor
    (fitted on the looked-at LFW tuning faces), one reads a style w (fitted on the rendered bank,
    labelled by the first through each render's descriptor). Only the *class* is taken from the
    photo -- a few bits, not its place among faces: the person is the first of the key's
    candidates whose style is clearly of the photo's clear classes, in the key's own order, so
    every key still picks a different person and nothing continuous about the photo moves it
    (moving the person onto the photo's demographic coordinates made recognisers match the
    stand-in to the person: docs/modes/stylegan.md)."""

    photo: dict[str, tuple[np.ndarray, np.ndarray]]  # attribute -> (128 x K weights, K bias)
    style: dict[str, tuple[np.ndarray, np.ndarray]]  # attribute -> (512 x K weights, K bias)
    style_mean: np.ndarray   # (512,) standardisation of w
    style_scale: np.ndarray  # (512,)

    def save(self, path: object) -> None:
        arrays = {"style_mean": self.style_mean, "style_scale": self.style_scale}
        for reader in ("photo", "style"):
            for name, (weights, bias) in getattr(self, reader).items():
                arrays[f"{reader}_{name}_weights"], arrays[f"{reader}_{name}_bias"] = weights, bias
        np.savez(path, **{k: np.asarray(v, np.float32) for k, v in arrays.items()})

    @classmethod
    def load(cls, path: object) -> DemographicMatch:
        with np.load(path) as data:
            readers = {reader: {name: (data[f"{reader}_{name}_weights"], data[f"{reader}_{name}_bias"])
                                for name in MATCHED_CLASSES if f"{reader}_{name}_weights" in data}
                       for reader in ("photo", "style")}
            return cls(readers["photo"], readers["style"], data["style_mean"], data["style_scale"])

    def photo_probabilities(self, descriptors: np.ndarray) -> dict[str, np.ndarray]:
        """dlib descriptors (N, 128) -> per attribute, class probabilities (N, K)."""
        x = unit_rows(descriptors)
        return {name: softmax(x @ w + b) for name, (w, b) in self.photo.items()}

    def style_probabilities(self, styles: np.ndarray) -> dict[str, np.ndarray]:
        """Styles (N, 512) -> per attribute, class probabilities (N, K)."""
        x = (np.atleast_2d(np.asarray(styles, np.float64)) - self.style_mean) / self.style_scale
        return {name: softmax(x @ w + b) for name, (w, b) in self.style.items()}

    def photo_classes(self, descriptor: np.ndarray, certainty: float, child_certainty: float,
                      near_unclear: bool = False) -> dict[str, Wanted]:
        """The classes a photo's face (dlib descriptor (128,)) is matched on: those it reads with
        at least ``certainty`` (sex, age range, group), and a child where it reads one with at
        least ``child_certainty``, else adult (:data:`PHOTO_DEFAULTS`). With ``near_unclear``, an
        appearance group it does not read clearly is wanted as its probabilities (see
        :meth:`wanted_classes`)."""
        probabilities = self.photo_probabilities(np.asarray(descriptor)[None])
        defaults = {name: k for name, k in PHOTO_DEFAULTS.items() if name in probabilities}
        strict = {name: p for name, p in probabilities.items() if name in PHOTO_DEFAULTS}
        loose = {name: p for name, p in probabilities.items() if name not in PHOTO_DEFAULTS}
        return {**defaults, **self.clear_classes(strict, child_certainty),
                **self.wanted_classes(loose, certainty, near_unclear)}

    @staticmethod
    def clear_classes(probabilities: dict[str, np.ndarray], certainty: float) -> dict[str, int]:
        """Of one face's probabilities (per attribute, (1, K) or (K,)), the classes whose
        probability reaches ``certainty`` (unclear attributes are left unmatched)."""
        clear = {}
        for name, p in probabilities.items():
            p = np.ravel(p)
            if p.max() >= certainty:
                clear[name] = int(p.argmax())
        return clear

    @classmethod
    def wanted_classes(cls, probabilities: dict[str, np.ndarray], certainty: float,
                       near_unclear: bool) -> dict[str, Wanted]:
        """:meth:`clear_classes`; with ``near_unclear``, an attribute of :data:`NEAR_WHEN_UNCLEAR`
        that is not clear is wanted as its probabilities (K,) instead of left unmatched: a face
        read as, say, half dark-skinned and half East Asian is given a synthetic person read the
        same way (see :meth:`matching_order`), not anyone (mostly white people: 83 % of the bank)."""
        wanted: dict[str, Wanted] = dict(cls.clear_classes(probabilities, certainty))
        if near_unclear:
            for name in NEAR_WHEN_UNCLEAR:
                if name in probabilities and name not in wanted:
                    wanted[name] = np.ravel(probabilities[name]).astype(np.float32)
        return wanted

    def matching_order(self, styles: np.ndarray, wanted: dict[str, Wanted], certainty: float,
                       tolerance: float = 0.0) -> np.ndarray:
        """Indices of the candidate ``styles`` (N, 512) clearly of the ``wanted`` classes, in their
        (the key's) order; where a class is wanted as probabilities (an unclear photo), the
        styles whose probabilities are within ``tolerance`` of them (total variation distance).
        Where none has them all, the last attributes of :data:`DEMOGRAPHIC_PRIORITY` are let go
        one by one; where none has even the first, the one most likely of it (nearest it)."""
        if not wanted:
            return np.arange(len(styles))
        probabilities = self.style_probabilities(styles)
        kept = [name for name in DEMOGRAPHIC_PRIORITY if name in wanted and name in probabilities]
        fits = {}
        for name in kept:
            if np.ndim(wanted[name]) == 0:
                fits[name] = probabilities[name][:, wanted[name]] - certainty
            else:
                fits[name] = tolerance - 0.5 * np.abs(probabilities[name] - wanted[name]).sum(1)
        for count in range(len(kept), 0, -1):
            ok = np.ones(len(styles), bool)
            for name in kept[:count]:
                ok &= fits[name] >= 0
            if ok.any():
                return np.flatnonzero(ok)
        if not kept:
            return np.arange(len(styles))
        return np.array([int(np.argmax(fits[kept[0]]))])


@dataclasses.dataclass(frozen=True)
class StyleDirection(SavedArrays):
    """A unit ``direction`` of w fitted on the bank, with the bank's ``mean`` coordinate along it
    and its ``spread`` (standard deviation): a style is set to a level in spreads, or to another
    style's coordinate, and nothing else changes."""

    direction: np.ndarray  # (512,)
    mean: np.ndarray       # ()
    spread: np.ndarray     # ()

    def coordinate(self, style: np.ndarray) -> float:
        """A style's coordinate along the direction."""
        return float(np.asarray(style, np.float64) @ self.direction)

    def level_coordinate(self, level: float) -> float:
        """The coordinate ``level`` spreads from the bank's mean."""
        return float(self.mean) + level * float(self.spread)

    def set_level(self, style: np.ndarray, level: float) -> np.ndarray:
        """``style`` moved along the direction to ``level`` spreads from the mean."""
        step = self.level_coordinate(level) - self.coordinate(style)
        return (style + step * self.direction).astype(np.float32)

    def like(self, style: np.ndarray, other: np.ndarray) -> np.ndarray:
        """``style`` moved along the direction to ``other``'s coordinate."""
        return (style + (self.coordinate(other) - self.coordinate(style)) * self.direction).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class MouthEdit(StyleDirection):
    """The stand-in's mouth open where the photo's is, closed where it is closed (shipped as
    ``mouth.npz``, fitted on the bank): ``direction`` is the unit normal of a logistic regression
    from w to the mouth being open in the render (dlib's 68 points, :mod:`encryptface.faces.mouth`);
    setting a style's coordinate along it ``level`` bank spreads from the bank's mean opened the
    mouth of every one of 16 renders at +1.5 and closed all at -1.5 (the openness itself is no
    linear function of w: R^2 about 0.1). A photo's mouth is open where its openness, read the same
    way on its aligned crop, is above ``threshold``."""

    threshold: np.ndarray  # (): openness above which a mouth counts as open (photos and renders)


@dataclasses.dataclass(frozen=True)
class BeardEdit(StyleDirection):
    """A bearded stand-in for a bearded face (shipped as ``beard.npz``, fitted on the bank): a
    clean-shaven render blended down to the chin left the photo's beard below it, so bearded faces
    were sealed. ``direction`` is the unit direction of w from renders the beard reader
    (:mod:`encryptface.faces.readers`) reads clean-shaven (p < 0.2) to those it reads bearded
    (p >= 0.5): their mean difference, untruncated, orthogonal to the attribute directions (sex and
    age range stay as matched)."""
