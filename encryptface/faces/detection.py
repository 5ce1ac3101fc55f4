"""Face detection at every scale a photo needs, returning boxes and 5 landmarks in source pixels.

A photo is searched in passes, coarse to fine (:func:`plan_passes`): the whole photo at most
``max_side`` pixels on its longer side (large faces), then twice as fine each pass up to
``upscale`` times the native resolution (small faces). Each pass is cut into tiles of at most
``max_side`` pixels that overlap by ``tile_overlap`` pixels; a tile keeps the detections whose
centre lies in its own share of the overlap, so a face near a seam is counted once. Every network
of ``detectors`` runs on every tile; the detections of all passes are merged by box voting
(:func:`merge`). Each :class:`Face` says how it was found (network, scale, tile, score), and
whether it scored above ``score_threshold`` (confident) or only above ``uncertain_threshold``
(``large_face_threshold`` for faces at least ``large_face`` px wide, where the landmark network
sees a face too: a large face left out is the worst miss).
With ``landmarks`` naming a network, each face's five landmarks come from that network run on a
crop around the face (the generators and the stylegan pose model were fitted on YuNet-n's).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from encryptface.config import DetectionSettings
from encryptface.faces.detectors import ROW, load_network

# detection.landmarks: a crop twice the face's size, at native resolution unless the face is
# outside LANDMARK_SIDES px (then resized into it); the landmark network's face there must overlap
# the found box by LANDMARK_IOU (it is the same face) and may score low (it is already found).
LANDMARK_SIDES = (32, 256)
LANDMARK_IOU = 0.5
LANDMARK_SCORE = 0.3


@dataclasses.dataclass(frozen=True)
class Face:
    """One detected face. ``landmarks`` is 5x2: eyes, nose tip, mouth corners (image left first)."""

    bbox: tuple[float, float, float, float]  # x, y, w, h
    landmarks: np.ndarray
    score: float
    # how it was found, e.g. "scrfd_500m x2 tile 3" ("" for a face given by a record)
    found_by: str = ""
    # False: scored between detection.uncertain_threshold and detection.score_threshold
    confident: bool = True


@dataclasses.dataclass(frozen=True)
class Pass:
    """One detection pass: the photo resized by ``scale``, cut into ``tiles`` (x0, y0, x1, y1 in
    the resized photo)."""

    scale: float
    size: tuple[int, int]  # width, height of the resized photo
    tiles: list[tuple[int, int, int, int]]


def tile_grid(width: int, height: int, side: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Tiles of at most ``side`` pixels covering ``width`` x ``height``, neighbours overlapping by
    at least ``overlap`` pixels (evenly spread)."""
    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        count = int(np.ceil((length - overlap) / (side - overlap)))
        return [round(i * (length - side) / (count - 1)) for i in range(count)]
    return [(x, y, min(width, x + side), min(height, y + side))
            for y in starts(height) for x in starts(width)]


def plan_passes(width: int, height: int, settings: DetectionSettings) -> list[Pass]:
    """The passes for a ``width`` x ``height`` photo, coarse to fine: the whole photo within
    ``max_side`` (never enlarged), then passes twice as fine each, the finest at ``upscale`` x
    native (native for photos over ``upscale_max_megapixels``)."""
    coarse = min(1.0, settings.max_side / max(width, height))
    finest = settings.upscale if width * height <= settings.upscale_max_megapixels * 1e6 else 1.0
    scales = [coarse]
    scale = finest
    while scale > coarse * 1.5:   # a pass less than 1.5x finer than the next adds little
        scales.insert(1, scale)
        scale /= 2
    passes = []
    for scale in scales:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        passes.append(Pass(scale, size, tile_grid(*size, settings.max_side, settings.tile_overlap)))
    return passes


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``(x, y, w, h)`` box with each row of ``boxes``."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y1 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / np.maximum(box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter, 1e-9)


def best_overlap(box: np.ndarray, boxes: np.ndarray, minimum: float) -> int | None:
    """The row of ``boxes`` (x, y, w, h) that overlaps ``box`` most, if its IoU reaches ``minimum``:
    the same face found again."""
    if not len(boxes):
        return None
    overlaps = box_iou(np.asarray(box, np.float64), np.asarray(boxes, np.float64))
    best = int(np.argmax(overlaps))
    return best if overlaps[best] >= minimum else None


