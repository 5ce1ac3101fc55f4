"""What every job shares: command-line options and turning them into settings, driver logging,
and the SparkSession."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

from pyspark.sql import SparkSession

from encryptface.config import Settings, SettingsError, SparkSettings, load_settings
from encryptface.generators import GENERATORS
from encryptface.runtime import LOG_FORMAT


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """--conf and --set, which :func:`settings_from` reads."""
    parser.add_argument("--conf", help="settings file overlaid on conf/default.toml")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one setting (repeatable)")


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """The Spark jobs' options: the settings ones, --master, --endpoint-url, --generator,
    --password-file."""
    add_settings_options(parser)
    parser.add_argument("--master", help="Spark master (default: spark.master in the settings)")
    parser.add_argument("--endpoint-url", help="S3-compatible endpoint (default: AWS_ENDPOINT_URL)")
    parser.add_argument("--generator", help="encrypt-mode generator: stylegan, prior, a prior model "
                        "folder, or diffusers:<local dir> (sets encrypt.generator / encrypt.prior_model)")
    parser.add_argument("--password-file", help="file whose first line is the password "
                        "(else ENCRYPTFACE_PASSWORD, else a prompt); never pass it in argv")


def job_parser(command: str, doc: str) -> argparse.ArgumentParser:
    """The parser of Spark job ``command``, with the options every job has."""
    parser = argparse.ArgumentParser(prog=f"encryptface {command}", description=doc.splitlines()[0])
    add_common_options(parser)
    return parser


def parse_job_args(parser: argparse.ArgumentParser,
                   argv: list[str] | None) -> tuple[argparse.Namespace, Settings]:
    """The parsed flags and the settings they make (a bad setting exits 2, as a bad flag does)."""
    args = parser.parse_args(argv)
    return args, settings_or_exit(parser, args)


def settings_or_exit(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Settings:
    """:func:`settings_from`, checked once here on the driver: a bad ``--set``, env var or settings
    file ends the command like a bad flag, with one line on stderr and exit status 2."""
    try:
        return settings_from(args)
    except SettingsError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the files, env and the flags in ``args`` (any of the options above)."""
    settings = load_settings(args.conf, args.set)
    generator, endpoint_url = getattr(args, "generator", None), getattr(args, "endpoint_url", None)
    if generator in GENERATORS:
        settings = settings.replace(encrypt=dataclasses.replace(settings.encrypt, generator=generator))
    elif generator:  # a model of the prior's interface: its folder, or diffusers:<dir>
        settings = settings.replace(
            encrypt=dataclasses.replace(settings.encrypt, generator="prior", prior_model=generator))
    if endpoint_url:
        settings = settings.replace(
            storage=dataclasses.replace(settings.storage, endpoint_url=endpoint_url))
    return settings


class _Py4jInfoFilter(logging.Filter):
    """Drops py4j's INFO records. py4j logs a connection reset it then retries (and Spark's normal
    shutdown) at INFO with a traceback, partly through the root logger (``logging.info`` in
    ``java_gateway``), so a logger level alone cannot reach them; its WARNING and ERROR records,
    and everything else logged at INFO, still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or f"{os.sep}py4j{os.sep}" not in record.pathname


def configure_logging() -> None:
    """Driver logging for every job: INFO lines in one format, without py4j's INFO tracebacks."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Py4jInfoFilter())


def spark_session(settings: SparkSettings, master: str | None = None) -> SparkSession:
    """A SparkSession configured for the jobs.

    Under ``spark-submit`` the master and Python come from spark-submit; run directly (the
    ``encryptface`` command, tests), Spark runs in ``settings.master`` with this interpreter.
    """
    builder = SparkSession.builder.appName(settings.app_name)
    launched_by_spark_submit = "PYSPARK_GATEWAY_PORT" in os.environ
    if not launched_by_spark_submit:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        master = master or settings.master
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.master(master)
        builder = builder.config("spark.ui.showConsoleProgress", "true")
        builder = builder.config("spark.driver.memory", "2g")
    elif master:
        builder = builder.master(master)
    builder = (builder
               .config("spark.sql.parquet.compression.codec", "zstd")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(settings.batch_size))
               .config("spark.sql.files.maxRecordsPerFile", str(settings.max_records_per_file))
               # Records hold whole photos: the default 4096-row reader batches of 60 KB images ran
               # a 2 GB JVM out of heap reading 100,000 records (benchmarks/verify_scale.py).
               .config("spark.sql.parquet.columnarReaderBatchSize", "256")
               # One Python worker per core keeps the loaded models warm across tasks.
               .config("spark.python.worker.reuse", "true")
               .config("spark.sql.shuffle.partitions", "8"))
    if settings.task_cpus:
        builder = builder.config("spark.task.cpus", str(settings.task_cpus))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
