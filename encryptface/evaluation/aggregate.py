"""Stage 2 of the evaluation, on the driver over all measured faces (stage 1 is
:mod:`encryptface.evaluation.measure`): thresholds at fixed false-accept rates from impostor pairs
(original faces of different people, or a pairs file), then protection success, recovery,
wrong-password diversity, realism, quality, what the stand-in keeps (:func:`judge_metrics`) and cost."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from encryptface.evaluation.attributes import CLASSES, clear_label, top_label
from encryptface.evaluation.expression import MOUTH_OPEN
from encryptface.evaluation.realism import two_sample_auc, two_sample_auc_by_group
from encryptface.faces.recognition import recognizer_distance
from encryptface.imaging.metrics import threshold_at_far

FARS = (0.1, 0.01, 0.001)
MAX_IMPOSTOR_PAIRS = 50_000
NO_IMPOSTORS = ("no thresholds: protection rates need faces of different people (identity folders "
                "under --originals, or --pairs FILE); quality, realism, recovery and cost need none")


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


def _median_p90(name: str, values: Sequence[float]) -> dict:
    """``{name}_median`` and ``{name}_p90`` of ``values`` (None without any)."""
    finite = [v for v in values if np.isfinite(v)]
    return {f"{name}_{label}": round(float(np.percentile(finite, q)), 3) if finite else None
            for label, q in (("median", 50), ("p90", 90))}


def judge_metrics(measurements: Sequence[dict]) -> dict:
    """What the published stand-in keeps of the original face, by the judges of
    :func:`encryptface.evaluation.measure.measure_judges` (records without them are skipped).

    Per attribute (sex, age range, appearance group): among faces whose original is judged clearly
    (:func:`encryptface.evaluation.attributes.clear_label`) and whose published face was found, the
    share whose published face's most likely class is the same (``kept``, with ``kept_count`` of
    ``clear_originals``, and ``[kept, of]`` per class); ``dark_kept`` says it in words. ``mouth``:
    open/closed agreement (open above ``MOUTH_OPEN``) and the share of open mouths kept open. Dense
    landmark movement in inter-ocular distances, and the judges' seconds per face.
    """
    judged = [m["judged"] for m in measurements if m.get("judged")]
    found = [j for j in judged if j.get("published")]
    result: dict = {"faces": len(judged), "published_found": len(found)}
    for name, classes in CLASSES.items():
        pairs = [(clear_label(j["original"].get(name)), top_label(j["published"].get(name))) for j in found]
        pairs = [(before, after) for before, after in pairs if before is not None and after is not None]
        same = [before == after for before, after in pairs]
        by_class = {label: [sum(a == label for b, a in pairs if b == label),
                            sum(b == label for b, _ in pairs)] for label in classes}
        result[name] = {"kept": _share(same), "kept_count": sum(same), "clear_originals": len(pairs),
                        "by_class": by_class}
    kept, of = result["group"]["by_class"]["dark"]
    result["dark_kept"] = f"{kept} of {of}"
    mouths = [(j["original"]["mouth_openness"] > MOUTH_OPEN, j["published"]["mouth_openness"] > MOUTH_OPEN)
              for j in found if "mouth_openness" in j["original"] and "mouth_openness" in j["published"]]
    result["mouth"] = {"agreement": _share([a == b for a, b in mouths]), "faces": len(mouths),
                       "open_originals": sum(a for a, _ in mouths),
                       "open_kept": _share([b for a, b in mouths if a])}
    result.update(_median_p90("dense_landmark_error_iod", [
        m["dense_landmark_error_iod"] for m in measurements if "dense_landmark_error_iod" in m]))
    result["seconds_per_face_mean"] = _mean([m["judge_seconds"] for m in measurements
                                             if "judge_seconds" in m])
    return result


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
                    "sharpness_ratio_mean": _mean([m["sharpness_ratio"] for m in ms]),
                    **_median_p90("skin_tone_delta_e", [m["skin_tone_delta_e"] for m in ms
                                                        if "skin_tone_delta_e" in m])},
        "cost": {"scrub_seconds_per_photo_mean": _mean(seconds),
                 "photos_per_second_per_core": round(len(seconds) / sum(seconds), 3) if sum(seconds)
                 else None},
        "recognizers": {},
        "judges": judge_metrics(ms),
    }
    with_realism = [m for m in ms if "realism_features" in m]
    realism = [m["realism_features"] for m in with_realism]
    # the generator's own faces: without those that were pixelated and sealed
    stand_ins = [m["realism_features"] for m in with_realism if not m.get("sealed")]
    originals, published = [r["original"] for r in realism], [r["published"] for r in realism]
    result["realism"] = {
        "classifier_auc_original_vs_published": two_sample_auc(originals, published),
        "classifier_auc_by_features": two_sample_auc_by_group(originals, published),
        "sealed_share": _share([m.get("sealed", False) for m in with_realism]),
        "classifier_auc_original_vs_stand_ins": two_sample_auc([r["original"] for r in stand_ins],
                                                               [r["published"] for r in stand_ins]),
        # the same test for the first wrong password's decoy (modes that render decoys)
        "classifier_auc_original_vs_decoy": two_sample_auc(
            [r["original"] for r in realism if "decoy" in r], [r["decoy"] for r in realism if "decoy" in r]),
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
