"""Protection, recovery and quality measurements for every mode, in two stages.

1. :func:`measure_face` (in a worker, per face): embeddings by every recogniser of the original
   face, of ANOTHER photo of the same person (the reference), of the protected face as a third
   party sees it (the scrubbed photo published as JPEG q90, faces re-detected), of the face restored
   with the right password and with wrong ones; and image-quality numbers.
2. :func:`aggregate` (on the driver, over all faces): thresholds at fixed false-accept rates from
   impostor pairs (original faces of different people), then protection success, recovery,
   wrong-password diversity, quality and cost.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Sequence
from pathlib import PurePosixPath

import numpy as np

from encryptface.config import Settings
from encryptface.crypto import DecryptionError, KeyRing
from encryptface.detection import Face, FaceDetector, nearest_centre
from encryptface.gallery import face_crop
from encryptface.images import decode_encoded, decode_image, encode_image
from encryptface.metrics import iou, psnr, sharpness, ssim, threshold_at_far
from encryptface.realism import realism_features, two_sample_auc
from encryptface.recognition import FaceRecognizer, load_recognizer, recognizer_distance
from encryptface.records import record_face
from encryptface.scrubber import Restorer

FARS = (0.1, 0.01, 0.001)
PUBLISH_JPEG_QUALITY = 90
MAX_IMPOSTOR_PAIRS = 50_000
NO_IMPOSTORS = ("no thresholds: protection rates need faces of different people (identity folders "
                "under --originals, or --pairs FILE); quality, realism, recovery and cost need none")
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


def publish(rgb: np.ndarray, quality: int = PUBLISH_JPEG_QUALITY) -> np.ndarray:
    """The photo after being posted: a JPEG round trip."""
    return decode_encoded(encode_image(rgb, "jpeg", quality))


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


def measure_face(case: FaceCase, recognizers: Sequence[FaceRecognizer]) -> dict:
    """Stage 1: everything :func:`aggregate` needs about one face (JSON-ready)."""
    box = face_box(case.face, case.original.shape)
    result: dict = {
        "identity": case.identity, "seconds": case.seconds, "redetected": case.published_face is not None,
        "psnr_face": _psnr(case.original[box], case.scrubbed[box]),
        "ssim_face": ssim(case.original[box], case.scrubbed[box]),
        "psnr_photo": _psnr(case.original, case.scrubbed), "embeddings": {},
        # detail of the protected face against the original's (variance of the Laplacian)
        "sharpness_ratio": sharpness(case.scrubbed[box]) / max(sharpness(case.original[box]), 1e-6),
    }
    # Realism (a classifier two-sample test in :func:`aggregate`) and fit to the photo: the face
    # box of the original and of the published protected face, YuNet's score and landmarks there.
    result["realism_features"] = {
        "original": np.round(realism_features(case.original[box]), 4).tolist(),
        "published": np.round(realism_features(case.published[box]), 4).tolist()}
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
    return result


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return min(psnr(a, b), IDENTICAL_PSNR_DB)


def impostor_distances(name: str, measurements: Sequence[dict]) -> list[float]:
    """Distances between original faces of different people (a fixed, seeded sample if there are
    more than :data:`MAX_IMPOSTOR_PAIRS` pairs)."""
    faces = [(m["identity"], np.asarray(m["embeddings"][name]["original"])) for m in measurements]
    pairs = [(a, b) for a, b in itertools.combinations(range(len(faces)), 2) if faces[a][0] != faces[b][0]]
    if len(pairs) > MAX_IMPOSTOR_PAIRS:
        rng = np.random.default_rng(0)
        pairs = [pairs[i] for i in rng.choice(len(pairs), MAX_IMPOSTOR_PAIRS, replace=False)]
    return [recognizer_distance(name, faces[a][1], faces[b][1]) for a, b in pairs]


def _share(flags: Sequence[bool]) -> float | None:
    return round(float(np.mean(flags)), 4) if len(flags) else None


def _mean(values: Sequence[float]) -> float | None:
    finite = [v for v in values if np.isfinite(v)]
    return round(float(np.mean(finite)), 4) if finite else None


def aggregate(measurements: Sequence[dict], fars: Sequence[float] = FARS,
              pair_distances: dict[str, list[tuple[float, bool]]] | None = None) -> dict:
    """Stage 2: the metrics (stable keys) of all measured faces. Thresholds come from impostor
    pairs among the measured original faces, or, given ``pair_distances`` (recogniser -> (distance,
    same person) of a pairs file), from that file's different-person pairs."""
    ms = list(measurements)
    seconds = [m["seconds"] for m in ms]
    result: dict = {
        "faces": len(ms), "faces_with_reference_photo": 0,
        "quality": {"psnr_face_db_mean": _mean([m["psnr_face"] for m in ms]),
                    "ssim_face_mean": _mean([m["ssim_face"] for m in ms]),
                    "psnr_photo_db_mean": _mean([m["psnr_photo"] for m in ms]),
                    "redetected_after_jpeg90": _share([m["redetected"] for m in ms]),
                    "sharpness_ratio_mean": _mean([m["sharpness_ratio"] for m in ms])},
        "cost": {"scrub_seconds_per_photo_mean": _mean(seconds),
                 "photos_per_second_per_core": round(len(seconds) / sum(seconds), 3) if sum(seconds)
                 else None},
        "recognizers": {},
    }
    realism = [m["realism_features"] for m in ms if "realism_features" in m]
    result["realism"] = {
        "classifier_auc_original_vs_published": two_sample_auc(
            [r["original"] for r in realism], [r["published"] for r in realism]),
        "detection_score_ratio_mean": _mean([m["detection_score_ratio"] for m in ms
                                             if "detection_score_ratio" in m]),
        "landmark_error_iod_median": round(float(np.median(errors)), 4) if (errors := [
            m["landmark_error_iod"] for m in ms if "landmark_error_iod" in m]) else None}
    restored = [m for m in ms if "restored_psnr_face" in m]
    if restored:
        result["recovery"] = {"psnr_face_db_mean": _mean([m["restored_psnr_face"] for m in restored]),
                              "psnr_face_db_min": round(min(m["restored_psnr_face"] for m in restored), 2),
                              "ssim_face_mean": _mean([m["restored_ssim_face"] for m in restored])}
        pixels_only = [m["from_pixels_psnr_face"] for m in restored if "from_pixels_psnr_face" in m]
        if pixels_only:
            result["recovery"]["from_published_pixels_psnr_face_db_mean"] = _mean(pixels_only)
    names = list(ms[0]["embeddings"]) if ms else []
    for name in names:
        pairs = (pair_distances or {}).get(name)
        impostors = [d for d, same in pairs if not same] if pairs else impostor_distances(name, ms)
        if not impostors:  # e.g. an archive without identity folders and no --pairs file
            result["recognizers"][name] = {"missing": NO_IMPOSTORS}
            continue
        limits = {far: threshold_at_far(impostors, far) for far in fars}

        def dist(a: list | None, b: list | None, n: str = name) -> float:
            return float("inf") if a is None or b is None else recognizer_distance(n, np.asarray(a),
                                                                                    np.asarray(b))

        emb = [m["embeddings"][name] for m in ms]
        with_ref = [e for e in emb if e["reference"] is not None]
        result["faces_with_reference_photo"] = len(with_ref)
        baseline = [dist(e["reference"], e["original"]) for e in with_ref]
        protected = [dist(e["reference"], e["published"]) for e in with_ref]
        protected_same_photo = [dist(e["original"], e["published"]) for e in emb]
        back = [dist(e["reference"], e["restored"]) for e in with_ref if e["restored"] is not None]
        back_same_photo = [dist(e["original"], e["restored"]) for e in emb if e["restored"] is not None]
        from_pixels = [dist(e["original"], e["from_pixels"]) for e in emb if e.get("from_pixels")]
        wrong = [dist(e["original"], w) for e in emb for w in e["wrong"]]
        wrong_pairs = [dist(a, b) for e in emb for a, b in itertools.combinations(e["wrong"], 2)]
        entry: dict = {"thresholds": {str(f): round(t, 4) for f, t in limits.items()}, "far": {},
                       "thresholds_from": "pairs file" if pairs else "original faces of different people"}
        if pairs:  # how the recogniser does on the pairs file itself at each threshold
            entry["pairs_true_accept"] = {str(f): _share([d < t for d, same in pairs if same])
                                          for f, t in limits.items()}
        for far, limit in limits.items():
            row = {
                "baseline_matched": _share([d < limit for d in baseline]),
                "protection_success": _share([d >= limit for d in protected]),
                "protection_success_given_baseline_match": _share(
                    [p >= limit for p, b in zip(protected, baseline, strict=True) if b < limit]),
                "protected_matched_to_same_photo": _share([d < limit for d in protected_same_photo]),
            }
            if back_same_photo:
                row["restored_matched"] = _share([d < limit for d in back])
                row["restored_matched_to_same_photo"] = _share([d < limit for d in back_same_photo])
            if from_pixels:
                row["restored_from_published_pixels_matched_to_same_photo"] = _share(
                    [d < limit for d in from_pixels])
            if wrong:
                row["wrong_password_matched_to_same_photo"] = _share([d < limit for d in wrong])
                row["wrong_password_pairs_same_identity"] = _share([d < limit for d in wrong_pairs])
            entry["far"][str(far)] = row
        entry["baseline_distance"] = [round(d, 4) for d in baseline]
        entry["protected_distance"] = [round(d, 4) if np.isfinite(d) else None for d in protected]
        result["recognizers"][name] = entry
    return result


