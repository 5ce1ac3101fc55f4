"""Detection cost: seconds per photo and per megapixel on ONE core, the single pass of before
(YuNet-n on the whole photo downscaled to 1280 px) beside the configured passes; and the whole
seal scrub of a 24 MP photo with about 30 faces.

    python -m benchmarks.detection_cost [--photos 20]

Inputs are built from facebench (``../shared/data/facebench``): single photos (up to 600 px),
3x3 and 6x6 mosaics of 800 x 600 cells (4 MP, 17 MP) and a 6000 x 4000 photo of 2.5x enlarged
facebench photos (24 MP). Also called by ``benchmarks.benchmark`` (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import cv2
import numpy as np

from benchmarks.coverage import FACEBENCH, mosaics, split_photos
from encryptface.config import Settings, load_settings, resolve_repo_path
from encryptface.crypto.keys import KdfParams, Password, derive_master_key
from encryptface.evaluation.coverage import Box, load_annotations
from encryptface.faces.detection import FaceDetector
from encryptface.faces.detectors import FaceNetwork, load_network
from encryptface.imaging.codecs import encode_image
from encryptface.pipeline.scrubber import Scrubber
from encryptface.runtime import limit_threads

# Detection before multi-scale passes: YuNet-n once, on a copy downscaled to max_side = 1280, score
# 0.7, faces under 12 px dropped (the defaults of that time).
BEFORE = {"network": "yunet_n", "max_side": 1280, "score": 0.7, "min_face": 12}


def single_pass(network: FaceNetwork, rgb: np.ndarray) -> int:
    """Faces found the way detection worked before multi-scale passes (:data:`BEFORE`)."""
    scale = min(1.0, BEFORE["max_side"] / max(rgb.shape[:2]))
    small = rgb if scale == 1.0 else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    found = network.detect(small, BEFORE["score"])
    return int((found[:, 2] / scale >= BEFORE["min_face"]).sum())


def event_photo(photos: list[tuple[str, np.ndarray, list[Box]]], faces: int = 30
                ) -> tuple[np.ndarray, int]:
    """A 6000 x 4000 photo: facebench photos enlarged 2.5x in a 4 x 3 grid, chosen in order while
    their annotated faces add up to at most ``faces``; and that count."""
    canvas = np.full((4000, 6000, 3), 127, np.uint8)
    cell_w, cell_h, placed, count = 1500, 1333, 0, 0
    for _, rgb, boxes in photos:
        if placed == 12:
            break
        if count + len(boxes) > faces:
            continue
        big = cv2.resize(rgb, None, fx=2.5, fy=2.5, interpolation=cv2.INTER_CUBIC)[:cell_h, :cell_w]
        x, y = (placed % 4) * cell_w, (placed // 4) * cell_h
        canvas[y:y + big.shape[0], x:x + big.shape[1]] = big
        placed, count = placed + 1, count + len(boxes)
    return canvas, count


def _timed(work, images: list[np.ndarray]) -> float:  # noqa: ANN001
    work(images[0])  # warm-up (first inference of each input size compiles)
    started = time.perf_counter()
    for image in images:
        work(image)
    return time.perf_counter() - started


def detection_cost(settings: Settings, photos: int = 20) -> dict:
    """Seconds per photo and per megapixel, single pass vs the configured passes, one core."""
    limit_threads(1)
    annotations = load_annotations(resolve_repo_path(f"{FACEBENCH}/annotations"))
    paths = split_photos(resolve_repo_path(f"{FACEBENCH}/images"), set(annotations), "all")
    loaded = [(p.stem, cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), annotations[p.stem])
              for p in paths[:max(photos, 36)]]
    event, event_faces = event_photo(loaded)
    inputs = {"facebench photo": [rgb for _, rgb, _ in loaded[:photos]],
              "3x3 mosaic (4.3 MP)": [mosaics(loaded, 3)[0][1]],
              "6x6 mosaic (17.3 MP)": [mosaics(loaded, 6)[0][1]],
              "24 MP photo": [event]}
    detector = FaceDetector(settings.detection, threads=1)
    before = load_network(BEFORE["network"], settings.detection.nms_threshold, threads=1)
    rows = {}
    for name, images in inputs.items():
        megapixels = sum(i.shape[0] * i.shape[1] for i in images) / 1e6
        single = _timed(lambda rgb: single_pass(before, rgb), images)
        after = _timed(lambda rgb: detector.detect(rgb, uncertain=True), images)
        rows[name] = {"photos": len(images), "megapixels": round(megapixels, 2),
                      "single_pass_s_per_photo": round(single / len(images), 3),
                      "single_pass_s_per_mp": round(single / megapixels, 3),
                      "default_s_per_photo": round(after / len(images), 3),
                      "default_s_per_mp": round(after / megapixels, 3)}
    scrubber = Scrubber(settings, "seal", threads=1)
    key = derive_master_key(Password(b"detection cost"), KdfParams(14, 8, 1, b"detection-cost-salt"))
    data = encode_image(event, "png")
    scrubber.scrub("event", "event.png", data, key)   # warm-up
    started = time.perf_counter()
    row = scrubber.scrub("event", "event.png", data, key)
    rows["24 MP photo"].update(seal_scrub_s=round(time.perf_counter() - started, 2),
                               annotated_faces=event_faces, protected_faces=len(row["faces"]))
    return {"detectors": list(settings.detection.detectors), "rows": rows}


def cost_table(cost: dict) -> str:
    """The detection cost rows as text."""
    lines = [f"detection on ONE core: before (yunet_n, one pass within 1280 px) and now "
             f"({'+'.join(cost['detectors'])}, the configured passes):",
             f"  {'input':<22} {'MP':>6} {'single s/photo':>14} {'s/MP':>6} {'now s/photo':>11} "
             f"{'s/MP':>6}"]
    for name, row in cost["rows"].items():
        lines.append(f"  {name:<22} {row['megapixels'] / row['photos']:>6.2f} "
                     f"{row['single_pass_s_per_photo']:>14} {row['single_pass_s_per_mp']:>6} "
                     f"{row['default_s_per_photo']:>11} {row['default_s_per_mp']:>6}")
    event = cost["rows"]["24 MP photo"]
    lines.append(f"seal scrub of the 24 MP photo ({event['annotated_faces']} annotated faces, "
                 f"{event['protected_faces']} protected), one core: {event['seal_scrub_s']} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--output", default="out/detection-cost")
    args = parser.parse_args(argv)
    cost = detection_cost(load_settings(overrides=args.overrides), args.photos)
    print(cost_table(cost))
    from pathlib import Path

    Path(args.output).mkdir(parents=True, exist_ok=True)
    (Path(args.output) / "detection_cost.json").write_text(json.dumps(cost, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
