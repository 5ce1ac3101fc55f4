"""Face coverage on labelled street and crowd photos, and on high-resolution mosaics of them.

    python -m benchmarks.coverage [--images DIR --annotations DIR] [--split tune|check|all]
        [--mosaic 0,3,6] [--mode seal] [--detect-only] [--set detection.key=value ...]
        [--output out/coverage]

Scrubs every photo of the split in this process (the library's :class:`Scrubber`, default
settings plus ``--set``), then judges each annotated face on the published photo
(:mod:`encryptface.evaluation.coverage`): found by the detector, covered (>= 90 % of its box
changed), per size bucket; and the detections that match no annotated face. ``--mosaic 3`` also
tiles the split's photos 3x3 into 2,400 x 1,800 px pictures (800 x 600 cells, each photo pasted at
its own size, so face sizes stay the same): the downscale problem of large photos shows there.

Splits (the set's photos in order of their number): ``tune`` = the even positions (settings were
chosen on it), ``check`` = the odd positions (looked at only to report), ``all``.
Writes ``coverage.json`` (summaries, per-photo details, seconds) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from encryptface.config import load_settings, resolve_repo_path
from encryptface.crypto.keys import KdfParams, Password, derive_master_key
from encryptface.evaluation.coverage import (
    Box,
    PhotoCoverage,
    coverage_table,
    load_annotations,
    photo_coverage,
    records_coverage,
    summarise,
)
from encryptface.imaging.codecs import encode_image
from encryptface.pipeline.scrubber import Scrubber

FACEBENCH = "../shared/data/facebench"
CELL = (800, 600)  # mosaic cell, width x height
PASSWORD = b"coverage benchmark password"
BACKGROUND = 127


def photo_number(path: Path) -> int:
    """The number in a photo's name (maksssksksss42.jpg -> 42), for a stable order."""
    digits = re.findall(r"\d+", path.stem)
    return int(digits[-1]) if digits else 0


def split_photos(images: Path, annotated: set[str], split: str) -> list[Path]:
    """The annotated photos of ``split`` in order."""
    photos = sorted((p for p in images.iterdir() if p.stem in annotated),
                    key=lambda p: (photo_number(p), p.name))
    if split == "all":
        return photos
    return photos[0 if split == "tune" else 1::2]


def mosaics(photos: list[tuple[str, np.ndarray, list[Box]]], side: int
            ) -> list[tuple[str, np.ndarray, list[Box]]]:
    """``side`` x ``side`` mosaics of consecutive photos, each pasted at its own size into the
    top-left of an 800 x 600 cell (cropped if larger); boxes moved with them (and clipped)."""
    cell_w, cell_h = CELL
    per = side * side
    result = []
    for start in range(0, len(photos) - per + 1, per):
        canvas = np.full((cell_h * side, cell_w * side, 3), BACKGROUND, np.uint8)
        boxes = []
        for k, (_, rgb, photo_boxes) in enumerate(photos[start:start + per]):
            ox, oy = (k % side) * cell_w, (k // side) * cell_h
            h, w = min(rgb.shape[0], cell_h), min(rgb.shape[1], cell_w)
            canvas[oy:oy + h, ox:ox + w] = rgb[:h, :w]
            for b in photo_boxes:
                x0, y0, x1, y1 = max(0, b.x0), max(0, b.y0), min(w, b.x1), min(h, b.y1)
                if x1 > x0 and y1 > y0:
                    boxes.append(Box(x0 + ox, y0 + oy, x1 + ox, y1 + oy, b.label))
        result.append((f"mosaic{side}x{side}_{start // per}", canvas, boxes))
    return result


def measure(scrubber: Scrubber, photos: list[tuple[str, np.ndarray, list[Box]]],
            detect_only: bool, key: object) -> tuple[list[PhotoCoverage], float]:
    """Coverage of every photo, and the seconds spent scrubbing (or detecting)."""
    results, seconds = [], 0.0
    for name, rgb, boxes in photos:
        if detect_only:
            started = time.perf_counter()
            faces = scrubber.detector.detect(rgb, uncertain=True)
            seconds += time.perf_counter() - started
            results.append(photo_coverage(name, boxes, [f.bbox for f in faces]))
            continue
        data = encode_image(rgb, "png")
        started = time.perf_counter()
        row = scrubber.scrub(name, name, data, key)
        seconds += time.perf_counter() - started
        if row["error"]:
            raise RuntimeError(f"{name}: {row['error']}")
        judged, _ = records_coverage([row], {name: boxes}, lambda _uri, d=data: d,
                                     scrubber.settings.images)
        results += judged
    return results, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default=f"{FACEBENCH}/images")
    parser.add_argument("--annotations", default=f"{FACEBENCH}/annotations")
    parser.add_argument("--split", choices=("tune", "check", "all"), default="tune")
    parser.add_argument("--mosaic", default="0", help="comma list: 0 = the photos as they are, "
                        "N = N x N mosaics of 800 x 600 cells")
    parser.add_argument("--mode", default="seal")
    parser.add_argument("--detect-only", action="store_true",
                        help="detector recall only (no scrub, no covered share): for tuning")
    parser.add_argument("--limit", type=int, default=0, help="first N photos of the split only")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--output", default="out/coverage")
    parser.add_argument("--label", default="", help="name of this run in the table")
    args = parser.parse_args(argv)

    settings = load_settings(overrides=args.overrides)
    images = resolve_repo_path(args.images)
    annotations = load_annotations(resolve_repo_path(args.annotations))
    chosen = split_photos(images, set(annotations), args.split)
    if args.limit:
        chosen = chosen[:args.limit]
    if not chosen:
        print(f"error: no annotated photos in {images}", file=sys.stderr)
        return 2
    photos = []
    for path in chosen:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        photos.append((path.stem, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), annotations[path.stem]))
    scrubber = Scrubber(settings, args.mode, threads=1)
    key = derive_master_key(Password(PASSWORD), KdfParams(14, 8, 1, b"coverage-bench-salt"))
    label = args.label or ("detector" if args.detect_only else args.mode)
    summaries, details = {}, {}
    for side in (int(s) for s in args.mosaic.split(",")):
        inputs = photos if side == 0 else mosaics(photos, side)
        results, seconds = measure(scrubber, inputs, args.detect_only, key)
        name = f"{label} {args.split}" + ("" if side == 0 else f" {side}x{side} mosaic")
        summary = summarise(results)
        megapixels = sum(p[1].shape[0] * p[1].shape[1] for p in inputs) / 1e6
        summary.update(seconds=seconds, megapixels=megapixels,
                       seconds_per_photo=seconds / len(inputs),
                       seconds_per_megapixel=seconds / megapixels)
        summaries[name] = summary
        details[name] = [r.to_json() for r in results]
        print(f"{name}: {len(inputs)} photos, {megapixels:.1f} MP, {seconds:.1f} s "
              f"({seconds / megapixels:.2f} s/MP)", flush=True)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "coverage.json").write_text(json.dumps(
        {"overrides": args.overrides, "summaries": summaries, "photos": details}, indent=1))
    print(coverage_table(summaries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
