"""Train the stylegan generator's encoder and pose model on faces the StyleGAN renders itself.

    encryptface train-stylegan [--conf F] [--set stylegan_training.samples=...] [--output DIR]

Seeded and resumable (rendered chunks are cached in stylegan_training.cache). Writes the model
directory: config.json, styles.npz, samples.png and MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import json
import sys

from encryptface.config import load_settings, resolve_repo_path
from encryptface.training.stylegan_train import train_stylegan
from jobs.session import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="encryptface train-stylegan", description=__doc__.splitlines()[0])
    parser.add_argument("--conf")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--output", help="model directory (default: stylegan_training.output)")
    parser.add_argument("--threads", type=int, default=0, help="OpenVINO threads (0: all cores)")
    args = parser.parse_args(argv)
    settings = load_settings(args.conf, args.set)
    output = resolve_repo_path(args.output or settings.stylegan_training.output)
    metrics = train_stylegan(settings, output, args.threads)
    print(json.dumps(metrics, indent=2))
    print(f"model: {output}")
    return 0


if __name__ == "__main__":
    configure_logging()
    sys.exit(main())
