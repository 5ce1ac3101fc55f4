"""The `encryptface` command: one entry point over the jobs and the library.

    encryptface scrub    --input URI --output DIR [--mode encrypt|seal|cloak] [--password-file F]
    encryptface restore  --input DIR --output DIR-or-URI [--password-file F]
    encryptface evaluate --originals URI --scrubbed DIR --output DIR [--password-file F]
    encryptface verify   --records DIR --probe IMAGE [--password-file F]
    encryptface gallery  --records DIR [--restored DIR-or-URI] [--decoys DIR ...] --output FILE.html
    encryptface train-generator [--set training.KEY=VALUE]
    encryptface train-stylegan  [--set stylegan_training.KEY=VALUE]
"""

from __future__ import annotations

import argparse
import sys

from encryptface.config import load_settings
from jobs.session import configure_logging

COMMANDS = ("scrub", "restore", "evaluate", "verify", "gallery", "train-generator", "train-stylegan")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    configure_logging()
    command, rest = argv[0], argv[1:]
    if command == "scrub":
        from jobs import scrub
        return scrub.main(rest)
    if command == "restore":
        from jobs import restore
        return restore.main(rest)
    if command == "evaluate":
        from jobs import evaluate
        return evaluate.main(rest)
    if command == "train-generator":
        from jobs import train_generator
        return train_generator.main(rest)
    if command == "train-stylegan":
        from jobs import train_stylegan
        return train_stylegan.main(rest)
    if command == "verify":
        return verify_main(rest)
    return gallery_main(rest)


def verify_main(argv: list[str]) -> int:
    """Two-factor check; exit 0 when a record matches both the probe face and the password."""
    import pyarrow.dataset as ds

    from encryptface.crypto import KeyRing, PasswordError, read_password
    from encryptface.detection import FaceDetector
    from encryptface.images import ImageError
    from encryptface.output import records_path
    from encryptface.recognition import DlibRecognizer
    from encryptface.verify import find_matches, probe_embedding

    parser = argparse.ArgumentParser(prog="encryptface verify", description=verify_main.__doc__)
    parser.add_argument("--records", required=True, help="scrub output folder")
    parser.add_argument("--probe", required=True, help="photo of the person to verify")
    parser.add_argument("--conf")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--password-file")
    args = parser.parse_args(argv)
    settings = load_settings(args.conf, args.set)
    try:
        keys = KeyRing(read_password(args.password_file))
        recognizer = DlibRecognizer(settings.recognition.match_threshold)
        with open(args.probe, "rb") as fh:
            probe = probe_embedding(fh.read(), settings, FaceDetector(settings.detection), recognizer)
    except (PasswordError, ImageError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    dataset = ds.dataset(records_path(args.records), format="parquet")
    rows = (row for batch in dataset.to_batches(batch_size=64) for row in batch.to_pylist())
    matches = list(find_matches(rows, probe, keys, settings, recognizer))
    for match in matches:
        print(f"match: {match.source_uri} face {match.face_index} (distance {match.distance:.3f})")
    if not matches:
        print("no record matches this face and password")
    return 0 if matches else 1


def gallery_main(argv: list[str]) -> int:
    """Write the HTML gallery of a scrub output."""
    from encryptface.gallery import write_gallery

    parser = argparse.ArgumentParser(prog="encryptface gallery", description=gallery_main.__doc__)
    parser.add_argument("--records", required=True, help="scrub output folder")
    parser.add_argument("--restored", help="where `encryptface restore` wrote the photos")
    parser.add_argument("--output", required=True, help="HTML file to write")
    parser.add_argument("--decoys", action="append", default=[],
                        help="where `encryptface restore --decoys` wrote a wrong password's photos "
                             "(repeatable: one column each)")
    parser.add_argument("--max-faces", type=int, default=50)
    parser.add_argument("--conf")
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args(argv)
    path = write_gallery(args.records, args.output, load_settings(args.conf, args.set),
                         args.restored, args.max_faces, args.decoys)
    print(f"gallery: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