def read_pairs(text: str) -> list[tuple[str, str, bool]]:
    """LFW-style pairs (``name n1 n2`` = same person, ``name1 n1 name2 n2`` = different; header
    and blank lines skipped) as (relative path, relative path, same person)."""
    def photo(name: str, number: str) -> str:
        return f"{name}/{name}_{int(number):04d}.jpg"

    pairs = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3:
            pairs.append((photo(fields[0], fields[1]), photo(fields[0], fields[2]), True))
        elif len(fields) == 4:
            pairs.append((photo(fields[0], fields[1]), photo(fields[2], fields[3]), False))
    return pairs


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
        published = publish(scrubbed)
        case = FaceCase(identity=identity_of(row["relative_path"]), original=original, face=face,
                        scrubbed=scrubbed, published=published,
                        published_face=redetect(self.detector, published, face), seconds=row["seconds"])
        if reference_bytes is not None:
            case.reference = decode_image(reference_bytes, self.settings.images)[0]
            case.reference_face = central_face(self.detector, case.reference)
        reversible = any(f["encrypted_latent"] is not None for f in row["faces"])
        if keys is not None and reversible:
            case.restored = self.restorer.restore(row, keys)[0]
            self._restore_from_published(case, row, index, keys)
            for ring in wrong:
                try:
                    case.wrong.append(self.restorer.restore(row, ring, decoys=True)[0])
                except DecryptionError:  # seal and sealed residuals refuse a wrong password
                    pass
        measurement = measure_face(case, self.recognizers)
        if not thumbnails:
            return measurement, []
        pictures = [case.original, case.published]
        if not reversible:  # cloak: the mask, amplified 10x around grey
            change = case.scrubbed.astype(np.int16) - case.original.astype(np.int16)
            pictures.append(np.clip(128 + 10 * change, 0, 255).astype(np.uint8))
        pictures += [p for p in [case.restored, *case.wrong[:3]] if p is not None]
        return measurement, [encode_image(face_crop(p, face.bbox), "jpeg", 85) for p in pictures]

    def _restore_from_published(self, case: FaceCase, row: dict, index: int, keys: KeyRing) -> None:
        """``case.from_pixels``: face ``index`` restored from the published photo (JPEG q90, face
        re-detected) with the right key but without the stored latent, if the mode can."""
        record = row["faces"][index]
        mode = self.restorer.mode_for(record)
        if not hasattr(mode, "restore_from_pixels") or case.published_face is None:
            return
        key = keys.get(record["kdf"]).face_key(record["salt"], index)
        photo = case.published.copy()  # restored in place
        mode.restore_from_pixels(photo, case.published_face.landmarks, key)
        case.from_pixels = photo


def identity_of(relative_path: str) -> str:
    """The identity of a photo in an identity-folder dataset: its folder ('' at the top level)."""
    return str(PurePosixPath(relative_path).parent).strip(".")
