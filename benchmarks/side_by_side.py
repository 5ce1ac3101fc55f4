"""Stand-ins of the same faces with the same keys under settings variants, side by side: a PNG
sheet to look at (each row: the photo's face, then one published face per variant).

    python -m benchmarks.side_by_side --grid stylegan.unclear_group_tolerance=0,0.3 --unclear-group
    python -m benchmarks.side_by_side --grid stylegan.halo_levels=0,25 --faces 12 --samples

Faces: the first photo of the first ``--faces`` people of the split with two or more photos (the
people the sweep evaluates); with ``--unclear-group`` only those whose appearance group the
stylegan photo reader does not read clearly (probability under ``stylegan.demographic_certainty``);
with ``--samples`` also every face of the package's sample photos (``make demo``'s).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import cv2
import numpy as np

from benchmarks.sweep import grid_settings, split_people
from encryptface.config import SAMPLES_DIR, SettingsError, load_settings, resolve_weight
from encryptface.evaluation.html import face_crop
from encryptface.faces.cover import box_changed_share
from encryptface.faces.detection import FaceDetector
from encryptface.imaging.codecs import decode_image
from encryptface.models.stylegan_generator import StyleGANGenerator
from encryptface.runtime import limit_threads
from jobs.common import add_settings_options, configure_logging

TILE = 160
MIN_FACE = 40  # px: smaller faces are too small to look at in a tile


def face_tile(image: np.ndarray, bbox: tuple[float, ...]) -> np.ndarray:
    """The face's box grown by 45 % each side (the report's :func:`face_crop`), as a TILE x TILE
    square."""
    return cv2.resize(face_crop(image, bbox, margin=0.45), (TILE, TILE), interpolation=cv2.INTER_AREA)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="append", default=[], metavar="SECTION.KEY=V1,V2")
    parser.add_argument("--split", default="validation", choices=("validation", "tuning"))
    parser.add_argument("--faces", type=int, default=200)
    parser.add_argument("--unclear-group", action="store_true")
    parser.add_argument("--samples", action="store_true")
    parser.add_argument("--columns", type=int, default=3)
    parser.add_argument("--output", default="out/side-by-side.png")
    add_settings_options(parser)
    args = parser.parse_args(argv)
    limit_threads(1)
    try:
        settings = load_settings(args.conf, args.set)
        variants = grid_settings(settings, args.grid)
    except (SettingsError, ValueError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    detector = FaceDetector(settings.detection)
    generators = [StyleGANGenerator(resolve_weight(v.stylegan.model), v.stylegan, v.detection, threads=1)
                  for _, v in variants]
    reader = generators[0]
    photos = [people[0] for people in split_people(settings, args.split, args.faces)]
    if args.samples:
        photos += sorted(SAMPLES_DIR.glob("*.jpg"))
    tiles = []
    for path in photos:
        rgb = decode_image(path.read_bytes(), settings.images)[0]
        faces = [f for f in detector.detect(rgb) if f.bbox[2] >= MIN_FACE]
        for number, face in enumerate(faces):
            landmarks = np.asarray(face.landmarks, np.float64)
            if args.unclear_group and path.parent != SAMPLES_DIR:
                descriptor = reader.describe(reader.align(rgb, landmarks), landmarks)
                group = reader.demographics.photo_probabilities(descriptor[None])["group"][0]
                if group.max() >= settings.stylegan.demographic_certainty:
                    continue
            key = hashlib.sha256(f"{path.name} {number}".encode()).digest()   # the same in every variant
            row, covered = [face_tile(rgb, face.bbox)], []
            for generator in generators:
                aligned = generator.align(rgb, landmarks)
                stand_in = generator.keyed_stand_in(rgb, aligned, landmarks, key, face.bbox)
                published = rgb if stand_in is None else generator.published_photo(rgb, stand_in)
                row.append(face_tile(published, face.bbox))
                covered.append(0.0 if stand_in is None
                               else box_changed_share(rgb, stand_in.region, stand_in.pixels, face.bbox))
            tiles.append(np.hstack(row))
            # the share of the detected box each variant changed (under stylegan.min_covered: sealed)
            print(f"{len(tiles):3d} {path.name} covered: {' '.join(f'{c:.2f}' for c in covered)}", flush=True)
    if not tiles:
        parser.exit(1, f"{parser.prog}: no face to show\n")
    while len(tiles) % args.columns:
        tiles.append(np.zeros_like(tiles[0]))
    sheet = np.vstack([np.hstack(tiles[r:r + args.columns]) for r in range(0, len(tiles), args.columns)])
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(output), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    names = [", ".join(f"{k}={v}" for k, v in combo.items()) or "settings as loaded" for combo, _ in variants]
    print(f"written: {output} (columns: photo, {'; '.join(names)})")
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
