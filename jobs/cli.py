"""The `encryptface` command: one entry point over the jobs and the library.

    encryptface scrub    --input URI --output DIR [--mode encrypt|seal|cloak] [--password-file F]
    encryptface restore  --input DIR --output DIR-or-URI [--password-file F]
    encryptface evaluate --originals URI --scrubbed DIR --output DIR [--password-file F]
    encryptface verify   --records DIR --probe IMAGE [--photo KEY [--face N]] [--password-file F]
    encryptface gallery  --records DIR [--restored DIR-or-URI] [--decoys DIR ...] --output FILE.html
    encryptface train-prior     [--set prior_training.KEY=VALUE] [--output DIR]
    encryptface train-stylegan  [--set stylegan_training.KEY=VALUE] [--output DIR]
    encryptface demo     --output DIR --password-file F [--wrong-password-file F ...] [--generator G]
"""

from __future__ import annotations

import argparse
import json
import sys

from encryptface.generators import train_commands
from jobs.common import add_settings_options, configure_logging, settings_or_exit

SPARK_JOBS = ("scrub", "restore", "evaluate", "verify")
COMMANDS = (*SPARK_JOBS, "gallery", *train_commands(), "demo")
# Commands that were renamed: refused in one line naming the new one. (Not kept as aliases: one name
# per command, and an old conf's [training] section is refused by the settings anyway.)
RENAMED_COMMANDS = {"train-generator": "train-prior"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in RENAMED_COMMANDS:
        print(f"encryptface: error: {argv[0]} was renamed {RENAMED_COMMANDS[argv[0]]} (settings "
              f"section [prior_training])", file=sys.stderr)
        return 2
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    configure_logging()
    command, rest = argv[0], argv[1:]
    if command in SPARK_JOBS:
        import importlib

        return importlib.import_module(f"jobs.{command}").main(rest)
    if command in train_commands():
        return train_main(command, rest)
    if command == "demo":
        return demo_main(rest)
    return gallery_main(rest)


def demo_main(argv: list[str]) -> int:
    """Scrub the bundled sample photos, restore them, render decoys for wrong passwords and write
    the gallery, in one process and one Spark session (each step is the same job as its command)."""
    from encryptface.config import SAMPLES_DIR
    from jobs import restore, scrub

    parser = argparse.ArgumentParser(prog="encryptface demo", description=demo_main.__doc__)
    parser.add_argument("--input", default=str(SAMPLES_DIR), help="photos (default: the bundled samples)")
    parser.add_argument("--output", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--wrong-password-file", action="append", default=[],
                        help="a wrong password's file: its decoys get a gallery column (repeatable)")
    parser.add_argument("--generator", help="encrypt's generator (default: encrypt.generator in the "
                        "settings, stylegan; prior is the permissive path)")
    args = parser.parse_args(argv)
    out = args.output.rstrip("/")
    steps = [(scrub.main, ["--input", args.input, "--output", out, "--password-file", args.password_file,
                           "--write-images", *(["--generator", args.generator] if args.generator else [])]),
             (restore.main, ["--input", out, "--output", f"{out}/restored",
                             "--password-file", args.password_file])]
    decoys = [f"{out}/decoy-{n}" for n in range(1, len(args.wrong_password_file) + 1)]
    steps += [(restore.main, ["--decoys", "--input", out, "--output", folder, "--password-file", wrong])
              for folder, wrong in zip(decoys, args.wrong_password_file, strict=True)]
    steps.append((gallery_main, ["--records", out, "--restored", f"{out}/restored", "--output",
                                 f"{out}/gallery.html", *(f"--decoys={d}" for d in decoys)]))
    for step, step_args in steps:
        code = step(step_args)
        if code:
            return code
    print(f"Parquet records:      {out}/records\nde-identified photos: {out}/images\n"
          f"restored photos:      {out}/restored\ndecoys (wrong passwords): {', '.join(decoys) or '-'}\n"
          f"gallery:              {out}/gallery.html")
    return 0


def train_main(command: str, argv: list[str]) -> int:
    """Train a generator (seeded; resumable where it caches renders) and print its measured numbers."""
    from encryptface.config import resolve_repo_path

    trained = train_commands()[command]
    section = trained.training_section
    parser = argparse.ArgumentParser(prog=f"encryptface {command}", description=train_main.__doc__)
    add_settings_options(parser)
    parser.add_argument("--output", help=f"model directory (default: {section}.output)")
    parser.add_argument("--threads", type=int, default=0, help="OpenVINO threads (0: all cores)")
    args = parser.parse_args(argv)
    settings = settings_or_exit(parser, args)
    output = resolve_repo_path(args.output or getattr(settings, section).output)
    if trained.name == "prior":
        from encryptface.training.prior_train import train_prior

        metrics = train_prior(settings, output)
    else:
        from encryptface.training.stylegan_train import train_stylegan

        metrics = train_stylegan(settings, output, args.threads)
    print(json.dumps(metrics, indent=2))
    print(f"model: {output}")
    return 0


def gallery_main(argv: list[str]) -> int:
    """Write the HTML gallery of a scrub output."""
    from encryptface.evaluation.gallery import write_gallery

    parser = argparse.ArgumentParser(prog="encryptface gallery", description=gallery_main.__doc__)
    parser.add_argument("--records", required=True, help="scrub output folder")
    parser.add_argument("--restored", help="where `encryptface restore` wrote the photos")
    parser.add_argument("--output", required=True, help="HTML file to write")
    parser.add_argument("--decoys", action="append", default=[],
                        help="where `encryptface restore --decoys` wrote a wrong password's photos "
                             "(repeatable: one column each)")
    parser.add_argument("--max-faces", type=int, default=50)
    add_settings_options(parser)
    args = parser.parse_args(argv)
    settings = settings_or_exit(parser, args)
    path = write_gallery(args.records, args.output, settings, args.restored, args.max_faces, args.decoys)
    print(f"gallery: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
