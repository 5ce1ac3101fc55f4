"""Evaluate the `encrypt` mode on the identity-disjoint evaluation split of LFW train.

    python -m jobs.evaluate_encrypt [--faces 200] [--wrong 10] [--output out/eval-encrypt]

For each photo (first photo of each evaluation identity): scrub in encrypt mode, restore with the
right password and with ``--wrong`` wrong passwords, recover from the published JPEG q90 pixels
alone, and measure with dlib's ResNet (never optimised against) at a threshold set at FAR 0.01 on
impostor pairs of the same split. Writes metrics.json and gallery.html.
"""

from __future__ import annotations

import argparse
import html
import itertools
import json
import time
from pathlib import Path

import numpy as np

from encryptface.config import load_settings, resolve_repo_path
from encryptface.crypto import KdfParams, KeyRing, Password, derive_master_key
from encryptface.detection import Face, FaceDetector
from encryptface.gallery import face_crop, img_tag
from encryptface.images import decode_encoded, decode_image, encode_image
from encryptface.metrics import iou, psnr, sharpness, threshold_at_far
from encryptface.recognition import DlibRecognizer
from encryptface.scrubber import Restorer, Scrubber
from encryptface.training.data import identities, identity_images, identity_split


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=200)
    parser.add_argument("--wrong", type=int, default=10)
    parser.add_argument("--gallery", type=int, default=50)
    parser.add_argument("--output", default="out/eval-encrypt")
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args(argv)
    settings = load_settings(overrides=["kdf.n_log2=14", *args.set])
    data = resolve_repo_path(settings.training.data)
    _, evaluation_ids = identity_split(identities(data), settings.training.validation_fraction)
    recognizer, detector = DlibRecognizer(), FaceDetector(settings.detection)
    scrubber, restorer = Scrubber(settings, "encrypt"), Restorer(settings)
    mode = scrubber.mode
    right = Password(b"evaluation password")
    master = derive_master_key(right, KdfParams.fresh(settings.kdf))
    right_ring = KeyRing(right, {master.kdf_json: master})
    wrong_rings = [KeyRing(Password(f"wrong password {i}".encode())) for i in range(args.wrong)]

    # threshold at FAR 0.01 from impostor pairs among evaluation identities (originals)
    photos = [identity_images(data, [name])[0] for name in evaluation_ids][:args.faces]
    stats = {k: [] for k in ("deid_match", "restore_match", "restore_psnr", "wrong_match",
                             "wrong_pair_match", "detected", "sharp_gen", "sharp_real",
                             "pixel_match", "pixel_psnr", "protect_s")}
    embeddings, gallery_rows = [], []
    for count, path in enumerate(photos, 1):
        if count % 20 == 0:
            print(f"evaluated {count} / {len(photos)} photos", flush=True)
        data_bytes = path.read_bytes()
        original, _ = decode_image(data_bytes, settings.images)
        started = time.perf_counter()
        row = scrubber.scrub(str(path), path.name, data_bytes, master)
        stats["protect_s"].append(time.perf_counter() - started)
        if row["status"] != "ok":
            continue
        face = min(row["faces"], key=lambda f: abs(f["bbox"][0] + f["bbox"][2] / 2 - original.shape[1] / 2))
        index, bbox = row["faces"].index(face), face["bbox"]
        landmarks = np.asarray(face["landmarks"], np.float32).reshape(5, 2)
        reference = recognizer.embed(original, bbox)
        embeddings.append(reference)
        protected = decode_encoded(row["deidentified_image"])
        restored, _ = restorer.restore(row, right_ring)
        wrong_images = [restorer.restore(row, ring)[0] for ring in wrong_rings]
        embed = [recognizer.embed(image, bbox) for image in [protected, restored, *wrong_images]]
        x, y, w, h = (int(round(v)) for v in bbox)
        box = (slice(max(y, 0), y + h), slice(max(x, 0), x + w))
        stats["deid_match"].append(recognizer.distance(reference, embed[0]))
        stats["restore_match"].append(recognizer.distance(reference, embed[1]))
        stats["restore_psnr"].append(psnr(restored[box], original[box]))
        stats["wrong_match"].extend(recognizer.distance(reference, e) for e in embed[2:])
        stats["wrong_pair_match"].extend(recognizer.distance(a, b)
                                         for a, b in itertools.combinations(embed[2:], 2))
        found = detector.detect(protected)
        stats["detected"].append(any(iou(f.bbox, bbox) > 0.3 for f in found))
        aligned_real = mode.aligner.align(original, Face(bbox, landmarks, 1.0)).crop
        aligned_gen = mode.aligner.align(protected, Face(bbox, landmarks, 1.0)).crop
        stats["sharp_real"].append(sharpness(aligned_real, mode.aligner.mask))
        stats["sharp_gen"].append(sharpness(aligned_gen, mode.aligner.mask))
        # recovery from the published photo alone: JPEG q90, re-detect, re-align, decrypt
        published = decode_encoded(encode_image(protected, "jpeg", 90))
        again = [f for f in detector.detect(published) if iou(f.bbox, bbox) > 0.3]
        if again:
            key = master.face_key(face["salt"], index)
            recovered = published.copy()
            mode.restore_from_pixels(recovered, again[0].landmarks, key)
            stats["pixel_match"].append(recognizer.distance(reference, recognizer.embed(recovered, bbox)))
            stats["pixel_psnr"].append(psnr(recovered[box], original[box]))
        else:
            stats["pixel_match"].append(float("inf"))
        if len(gallery_rows) < args.gallery:
            gallery_rows.append([face_crop(img, bbox) for img in [original, protected, restored,
                                                                   *wrong_images[:3]]])
    impostors = [np.linalg.norm(a - b) for a, b in itertools.combinations(embeddings, 2)]
    threshold = threshold_at_far(impostors, 0.01)

    def share(values: list[float]) -> float:
        return round(float(np.mean(np.asarray(values) < threshold)), 4)

    metrics = {
        "faces": len(embeddings), "recogniser": "dlib_resnet", "threshold_far_0.01": round(threshold, 4),
        "deidentified_matched_to_original": share(stats["deid_match"]),
        "restored_matched_to_original": share(stats["restore_match"]),
        "restored_psnr_face_box_db_mean": round(float(np.mean(stats["restore_psnr"])), 2),
        "restored_psnr_face_box_db_min": round(float(np.min(stats["restore_psnr"])), 2),
        "wrong_password_matched_to_original": share(stats["wrong_match"]),
        "wrong_password_pairs_same_identity": share(stats["wrong_pair_match"]),
        "generated_face_detected_by_yunet": round(float(np.mean(stats["detected"])), 4),
        "sharpness_generated_over_real": round(float(np.mean(stats["sharp_gen"])
                                                     / np.mean(stats["sharp_real"])), 3),
        "pixels_only_jpeg90_matched_to_original": share(stats["pixel_match"]),
        "pixels_only_jpeg90_psnr_db_mean": round(float(np.mean(stats["pixel_psnr"] or [0])), 2),
        "scrub_seconds_per_photo_mean": round(float(np.mean(stats["protect_s"])), 4),
        "backend": mode.generator.autoencoder.backend, "model_id": mode.model_id,
    }
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2))
    write_gallery(output / "gallery.html", gallery_rows)
    print(json.dumps(metrics, indent=2))
    print(f"written: {output / 'metrics.json'}, {output / 'gallery.html'}")
    return 0


def write_gallery(path: Path, rows: list[list[np.ndarray]]) -> None:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in
                   ("original", "encrypted", "restored", "wrong pw 1", "wrong pw 2", "wrong pw 3"))
    body = "".join("<tr>" + "".join(f"<td>{img_tag(img)}</td>" for img in row) + "</tr>" for row in rows)
    path.write_text("<!doctype html><html><head><meta charset='utf-8'><title>encrypt evaluation"
                    "</title><style>img{height:140px}td{padding:2px}</style></head><body>"
                    f"<h1>encrypt mode: {len(rows)} evaluation faces</h1><table><tr>{head}</tr>{body}"
                    "</table></body></html>")


if __name__ == "__main__":
    raise SystemExit(main())
