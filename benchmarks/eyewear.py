"""Glasses that the stylegan stand-in adds to, or takes from, a face: each photo's first image is
protected with ``no_added_eyewear`` off and on (the same key for both), and the eyewear test
(:mod:`encryptface.faces.eyewear`) is run on the photo's face and on the published one.

    python -m benchmarks.eyewear --split validation --faces 150

Prints, per setting, how many photos' faces wear eyewear, on how many bare faces the stand-in
wears it ("added") and on how many bespectacled faces it does not ("taken off").
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib

import numpy as np

from benchmarks.sweep import split_people
from encryptface.config import resolve_weight
from encryptface.faces.alignment import Aligner
from encryptface.faces.detection import nearest_centre
from encryptface.imaging.codecs import decode_image
from encryptface.models.stylegan_generator import StyleGANGenerator
from encryptface.runtime import limit_threads
from jobs.common import add_settings_options, configure_logging, settings_or_exit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=150)
    parser.add_argument("--split", default="validation", choices=("validation", "tuning"))
    add_settings_options(parser)
    args = parser.parse_args(argv)
    configure_logging()
    limit_threads(1)
    settings = settings_or_exit(parser, args)
    generator = StyleGANGenerator(resolve_weight(settings.stylegan.model), settings.stylegan,
                                  settings.detection, 1)
    if generator.eyewear is None:
        parser.error(f"{generator.model_dir} has no eyewear.npz (retrain it with train-stylegan)")
    aligner = Aligner(settings.alignment)

    def wears(image: np.ndarray) -> tuple[bool, object]:
        face = nearest_centre(generator.detector.detect(image), image.shape)
        if face is None:
            return False, None
        return generator.has_eyewear(aligner.align(image, face).crop), face

    outcomes: dict[bool, list[tuple[bool, bool]]] = {False: [], True: []}
    for index, photos in enumerate(split_people(settings, args.split, args.faces)):
        photo = decode_image(photos[0].read_bytes(), settings.images)[0]
        had, face = wears(photo)
        if face is None:
            continue
        key = hashlib.sha256(f"eyewear benchmark {index}".encode()).digest()
        for cap in outcomes:
            generator.settings = dataclasses.replace(generator.settings, no_added_eyewear=cap)
            styles = generator.styles_for(aligner.align(photo, face), face.landmarks, key)
            stand_in = generator.stand_in(photo, face.landmarks, styles)
            if stand_in is None:
                continue
            published = photo.copy()
            published[stand_in.region.slices] = stand_in.pixels
            now, again = wears(published)
            if again is not None:
                outcomes[cap].append((had, now))
    for cap, rows in outcomes.items():
        table = np.array(rows, bool).reshape(-1, 2)
        had, now = table[:, 0], table[:, 1]
        print(f"no_added_eyewear={str(cap).lower():<5}  faces {len(table)}, with eyewear {had.sum()}; "
              f"added {(~had & now).sum()} of {(~had).sum()}, taken off {(had & ~now).sum()} of {had.sum()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
