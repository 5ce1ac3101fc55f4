"""Calibrate verification: the recogniser score that gives a stated false-accept rate per comparison.

    python -m benchmarks.verify_calibration [--output out/verify-calibration] [--write-calibration]

Embeds the face nearest the centre of every photo of ``prior_training.data`` (LFW train: 4,038 people,
9,525 photos) with dlib and ArcFace (cached in ``OUTPUT/embeddings.npz``, resumable), then on each
side of the identity-disjoint split forms every genuine pair (two photos of one person) and every
impostor pair (photos of two people: about 36 million on the tuning side, 0.45 million on the
validation side). For dlib, ArcFace and their fusion it picks the threshold of each target FAR on the
*tuning* side and measures FAR (with a 95 % upper bound) and TAR at that threshold on the
*validation* side, which no threshold saw. The validation side is too small to see FARs of 1e-6, so
a cross-check also picks thresholds on one half of the tuning people and measures them on the other
half (about 9 million impostor pairs).

``--write-calibration`` stores the chosen recogniser score, its thresholds per FAR and the measured
figures in ``encryptface/weights/verify/calibration.json``, which ``encryptface verify`` reads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
from scipy.stats import beta

from encryptface.config import Settings, load_settings
from encryptface.faces.detection import FaceDetector, nearest_centre
from encryptface.faces.matching import (
    CALIBRATION_FILE,
    FUSION_RECOGNIZERS,
    fused_distances,
)
from encryptface.faces.recognition import load_recognizer
from encryptface.imaging.codecs import ImageError, decode_image
from encryptface.training.data import identity_images, split_identities

log = logging.getLogger("benchmarks.verify_calibration")
TARGET_FARS = (1e-3, 1e-4, 1e-5, 1e-6)
CHUNK = 250


def embed_all(settings: Settings, paths: list[Path], cache: Path) -> dict[str, np.ndarray]:
    """dlib and ArcFace embeddings of the central face of each photo (NaN rows: no face)."""
    done: dict[str, np.ndarray] = {}
    if cache.exists():
        with np.load(cache) as data:
            done = {k: data[k] for k in data.files}
    start = len(done.get("paths", []))
    if start and list(done["paths"]) != [str(p) for p in paths[:start]]:
        raise SystemExit(f"{cache} was made from other photos: remove it")
    detector = FaceDetector(settings.detection)
    recognizers = {name: load_recognizer(name, settings.recognition) for name in FUSION_RECOGNIZERS}
    rows = {name: list(done.get(name, [])) for name in recognizers}
    started = time.perf_counter()
    for index in range(start, len(paths)):
        face, rgb = None, None
        try:
            rgb, _ = decode_image(paths[index].read_bytes(), settings.images)
            face = nearest_centre(detector.detect(rgb), rgb.shape)
        except ImageError:
            pass
        for name, recognizer in recognizers.items():
            size = 128 if name == "dlib" else 512
            rows[name].append(recognizer.embed(rgb, face).astype(np.float32) if face is not None
                              else np.full(size, np.nan, np.float32))
        if (index + 1) % CHUNK == 0 or index + 1 == len(paths):
            np.savez(cache, paths=np.array([str(p) for p in paths[:index + 1]]),
                     **{name: np.stack(v) for name, v in rows.items()})
            rate = (index + 1 - start) / (time.perf_counter() - started)
            log.info("embedded %d / %d photos (%.1f photos/s)", index + 1, len(paths), rate)
    with np.load(cache) as data:
        return {k: data[k] for k in data.files}


def pair_distances(embeddings: dict[str, np.ndarray], people: np.ndarray,
                   score: str) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) distances of every pair of photos, by ``score`` (a recogniser or
    "fusion")."""
    n = len(people)
    genuine, impostor = [], []
    for start in range(0, n, 1000):
        rows = slice(start, min(n, start + 1000))
        distance = fused_distances(score, {k: v[rows] for k, v in embeddings.items()}, embeddings)
        same = people[rows, None] == people[None, :]
        upper = np.arange(rows.start, rows.stop)[:, None] < np.arange(n)[None, :]
        genuine.append(distance[same & upper])
        impostor.append(distance[~same & upper])
    return np.concatenate(genuine), np.concatenate(impostor)


def far_threshold(impostor: np.ndarray, far: float) -> float:
    """The distance under which a fraction ``far`` of impostor pairs falls (their k-th smallest)."""
    k = int(far * len(impostor))
    return float(np.partition(impostor, k)[k]) if k else float(impostor.min())


