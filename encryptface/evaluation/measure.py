"""Stage 1 of the evaluation, per face in a worker (stage 2 is :mod:`encryptface.evaluation.aggregate`).

:func:`measure_face`: embeddings by every recogniser of the original face, of ANOTHER photo of the
same person (the reference), of the protected face as a third party sees it (the scrubbed photo
published as JPEG, faces re-detected), of the face restored with the right password and with wrong
ones; image-quality and realism features; and what the judges held out from every generator fit say
about the original and the published face (:func:`judge_face`: sex, age range and appearance group
probabilities, mouth openness, 106 dense landmarks).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import PurePosixPath

import numpy as np

from encryptface.archive.schema import record_face
from encryptface.config import Settings
from encryptface.crypto.keys import DecryptionError, KeyRing
from encryptface.evaluation.attributes import AttributeJudge, judge_embedding
from encryptface.evaluation.expression import DenseLandmarks, landmark_error_iod, mouth_openness
from encryptface.evaluation.html import face_crop, thumbnail_jpeg
from encryptface.evaluation.realism import realism_features
from encryptface.faces.detection import Face, FaceDetector, nearest_centre
from encryptface.faces.recognition import FaceRecognizer, load_recognizer
from encryptface.imaging.codecs import decode_encoded, decode_image, jpeg_round_trip
from encryptface.imaging.metrics import iou, mean_colour_difference, psnr, sharpness, ssim
from encryptface.pipeline.restorer import Restorer

IDENTICAL_PSNR_DB = 99.0  # PSNR of identical pixels is infinite; JSON and means need a number


@dataclasses.dataclass
class FaceCase:
    """One evaluated face (photos RGB uint8)."""

    identity: str
    original: np.ndarray
    face: Face                          # detection in the original photo
    scrubbed: np.ndarray                # the de-identified photo as stored
    published: np.ndarray               # ... as a third party gets it (JPEG q90)
    published_face: Face | None         # the face they re-detect there (None: not found)
    reference: np.ndarray | None = None  # another photo of the same person, if there is one
    reference_face: Face | None = None
    restored: np.ndarray | None = None
    # restored from the published photo's pixels alone (at published_face, no stored latent), if
    # the mode can
    from_pixels: np.ndarray | None = None
    wrong: list[np.ndarray] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    # pixelated and sealed instead of the mode's own protection (an uncertain, masked, bearded or
    # too small face, or a generator fallback): no generator's realism to judge there
    sealed: bool = False


def is_sealed(record: dict) -> bool:
    """Whether a face record was pixelated and sealed (mode ``seal``, or a mode's seal fallback)
    rather than protected by the mode that scrubbed the photo."""
    return record["mode"] == "seal" or "fallback" in json.loads(record["metrics"] or "{}")


def redetect(detector: FaceDetector, rgb: np.ndarray, face: Face) -> Face | None:
    """The face a third party finds where ``face`` was (IoU > 0.3), or None."""
    found = [(iou(f.bbox, face.bbox), f) for f in detector.detect(rgb)]
    found = [item for item in found if item[0] > 0.3]
    return max(found, key=lambda item: item[0])[1] if found else None


def central_face(detector: FaceDetector, rgb: np.ndarray) -> Face | None:
    """The detected face nearest the photo centre (portrait datasets centre their person)."""
    return nearest_centre(detector.detect(rgb), rgb.shape)


def face_box(face: Face, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """Array slices of a face box clipped to a photo."""
    x, y, w, h = (int(round(v)) for v in face.bbox)
    return slice(max(y, 0), min(y + h, shape[0])), slice(max(x, 0), min(x + w, shape[1]))


# Half-side of the skin patch between the eyes and the mouth, in inter-ocular distances.
SKIN_PATCH = 0.25


def skin_patch(face: Face, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """Array slices of a square of skin centred between the eyes and the mouth of ``face``."""
    landmarks = np.asarray(face.landmarks, np.float64)
    centre = (landmarks[:2].mean(0) + landmarks[3:5].mean(0)) / 2
    half = max(1.0, SKIN_PATCH * float(np.linalg.norm(landmarks[1] - landmarks[0])))
    x0, y0 = np.floor(centre - half).astype(int)
    x1, y1 = np.ceil(centre + half).astype(int)
    return slice(max(y0, 0), min(y1, shape[0])), slice(max(x0, 0), min(x1, shape[1]))


@dataclasses.dataclass(frozen=True)
class Judges:
    """The judges of what a stand-in keeps (attributes, expression, geometry): models no generator
    reads faces with."""

    dense: DenseLandmarks
    attributes: AttributeJudge

    @classmethod
    def load(cls, threads: int = 0) -> Judges:
        """Both judges, loaded once (``threads``: the landmark network's inference threads)."""
        return cls(DenseLandmarks(threads), AttributeJudge())


def judge_face(judges: Judges, rgb: np.ndarray, face: Face) -> tuple[dict, np.ndarray]:
    """(attribute probabilities and mouth openness of a face, its 106 dense landmarks)."""
    points = judges.dense.points(rgb, face.bbox)
    embedding = judge_embedding(rgb, face.bbox, points)
    return {**judges.attributes.probabilities(embedding),
            "mouth_openness": round(mouth_openness(points), 4)}, points


def measure_judges(case: FaceCase, judges: Judges) -> dict:
    """The judges' view of the original and the published face (``None`` when the published face
    was not re-detected) and the dense landmarks' movement between them."""
    started = time.perf_counter()
    original, original_points = judge_face(judges, case.original, case.face)
    result: dict = {"judged": {"original": original, "published": None}}
    if case.published_face is not None:
        published, published_points = judge_face(judges, case.published, case.published_face)
        result["judged"]["published"] = published
        result["dense_landmark_error_iod"] = round(landmark_error_iod(original_points, published_points), 4)
    result["judge_seconds"] = round(time.perf_counter() - started, 4)
    return result


def measure_face(case: FaceCase, recognizers: Sequence[FaceRecognizer], judges: Judges | None = None) -> dict:
    """Stage 1: everything :func:`aggregate` needs about one face (JSON-ready); with ``judges``,
    also their view of the original and the published face (:func:`measure_judges`)."""
    box = face_box(case.face, case.original.shape)
    result: dict = {
        "identity": case.identity, "seconds": case.seconds, "redetected": case.published_face is not None,
        "sealed": case.sealed,
        "psnr_face": _psnr(case.original[box], case.scrubbed[box]),
        "ssim_face": ssim(case.original[box], case.scrubbed[box]),
        "psnr_photo": _psnr(case.original, case.scrubbed), "embeddings": {},
        # detail of the protected face against the original's (variance of the Laplacian)
        "sharpness_ratio": sharpness(case.scrubbed[box]) / max(sharpness(case.original[box]), 1e-6),
        # skin tone of the protected face against the original's (a stand-in lighter or darker
        # than the person's neck is what a person notices first)
        "skin_tone_delta_e": mean_colour_difference(*(photo[skin_patch(case.face, photo.shape)]
                                                      for photo in (case.original, case.published))),
    }
    # Realism (a classifier two-sample test in :func:`aggregate`) and fit to the photo: the face
    # box of the original and of the published protected face, YuNet's score and landmarks there.
    result["realism_features"] = {
        "original": np.round(realism_features(case.original[box]), 4).tolist(),
        "published": np.round(realism_features(case.published[box]), 4).tolist()}
    if case.wrong:
        # a wrong password's decoy is a face people see too; published as the stand-in is (JPEG q90)
        result["realism_features"]["decoy"] = np.round(
            realism_features(jpeg_round_trip(case.wrong[0])[box]), 4).tolist()
    if case.published_face is not None:
        ocular = float(np.linalg.norm(case.face.landmarks[1] - case.face.landmarks[0]))
        moved = np.linalg.norm(case.published_face.landmarks - case.face.landmarks, axis=1)
        result["landmark_error_iod"] = float(np.median(moved) / max(ocular, 1e-6))
        result["detection_score_ratio"] = case.published_face.score / max(case.face.score, 1e-6)
    if case.from_pixels is not None:
        result["from_pixels_psnr_face"] = _psnr(case.original[box], case.from_pixels[box])
    if case.restored is not None:
        result["restored_psnr_face"] = _psnr(case.original[box], case.restored[box])
        result["restored_ssim_face"] = ssim(case.original[box], case.restored[box])
    for recognizer in recognizers:
        def embed(photo: np.ndarray | None, face: Face | None, r: FaceRecognizer = recognizer) -> list | None:
            return None if photo is None or face is None else \
                np.round(r.embed(photo, face), 5).tolist()

        result["embeddings"][recognizer.name] = {
            "original": embed(case.original, case.face),
            "reference": embed(case.reference, case.reference_face),
            "published": embed(case.published, case.published_face),
            "restored": embed(case.restored, case.face),
            "from_pixels": embed(case.from_pixels, case.published_face),
            "wrong": [embed(photo, case.face) for photo in case.wrong],
        }
    if judges is not None:
        result.update(measure_judges(case, judges))
    return result


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return min(psnr(a, b), IDENTICAL_PSNR_DB)


def gallery_selected(relative_path: str, share: float) -> bool:
    """A stable pseudo-random choice of faces for galleries (same faces on every run)."""
    return int.from_bytes(hashlib.sha256(relative_path.encode()).digest()[:4], "big") / 2 ** 32 < share


class Evaluator:
    """Stage 1 for one scrub record: loads the recognisers, detector and restorer once."""

    def __init__(self, settings: Settings, recognizer_names: Sequence[str], threads: int = 0) -> None:
        self.settings = settings
        self.detector = FaceDetector(settings.detection)
        self.recognizers = [load_recognizer(name, settings.recognition) for name in recognizer_names]
        self.restorer = Restorer(settings, threads)
        self.judges = Judges.load(threads)

    def embed_photo(self, data: bytes) -> dict[str, list | None]:
        """Every recogniser's embedding of the central face of a photo (None without a face)."""
        rgb = decode_image(data, self.settings.images)[0]
        face = central_face(self.detector, rgb)
        return {r.name: None if face is None else np.round(r.embed(rgb, face), 5).tolist()
                for r in self.recognizers}

    def evaluate_record(self, row: dict, original_bytes: bytes, reference_bytes: bytes | None,
                        keys: KeyRing | None, wrong: Sequence[KeyRing],
                        thumbnails: bool) -> tuple[dict, list[bytes]]:
        """(measurement of the record's central face, JPEG thumbnails for a gallery if asked)."""
        original = decode_image(original_bytes, self.settings.images)[0]
        faces = [record_face(f) for f in row["faces"]]
        face = nearest_centre(faces, original.shape)
        index = next(i for i, f in enumerate(faces) if f is face)
        scrubbed = decode_encoded(row["deidentified_image"])
        published = jpeg_round_trip(scrubbed)
        case = FaceCase(identity=identity_of(row["relative_path"]), original=original, face=face,
                        scrubbed=scrubbed, published=published,
                        published_face=redetect(self.detector, published, face), seconds=row["seconds"],
                        sealed=is_sealed(row["faces"][index]))
        if reference_bytes is not None:
            case.reference = decode_image(reference_bytes, self.settings.images)[0]
            case.reference_face = central_face(self.detector, case.reference)
        reversible = self.restorer.mode_for(row["faces"][index]).reversible
        if keys is not None and reversible:
            case.restored = self.restorer.restore(row, keys)[0]
            self._restore_from_published(case, row, index, keys)
            for ring in wrong:
                try:
                    case.wrong.append(self.restorer.restore(row, ring, decoys=True)[0])
                except DecryptionError:  # seal and sealed residuals refuse a wrong password
                    pass
        measurement = measure_face(case, self.recognizers, self.judges)
        if not thumbnails:
            return measurement, []
        pictures = [case.original, case.published]
        if not reversible:  # cloak: the mask, amplified 10x around grey
            change = case.scrubbed.astype(np.int16) - case.original.astype(np.int16)
            pictures.append(np.clip(128 + 10 * change, 0, 255).astype(np.uint8))
        pictures += [p for p in [case.restored, *case.wrong[:3]] if p is not None]
        return measurement, [thumbnail_jpeg(face_crop(p, face.bbox)) for p in pictures]

    def _restore_from_published(self, case: FaceCase, row: dict, index: int, keys: KeyRing) -> None:
        """``case.from_pixels``: face ``index`` restored from the published photo (JPEG q90, face
        re-detected) with the right key but without the stored latent, if the mode can."""
        record = row["faces"][index]
        mode = self.restorer.mode_for(record)
        if not mode.restores_from_pixels or case.published_face is None:
            return
        key = keys.get(record["kdf"]).face_key(record["salt"], index)
        photo = case.published.copy()  # restored in place
        mode.restore_from_pixels(photo, case.published_face.landmarks, key)
        case.from_pixels = photo


def identity_of(relative_path: str) -> str:
    """The identity of a photo in an identity-folder dataset: its folder ('' at the top level)."""
    return str(PurePosixPath(relative_path).parent).strip(".")