def merge(rows: np.ndarray, iou: float) -> list[tuple[np.ndarray, int]]:
    """Box voting over detections of several passes (rows as :data:`ROW`, in source pixels):
    the best-scoring detection and every other overlapping it by ``iou`` or more form one face,
    whose box and landmarks are their score-weighted mean and whose score is the best. Returns
    (merged row, index of the best row) per face, best first."""
    order = np.argsort(-rows[:, 14], kind="stable")
    left = np.ones(len(rows), bool)
    merged = []
    for best in order:
        if not left[best]:
            continue
        overlaps = box_iou(rows[best, :4], rows[:, :4])
        members = np.flatnonzero(left & (overlaps >= iou))
        left[members] = False
        weights = rows[members, 14] * overlaps[members]
        row = rows[best].copy()
        row[:14] = (rows[members, :14] * weights[:, None]).sum(axis=0) / weights.sum()
        merged.append((row, int(best)))
    return merged


class FaceDetector:
    """Multi-scale, tiled face detection with one or more networks (see the module docstring)."""

    def __init__(self, settings: DetectionSettings, threads: int = 0) -> None:
        self.settings = settings
        self.networks = [load_network(name, settings.nms_threshold, threads)
                         for name in settings.detectors]
        self.landmark_network = None if settings.landmarks == "same" else \
            load_network(settings.landmarks, settings.nms_threshold, threads)
        extra = [self.landmark_network] if self.landmark_network else []
        self.model_id = ",".join(dict.fromkeys(n.model_id for n in self.networks + extra))

    def detect(self, rgb: np.ndarray, uncertain: bool = False) -> list[Face]:
        """The faces of an RGB uint8 photo, largest first: the confident ones, and with
        ``uncertain`` also those between ``uncertain_threshold`` and ``score_threshold``."""
        settings = self.settings
        floor = lowest_threshold(settings) if uncertain else settings.score_threshold
        rows, sources = self.passes(rgb, floor)
        faces = self.faces(rows, sources, uncertain)
        if self.landmark_network is not None:
            faces = [found for found in (self._landmarks(rgb, face) for face in faces) if found]
        return faces

    def _landmarks(self, rgb: np.ndarray, face: Face) -> Face | None:
        """``face`` with the landmarks ``detection.landmarks`` finds on a crop around it (the
        network the generators' alignment was fitted with), where it finds the same face. A face
        kept only by the large-face band (scoring under ``uncertain_threshold``) must be seen there
        by that network too, scoring at least ``large_face_confirm``: None where it is not (a
        second opinion against clothes, hair and backgrounds)."""
        x, y, w, h = face.bbox
        side = 2.0 * max(w, h)
        height, width = rgb.shape[:2]
        x0, y0 = max(0, int(x + w / 2 - side / 2)), max(0, int(y + h / 2 - side / 2))
        x1, y1 = min(width, int(x + w / 2 + side / 2) + 1), min(height, int(y + h / 2 + side / 2) + 1)
        scale = float(np.clip(max(w, h), *LANDMARK_SIDES) / max(w, h))
        size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
        crop = rgb[y0:y1, x0:x1] if scale == 1 else cv2.resize(
            rgb[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        band = face.score < self.settings.uncertain_threshold
        floor = min(LANDMARK_SCORE, self.settings.large_face_confirm) if band else LANDMARK_SCORE
        found = self.landmark_network.detect(crop, floor)
        boxes = found[:, :4] / scale + np.array([x0, y0, 0, 0], np.float32)
        box = np.asarray(face.bbox, np.float32)
        name = self.landmark_network.name
        if band:
            seen = best_overlap(box, boxes, LANDMARK_IOU)
            if seen is None:
                return None
            face = dataclasses.replace(face, found_by=f"{face.found_by}, seen by {name} "
                                                      f"{found[seen, 14]:.2f}")
        strong = np.flatnonzero(found[:, 14] >= LANDMARK_SCORE)
        best = best_overlap(box, boxes[strong], LANDMARK_IOU)
        if best is None:
            return face
        landmarks = found[strong[best], 4:14].reshape(5, 2) / scale + np.array([x0, y0], np.float32)
        return dataclasses.replace(face, landmarks=landmarks.astype(np.float32),
                                   found_by=f"{face.found_by}, landmarks {name}")

    def passes(self, rgb: np.ndarray, floor: float) -> tuple[np.ndarray, list[str]]:
        """Every network's detections scoring at least ``floor`` in every pass and tile, before
        merging: rows as :data:`ROW` in source pixels, and how each was found."""
        height, width = rgb.shape[:2]
        settings = self.settings
        rows, sources = [np.zeros((0, ROW), np.float32)], []
        passes = plan_passes(width, height, settings)
        for pass_ in passes:
            resized = rgb if pass_.scale == 1.0 else cv2.resize(
                rgb, pass_.size, interpolation=cv2.INTER_AREA if pass_.scale < 1 else cv2.INTER_LINEAR)
            for index, tile in enumerate(pass_.tiles):
                x0, y0, x1, y1 = tile
                owned = self._owned(tile, pass_)
                for network in self.networks:
                    found = network.detect(resized[y0:y1, x0:x1], floor)
                    if not len(found):
                        continue
                    found = found.copy()
                    found[:, [0, 4, 6, 8, 10, 12]] += x0
                    found[:, [1, 5, 7, 9, 11, 13]] += y0
                    centre = found[:, :2] + found[:, 2:4] / 2
                    keep = ((centre[:, 0] >= owned[0]) & (centre[:, 0] < owned[2])
                            & (centre[:, 1] >= owned[1]) & (centre[:, 1] < owned[3]))
                    if pass_ is not passes[0]:
                        # a finer pass answers for the faces the coarser ones see too small; a
                        # face wider than the overlap could also be cut at a seam
                        keep &= found[:, 2] <= settings.tile_overlap
                    found = found[keep]
                    found[:, :14] /= pass_.scale
                    rows.append(found)
                    tile_name = f" tile {index}" if len(pass_.tiles) > 1 else ""
                    sources += [f"{network.name} x{pass_.scale:.3g}{tile_name}"] * len(found)
        return np.concatenate(rows), sources

    def faces(self, rows: np.ndarray, sources: list[str], uncertain: bool = True) -> list[Face]:
        """:meth:`passes`' detections as faces (:func:`merged_faces`)."""
        return merged_faces(rows, sources, self.settings, uncertain)

    @staticmethod
    def _owned(tile: tuple[int, int, int, int], pass_: Pass) -> tuple[float, float, float, float]:
        """The part of ``tile`` whose detections it keeps: up to the middle of each overlap with a
        neighbouring tile of the pass (the photo's own edges stay open)."""
        x0, y0, x1, y1 = tile
        lo_x, lo_y, hi_x, hi_y = -np.inf, -np.inf, np.inf, np.inf
        for other in pass_.tiles:
            ox0, oy0, ox1, oy1 = other
            if oy0 == y0 and ox0 < x0 < ox1:   # left neighbour in the same row
                lo_x = max(lo_x, (x0 + ox1) / 2)
            if oy0 == y0 and x0 < ox0 < x1:    # right neighbour
                hi_x = min(hi_x, (ox0 + x1) / 2)
            if ox0 == x0 and oy0 < y0 < oy1:   # neighbour above
                lo_y = max(lo_y, (y0 + oy1) / 2)
            if ox0 == x0 and y0 < oy0 < y1:    # neighbour below
                hi_y = min(hi_y, (oy0 + y1) / 2)
        return lo_x, lo_y, hi_x, hi_y


def lowest_threshold(settings: DetectionSettings) -> float:
    """The lowest score any face is kept at (the networks' floor when uncertain faces are asked
    for)."""
    return min(settings.uncertain_threshold, settings.large_face_threshold)


def face_threshold(width: float, settings: DetectionSettings, uncertain: bool = True) -> float:
    """The score a face ``width`` px wide must reach to be kept: ``score_threshold``, or with
    ``uncertain`` ``uncertain_threshold`` (``large_face_threshold`` from ``large_face`` px)."""
    if not uncertain:
        return settings.score_threshold
    if width >= settings.large_face:
        return min(settings.uncertain_threshold, settings.large_face_threshold)
    return settings.uncertain_threshold


def merged_faces(rows: np.ndarray, sources: list[str], settings: DetectionSettings,
                 uncertain: bool = True) -> list[Face]:
    """Detections (rows as :data:`ROW` in source pixels, and how each was found) merged into faces
    by box voting, largest first; faces narrower than ``min_face``, or scoring below their size's
    :func:`face_threshold`, left out."""
    faces = []
    for row, best in merge(rows, settings.merge_iou):
        if row[2] < settings.min_face or row[14] < face_threshold(row[2], settings, uncertain):
            continue
        faces.append(Face(bbox=tuple(float(v) for v in row[:4]),
                          # float32: exactly what the Parquet record stores and restore reads.
                          landmarks=row[4:14].reshape(5, 2).astype(np.float32),
                          score=float(row[14]), found_by=sources[best],
                          confident=bool(row[14] >= settings.score_threshold)))
    return sorted(faces, key=lambda f: -f.bbox[2] * f.bbox[3])


def nearest_centre(faces: list[Face], shape: tuple[int, ...]) -> Face | None:
    """The face whose landmarks are nearest the centre of a photo of ``shape`` (portrait datasets
    such as LFW centre their person), or None when there is no face."""
    centre = np.array([shape[1], shape[0]]) / 2
    return min(faces, key=lambda f: np.linalg.norm(f.landmarks.mean(axis=0) - centre)) if faces else None
