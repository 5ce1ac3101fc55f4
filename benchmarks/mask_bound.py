"""How much of a person a recogniser still sees outside the stylegan generator's mask: the face of a
REAL other person (an LFW photo of someone else) is blended into each photo exactly as a stand-in
is (same mask, colour and detail matching, Poisson), then matched to another photo of the person.
No generator can do better than this through the same mask, so it separates what the mask keeps
(hair, ears, head outline, background) from what the generated face gives away.

    python -m benchmarks.mask_bound --split tuning --faces 40 --grid stylegan.mask_width=1.45,1.7

``--donors alike`` takes, for each photo, the two donors of the pool whose sex, age range and
colouring (the generator encoder's attribute coordinates) are nearest the photo's, as the
generator's stand-ins and decoys are matched; ``other`` (the default) takes two fixed other people.

Per setting: the share of faces matched to the person's other photo, and the share of two donors'
faces of one photo judged the same person, by each recogniser at its calibrated threshold (FAR 0.01
on LFW pairs, ``[recognition]``); published as JPEG q90 and re-detected, as ``evaluate`` does.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.sweep import grid_settings, split_people
from encryptface.config import resolve_weight
from encryptface.faces.alignment import Aligner
from encryptface.faces.detection import Face, FaceDetector, nearest_centre
from encryptface.faces.recognition import load_recognizer
from encryptface.imaging.codecs import decode_image, encode_image
from encryptface.models.stylegan_generator import StyleGANGenerator
from encryptface.runtime import limit_threads
from jobs.common import add_settings_options, configure_logging, settings_or_exit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=40)
    parser.add_argument("--split", default="tuning", choices=("validation", "tuning"))
    parser.add_argument("--recognizers", default="dlib,facenet,arcface")
    parser.add_argument("--grid", action="append", default=[], metavar="stylegan.KEY=V1,V2")
    parser.add_argument("--donors", default="other", choices=("other", "alike"),
                        help="two fixed other people per photo, or the two nearest its attributes")
    parser.add_argument("--output", default="out/mask-bound")
    add_settings_options(parser)
    args = parser.parse_args(argv)
    limit_threads(1)
    settings = settings_or_exit(parser, args)
    people = split_people(settings, args.split, 3 * args.faces)
    persons, donors = people[:args.faces], [photos[0] for photos in people[args.faces:]]
    detector = FaceDetector(settings.detection)
    recognizers = {name: load_recognizer(name, settings.recognition) for name in args.recognizers.split(",")}

    def read(path: Path) -> np.ndarray:
        return decode_image(path.read_bytes(), settings.images)[0]

    def embed(name: str, rgb: np.ndarray) -> np.ndarray | None:
        face = nearest_centre(detector.detect(rgb), rgb.shape)
        return None if face is None else recognizers[name].embed(rgb, face)

    print(f"{'setting':<50} " + " ".join(f"{n + ' matched / pairs same':>28}" for n in recognizers))
    for combo, current in grid_settings(settings, args.grid):
        generator = StyleGANGenerator(resolve_weight(current.stylegan.model), current.stylegan,
                                      current.detection, 1)
        choose = alike_donors(generator, Aligner(current.alignment), detector, donors, read) \
            if args.donors == "alike" else None
        matched = {name: [] for name in recognizers}
        same = {name: [] for name in recognizers}
        for index, photos in enumerate(persons):
            photo, reference = read(photos[0]), read(photos[1])
            face = nearest_centre(detector.detect(photo), photo.shape)
            published = []
            pair = (donors[index], donors[index + args.faces]) if choose is None or face is None \
                else choose(photo, face)
            for donor in pair:
                blended = None if face is None else generator.blend(read(donor), photo, face.landmarks)
                if blended is not None:
                    swapped = photo.copy()
                    swapped[blended[0].slices] = blended[1]
                    published.append(decode_image(encode_image(swapped, "jpeg", 90), settings.images)[0])
            if len(published) < 2:
                continue
            for name, recognizer in recognizers.items():
                first, second, other = (embed(name, image) for image in (*published, reference))
                if first is None or second is None or other is None:
                    continue
                matched[name].append(recognizer.same_person(first, other))
                same[name].append(recognizer.same_person(first, second))
        label = ", ".join(f"{k}={v}" for k, v in combo.items()) or "shipped"
        cells = [f"{np.mean(matched[n]):>13.3f} / {np.mean(same[n]):.2f} (n={len(matched[n])})"
                 for n in recognizers]
        print(f"{label:<50} " + " ".join(cells), flush=True)
    return 0


def alike_donors(generator: StyleGANGenerator, aligner: Aligner, detector: FaceDetector,
                 donors: list[Path], read: Callable[[Path], np.ndarray]
                 ) -> Callable[[np.ndarray, Face], list[Path]]:
    """A function (photo, face) -> the two donors whose attribute coordinates (sex, age range,
    colouring, as the generator's encoder reads them) are nearest the photo face's."""
    def coordinates(rgb: np.ndarray, face: Face) -> np.ndarray:
        style = generator.read_photo(aligner.align(rgb, face), face.landmarks)[0]
        return generator.fit.attributes(style[None])[0]

    pool, points = [], []
    for donor in donors:
        rgb = read(donor)
        face = nearest_centre(detector.detect(rgb), rgb.shape)
        if face is not None:
            pool.append(donor)
            points.append(coordinates(rgb, face))
    points = np.stack(points)

    def choose(photo: np.ndarray, face: Face) -> list[Path]:
        gap = ((points - coordinates(photo, face)) ** 2).sum(1)
        return [pool[i] for i in np.argsort(gap)[:2]]
    return choose


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
