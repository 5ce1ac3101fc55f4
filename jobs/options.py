"""Command-line options every job shares, and turning them into settings."""

from __future__ import annotations

import argparse
import dataclasses

from encryptface.config import Settings, load_settings


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """--conf, --set, --master, --endpoint-url, --password-file."""
    parser.add_argument("--conf", help="settings file overlaid on conf/default.toml")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one setting (repeatable)")
    parser.add_argument("--master", help="Spark master (default: spark.master in the settings)")
    parser.add_argument("--endpoint-url", help="S3-compatible endpoint (default: AWS_ENDPOINT_URL)")
    parser.add_argument("--generator", help="encrypt-mode generator: stylegan, prior, a prior model "
                        "folder, or diffusers:<local dir> (sets encrypt.generator / encrypt.model)")
    parser.add_argument("--password-file", help="file whose first line is the password "
                        "(else ENCRYPTFACE_PASSWORD, else a prompt); never pass it in argv")


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the files, env and the flags in ``args``."""
    settings = load_settings(args.conf, args.set)
    if args.generator in ("stylegan", "prior"):
        settings = settings.replace(
            encrypt=dataclasses.replace(settings.encrypt, generator=args.generator))
    elif args.generator:  # a model of the prior's interface: its folder, or diffusers:<dir>
        settings = settings.replace(
            encrypt=dataclasses.replace(settings.encrypt, generator="prior", model=args.generator))
    if args.endpoint_url:
        settings = settings.replace(
            storage=dataclasses.replace(settings.storage, endpoint_url=args.endpoint_url))
    return settings
