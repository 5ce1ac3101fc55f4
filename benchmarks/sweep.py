"""Settings sweep in one plain process: evaluate a mode over a grid of settings on an
identity-disjoint LFW split (e.g. the cloak's budget x steps table).

    python -m benchmarks.sweep --mode cloak --faces 60 --grid cloak.epsilon=2,4,8 --grid cloak.steps=2,6,12
    python -m benchmarks.sweep --mode cloak --grid cloak.surrogates=facenet,facenet+mobilefacenet
    python -m benchmarks.sweep --split tuning --grid stylegan.mask_width=1.45,1.9
    python -m benchmarks.sweep --faces 100 --gallery 8 --gallery-group dark
    python -m benchmarks.sweep --faces 40 --group dark --gallery 40

``--group`` evaluates only people whose first photo the attribute judge (FaceNet, which no
generator reads) clearly sees as of that appearance group: a random 100 validation people hold
about one dark-skinned person, too few to say whether the stand-ins keep their appearance.

Each person of the split with two photos: the first photo is scrubbed on ONE core (so s/photo is
per core), the second is the reference. Measurement and metrics are those of ``jobs/evaluate.py``
(:mod:`encryptface.evaluation.measure`). Writes ``metrics.json``, ``report.html`` and each run's
per-face measurements (``faces-N.json``); prints the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from encryptface.archive.schema import STATUS_OK
from encryptface.config import Settings, SettingsError, load_settings, parse_bool
from encryptface.crypto.keys import KdfParams, KeyRing, Password, derive_master_key
from encryptface.evaluation.aggregate import aggregate
from encryptface.evaluation.attributes import (
    CLASSES,
    AttributeJudge,
    clear_label,
    judge_embedding,
    judged_label,
)
from encryptface.evaluation.expression import DenseLandmarks
from encryptface.evaluation.measure import Evaluator, central_face
from encryptface.evaluation.report import console_table, gallery_head, summary_table, write_report
from encryptface.faces.detection import FaceDetector
from encryptface.faces.recognition import RECOGNIZER_NAMES
from encryptface.imaging.codecs import decode_image
from encryptface.modes import MODE_NAMES, is_reversible
from encryptface.pipeline.scrubber import Scrubber
from encryptface.runtime import limit_threads
from encryptface.training.data import identity_images, split_identities
from jobs.common import add_settings_options, configure_logging

log = logging.getLogger("encryptface.jobs.sweep")


def split_people(settings: Settings, split: str, count: int, group: str | None = None) -> list[list[Path]]:
    """Photo lists of the first ``count`` people with two or more photos in ``split``
    ("validation": the held-out identities; "tuning": the others); with ``group``, only people
    whose first photo the attribute judge clearly sees as of that appearance group."""
    data, names = split_identities(settings, split)
    of_group = None if group is None else _group_judge(settings)
    chosen = []
    for name in names:
        photos = identity_images(data, [name])
        if len(photos) >= 2 and (of_group is None or of_group(photos[0]) == group):
            chosen.append(photos)
        if len(chosen) == count:
            break
    if group is not None:
        log.info("%d people of %s judged %s", len(chosen), split, group)
    return chosen


def _group_judge(settings: Settings) -> Callable[[Path], str | None]:
    """photo -> the appearance group the attribute judge clearly sees in its central face."""
    detector, dense, judge = FaceDetector(settings.detection), DenseLandmarks(threads=1), AttributeJudge()

    def group_of(path: Path) -> str | None:
        rgb = decode_image(path.read_bytes(), settings.images)[0]
        face = central_face(detector, rgb)
        if face is None:
            return None
        embedding = judge_embedding(rgb, face.bbox, dense.points(rgb, face.bbox))
        return clear_label(judge.probabilities(embedding)["group"])
    return group_of


def grid_settings(settings: Settings, grid: list[str]) -> list[tuple[dict, Settings]]:
    """Every combination of ``section.key=v1,v2`` values, applied on top of ``settings`` (an
    unknown setting is a ``ValueError`` naming it)."""
    axes = []
    for item in grid:
        dotted, _, values = item.partition("=")
        axes.append([(dotted, value) for value in values.split(",")])
    combos = []
    for combo in itertools.product(*axes):
        current = settings
        for dotted, value in combo:
            section, _, key = dotted.partition(".")
            part = getattr(current, section, None)
            if part is None or not hasattr(part, key):
                raise ValueError(f"{dotted}: not a setting")
            current = current.replace(**{section: dataclasses.replace(
                part, **{key: parse_value(type(getattr(part, key)), value, dotted)})})
        combos.append((dict(combo), current))
    return combos


def parse_value(kind: type, value: str, name: str) -> object:
    """A grid value as the setting's type; list settings take "+"-joined items
    (``cloak.surrogates=facenet,facenet+mobilefacenet``)."""
    if kind in (list, tuple):
        return kind(value.split("+"))
    return parse_bool(value, name) if kind is bool else kind(value)


def run(settings: Settings, mode: str, persons: list[list[Path]], recognizers: list[str],
        wrong: int, gallery: int, gallery_group: str | None = None) -> tuple[list[dict], list[list[bytes]]]:
    """Scrub the first photo of each person, measure against the second; (each face's
    measurements, gallery of the first ``gallery`` faces and of every face whose original is
    judged of ``gallery_group``)."""
    scrubber = Scrubber(settings, mode, threads=1)
    # The evaluator restores (and renders decoys) with the same settings the photos were scrubbed
    # with: a stylegan.KEY variant's decoys come from that variant's model, not the shipped one.
    evaluator = Evaluator(settings, recognizers, threads=1)
    master, keys, wrong_rings = None, None, []
    if scrubber.mode.reversible:
        password = Password(b"sweep password")
        master = derive_master_key(password, KdfParams.fresh(settings.kdf))
        keys = KeyRing(password, {master.kdf_json: master})
        wrong_rings = [KeyRing(Password(f"wrong {i}".encode())) for i in range(wrong)]
    measurements, thumbnails, firsts = [], [], 0
    for count, photos in enumerate(persons, 1):
        data = photos[0].read_bytes()
        row = scrubber.scrub(str(photos[0]), f"{photos[0].parent.name}/{photos[0].name}", data, master)
        if row["status"] != STATUS_OK:
            continue
        first = firsts < gallery
        measurement, pictures = evaluator.evaluate_record(row, data, photos[1].read_bytes(), keys,
                                                          wrong_rings, first or gallery_group is not None)
        measurements.append(measurement)
        if pictures and (first or judged_label(measurement, "group") == gallery_group):
            thumbnails.append(pictures)
            firsts += first
        if count % 20 == 0:
            log.info("%s: %d / %d people", mode, count, len(persons))
    return measurements, thumbnails


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="encrypt", choices=MODE_NAMES)
    parser.add_argument("--faces", type=int, default=100, help="people evaluated (one face each)")
    parser.add_argument("--split", default="validation", choices=("validation", "tuning"))
    parser.add_argument("--recognizers", default=",".join(RECOGNIZER_NAMES))
    parser.add_argument("--wrong", type=int, default=3, help="wrong passwords per face")
    parser.add_argument("--grid", action="append", default=[], metavar="SECTION.KEY=V1,V2")
    parser.add_argument("--gallery", type=int, default=16)
    parser.add_argument("--gallery-group", choices=CLASSES["group"],
                        help="also show every face whose original the attribute judge clearly sees "
                        "as of this appearance group (e.g. dark: every dark-skinned person)")
    parser.add_argument("--group", choices=CLASSES["group"],
                        help="evaluate only people the attribute judge clearly sees as of this "
                        "appearance group")
    parser.add_argument("--output", default="out/sweep")
    add_settings_options(parser)
    args = parser.parse_args(argv)
    limit_threads(1)
    try:
        settings = load_settings(args.conf, ["kdf.n_log2=14", *args.set])
    except SettingsError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    persons = split_people(settings, args.split, args.faces, args.group)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    runs, gallery = [], []
    for number, (combo, current) in enumerate(grid_settings(settings, args.grid)):
        started = time.perf_counter()
        measurements, pictures = run(current, args.mode, persons, args.recognizers.split(","), args.wrong,
                                0 if gallery else args.gallery, None if gallery else args.gallery_group)
        gallery = gallery or pictures
        # each face's measurements, for questions the summary does not answer
        (output / f"faces-{number}.json").write_text(json.dumps({"settings": combo, "faces": measurements}))
        runs.append({"settings": combo, "metrics": aggregate(measurements),
                     "wall_seconds": round(time.perf_counter() - started, 1)})
        print(console_table(*summary_table(runs[-1:])), flush=True)
    (output / "metrics.json").write_text(json.dumps({"mode": args.mode, "split": args.split,
                                                     "runs": runs}, indent=1))
    write_report(output / "report.html", f"EncryptFace sweep: mode {args.mode}, {args.split} split",
                 runs, gallery, gallery_head(is_reversible(args.mode)))
    print(console_table(*summary_table(runs)))
    print(f"written: {output / 'metrics.json'}, {output / 'report.html'}")
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
