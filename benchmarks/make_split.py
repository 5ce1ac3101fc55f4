"""Materialise an identity-disjoint split of the training data as a folder of symlinks (identity
folders kept), to scrub and evaluate it like any archive.

    python -m benchmarks.make_split --split validation --limit 500 --output out/lfw-validation
"""

from __future__ import annotations

import argparse
from pathlib import Path

from encryptface.training.data import identity_images, split_identities
from jobs.common import add_settings_options, settings_from


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="validation", choices=("validation", "tuning"),
                        help="validation: identities held out from every fit and setting")
    parser.add_argument("--limit", type=int, default=500, help="photos (first by identity, path)")
    parser.add_argument("--output", required=True)
    add_settings_options(parser)
    args = parser.parse_args(argv)
    data, names = split_identities(settings_from(args), args.split)
    photos = identity_images(data, names)[:args.limit]
    output = Path(args.output)
    for photo in photos:
        link = output / photo.parent.name / photo.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(photo.resolve())
    people = len({p.parent.name for p in photos})
    print(f"{len(photos)} photos of {people} people ({args.split} split) under {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
