"""Make the protected region contain the whole detected face.

Modes protect the aligned crop of a face's five landmarks, pasted back through the aligner's
feathered mask. When the landmarks are guesses (a face mask hides nose and mouth, a hand covers
them, a profile), that mask can leave part of the detected box out. :func:`covering_face` checks
what share of the box the mask would cover and, when it falls short, replaces the landmarks by the
template placed on the box (the eyes' roll kept, the scale set so the box fits inside the mask):
the face's record stores those landmarks, so restoring uses the same region. Detectors' boxes of
masked faces often stop above the chin, so the box is grown by ``detection.cover_margin`` first.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from encryptface.faces.alignment import Aligner, Region, similarity_transform
from encryptface.faces.detection import Face

# Share of the box's pixels that must lie where the paste mask is at least MASK_LEVEL.
COVER_SHARE = 0.97
# Below this share of the detector's own box the landmarks are plainly guesses (measured with
# scrfd_500m: 0 of 122 LFW faces and 1 of 455 facebench faces fall below it; 3 % and 17 % below
# COVER_SHARE). Modes whose output needs the face's own alignment refit only then.
GUESSED_SHARE = 0.9
MASK_LEVEL = 0.5
# The box's corners go this far out from the mask centre, as a share of its MASK_LEVEL ellipse.
CORNER_RADIUS = 0.9
_GRID = 16
# A pixel counts as changed when a channel differs by more than this many levels (the coverage
# measure of ``evaluate`` and the stand-in check of ``encrypt`` agree on it).
CHANGE_LEVELS = 2


def _box_points(bbox: tuple[float, float, float, float]) -> np.ndarray:
    x, y, w, h = bbox
    steps = (np.arange(_GRID) + 0.5) / _GRID
    gx, gy = np.meshgrid(x + steps * w, y + steps * h)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def mask_share(aligner: Aligner, landmarks: np.ndarray, bbox: tuple[float, float, float, float]) -> float:
    """The share of ``bbox`` (x, y, w, h) where the paste mask of the crop aligned on
    ``landmarks`` reaches :data:`MASK_LEVEL`."""
    matrix = similarity_transform(np.asarray(landmarks, np.float64), aligner.template)
    points = _box_points(bbox) @ matrix[:, :2].T + matrix[:, 2]
    cols, rows = np.round(points[:, 0]).astype(int), np.round(points[:, 1]).astype(int)
    inside = (cols >= 0) & (cols < aligner.size) & (rows >= 0) & (rows < aligner.size)
    alpha = np.zeros(len(points), np.float32)
    alpha[inside] = aligner.mask[rows[inside], cols[inside]]
    return float((alpha >= MASK_LEVEL).mean())


def _mask_ellipse(aligner: Aligner) -> tuple[np.ndarray, float, float]:
    """Centre (x, y) and half axes of the region where the paste mask reaches MASK_LEVEL."""
    strong = aligner.mask >= MASK_LEVEL
    rows, cols = np.nonzero(strong)
    centre = np.array([(cols.min() + cols.max() + 1) / 2, (rows.min() + rows.max() + 1) / 2])
    return centre, (cols.max() + 1 - cols.min()) / 2, (rows.max() + 1 - rows.min()) / 2


def cover_box(bbox: tuple[float, float, float, float], margin: tuple[float, ...]
              ) -> tuple[float, float, float, float]:
    """``bbox`` (x, y, w, h) grown by ``margin``: shares of its width (left, right) and height
    (top, bottom)."""
    x, y, w, h = bbox
    left, top, right, bottom = margin
    return x - left * w, y - top * h, w * (1 + left + right), h * (1 + top + bottom)


def covering_face(face: Face, aligner: Aligner, margin: tuple[float, ...] = (0, 0, 0, 0),
                  share: float = COVER_SHARE) -> Face:
    """``face`` as it is when its aligned paste mask covers ``share`` of its box grown by
    ``margin`` (:func:`cover_box`); else with landmarks refitted so that the mask covers
    :data:`COVER_SHARE` of it (and ``found_by`` saying so)."""
    box = cover_box(face.bbox, margin)
    if mask_share(aligner, face.landmarks, box) >= share:
        return face
    x, y, w, h = box
    eyes = face.landmarks[1] - face.landmarks[0]
    angle = float(np.arctan2(eyes[1], eyes[0]))   # the roll, read from the eyes (seen on masked faces)
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    centre, half_w, half_h = _mask_ellipse(aligner)
    corners = np.array([[-w, -h], [w, -h], [-w, h], [w, h]]) / 2 @ rotation.T
    scale = CORNER_RADIUS / np.sqrt((corners[:, 0] / half_w) ** 2 + (corners[:, 1] / half_h) ** 2).max()
    # source -> crop: rotate, scale, and put the box's centre on the mask's
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = centre - matrix[:, :2] @ np.array([x + w / 2, y + h / 2])
    inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    landmarks = aligner.template @ inverse[:, :2].T + inverse[:, 2]
    note = "landmarks fitted to the box"
    return dataclasses.replace(face, landmarks=landmarks.astype(np.float32),
                               found_by=f"{face.found_by}, {note}" if face.found_by else note)


def changed_pixels(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Boolean (H, W): where some channel of ``after`` differs from ``before`` by more than
    :data:`CHANGE_LEVELS`."""
    return np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2) > CHANGE_LEVELS


def pixel_region(x0: float, y0: float, x1: float, y1: float, shape: tuple[int, ...]) -> Region | None:
    """The whole pixels of ``[x0, x1) x [y0, y1)`` inside an image of ``shape`` (None: none)."""
    height, width = shape[:2]
    return Region(0, 0, width, height).intersection(
        Region(int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1))))


def box_changed_share(before: np.ndarray, region: Region, pixels: np.ndarray,
                      bbox: tuple[float, float, float, float]) -> float:
    """The share of ``bbox`` (x, y, w, h, clipped to the photo ``before``) changed when ``region``
    of ``before`` is replaced by ``pixels``."""
    x, y, w, h = bbox
    box = pixel_region(x, y, x + w, y + h, before.shape)
    inside = None if box is None else region.intersection(box)
    if inside is None:
        return 0.0
    changed = changed_pixels(before[inside.slices], pixels[inside.y0 - region.y0:inside.y1 - region.y0,
                                                           inside.x0 - region.x0:inside.x1 - region.x0])
    return float(changed.sum()) / ((box.x1 - box.x0) * (box.y1 - box.y0))