def far_upper_bound(false_accepts: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a false-accept rate."""
    if false_accepts >= trials:
        return 1.0
    return float(beta.ppf(confidence, false_accepts + 1, trials - false_accepts))


def side(settings: Settings, embeddings: dict[str, np.ndarray], split: str,
         index: dict[str, int]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The embeddings and person labels of one side of the split (photos with a face)."""
    data, names = split_identities(settings, split)
    paths = identity_images(data, names)
    rows = np.array([index[str(p)] for p in paths])
    people = np.array([p.parent.name for p in paths])
    keep = ~np.isnan(embeddings["dlib"][rows, 0])
    return {k: embeddings[k][rows[keep]] for k in FUSION_RECOGNIZERS}, people[keep]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="out/verify-calibration")
    parser.add_argument("--write-calibration", action="store_true",
                        help=f"write the chosen thresholds to {CALIBRATION_FILE}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = load_settings()
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    paths = []
    for split in ("tuning", "validation"):
        data, names = split_identities(settings, split)
        paths += identity_images(data, names)
    embeddings = embed_all(settings, paths, output / "embeddings.npz")
    index = {p: i for i, p in enumerate(embeddings["paths"])}
    tuning, tuning_people = side(settings, embeddings, "tuning", index)
    validation, validation_people = side(settings, embeddings, "validation", index)
    report: dict = {"photos": len(paths),
                    "no_face": int(np.isnan(embeddings["dlib"][:, 0]).sum()), "scores": {}}
    for score in (*FUSION_RECOGNIZERS, "fusion"):
        tune_genuine, tune_impostor = pair_distances(tuning, tuning_people, score)
        val_genuine, val_impostor = pair_distances(validation, validation_people, score)
        # cross-check with many more held-out pairs: thresholds from one half of the tuning people,
        # FAR and TAR measured on the other half
        half = np.array([hashlib.sha256(p.encode()).digest()[0] < 128 for p in tuning_people])
        a_genuine, a_impostor = pair_distances({k: v[half] for k, v in tuning.items()},
                                               tuning_people[half], score)
        b_genuine, b_impostor = pair_distances({k: v[~half] for k, v in tuning.items()},
                                               tuning_people[~half], score)
        rows = {}
        for far in TARGET_FARS:
            threshold = far_threshold(tune_impostor, far)
            false = int((val_impostor < threshold).sum())
            half_threshold = far_threshold(a_impostor, far)
            half_false = int((b_impostor < half_threshold).sum())
            rows[f"{far:g}"] = {
                "threshold": round(threshold, 5),
                "tuning_tar": round(float((tune_genuine < threshold).mean()), 4),
                "validation_tar": round(float((val_genuine < threshold).mean()), 4),
                "validation_false_accepts": false,
                "validation_far": float(false / len(val_impostor)),
                "validation_far_upper_95": far_upper_bound(false, len(val_impostor)),
                "crosscheck_tar": round(float((b_genuine < half_threshold).mean()), 4),
                "crosscheck_false_accepts": half_false,
                "crosscheck_far": float(half_false / len(b_impostor)),
                "crosscheck_far_upper_95": far_upper_bound(half_false, len(b_impostor)),
            }
        report["scores"][score] = {
            "tuning_pairs": {"genuine": len(tune_genuine), "impostor": len(tune_impostor)},
            "validation_pairs": {"genuine": len(val_genuine), "impostor": len(val_impostor)},
            "crosscheck_pairs": {"genuine": len(b_genuine), "impostor": len(b_impostor)},
            "by_far": rows}
        log.info("%s: %s", score, json.dumps(rows))
    (output / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    if args.write_calibration:
        write_calibration(report)
    return 0


def write_calibration(report: dict) -> None:
    """Store every score's thresholds and what they measured (see the module docstring)."""
    scores = report["scores"]
    calibration = {
        "default_score": "fusion",
        "fusion": {"recognizers": list(FUSION_RECOGNIZERS),
                   "rule": "weighted sum of the distances over their scales (encryptface/faces/matching.py)"},
        "data": "LFW train (View 1), identity-disjoint split: thresholds from the tuning side, "
                "figures measured on the validation side and, tuning halves crossed, on the other half",
        "command": "python -m benchmarks.verify_calibration --write-calibration",
        "pairs": {score: {k: v for k, v in data.items() if k.endswith("_pairs")}
                  for score, data in scores.items()},
        "thresholds": {score: {far: row["threshold"] for far, row in data["by_far"].items()}
                       for score, data in scores.items()},
        "measured": {score: {far: {k: v for k, v in row.items() if k != "threshold"}
                             for far, row in data["by_far"].items()}
                     for score, data in scores.items()},
    }
    CALIBRATION_FILE.parent.mkdir(parents=True, exist_ok=True)
    CALIBRATION_FILE.write_text(json.dumps(calibration, indent=2) + "\n")
    log.info("wrote %s", CALIBRATION_FILE)


if __name__ == "__main__":
    raise SystemExit(main())
