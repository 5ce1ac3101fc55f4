"""Spark job: restore the original faces of a scrub output with the password.

    spark-submit jobs/restore.py --input /data/scrubbed --output s3://bucket/restored --password-file F
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import sys
import time

from pyspark.sql import DataFrame
from pyspark.sql.pandas.types import from_arrow_schema

from encryptface.archive.output import TABLE, check_output_uri, records_path
from encryptface.archive.schema import RESTORE_SCHEMA, STATUS_ERROR, STATUS_OK, STATUS_SKIPPED
from encryptface.config import Settings
from encryptface.crypto.keys import DecryptionError, KeyRing, PasswordError, read_password
from encryptface.pipeline.batch import restore_batches
from encryptface.pipeline.restorer import Restorer
from jobs.common import configure_logging, job_parser, parse_job_args, spark_session
from jobs.records import records_frame
from jobs.tables import restore_table

log = logging.getLogger("encryptface.jobs.restore")


def unlock(records: DataFrame, keys: KeyRing, settings: Settings, check: bool = True) -> KeyRing:
    """Derive the master key of every KDF setting in ``records`` and (``check``) try the password
    on one face of each, so that a wrong password stops the job before anything is written."""
    faces = records.where("size(faces) > 0").selectExpr("source_sha256", "deidentified_image",
                                                        "faces")
    per_kdf = faces.selectExpr("faces[0].kdf AS kdf", "struct(*) AS row") \
        .groupBy("kdf").agg({"row": "first"}).collect()
    restorer = Restorer(settings)
    for kdf, row in per_kdf:
        keys.get(kdf)
        if check:
            restorer.restore(row.asDict(recursive=True), keys, decoys=False)  # raises DecryptionError
    return keys


def transform(records: DataFrame, settings: Settings, keys: KeyRing, output_uri: str) -> DataFrame:
    """Contract rows -> one restore-result row per photo; photos are written to ``output_uri``."""
    work = functools.partial(restore_batches, settings=settings, keys=keys, output_uri=output_uri,
                             threads=settings.spark.threads_per_task)
    return records.mapInArrow(work, from_arrow_schema(RESTORE_SCHEMA))


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Settings]:
    """The job's flags and the settings they make."""
    parser = job_parser("restore", __doc__)
    parser.add_argument("--input", required=True, help="scrub output folder or s3:// prefix (or its "
                        "records dataset)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--output", help="folder or s3:// prefix for restored photos")
    target.add_argument("--output-table", help="a table scrub (--image-column --output-table): write "
                        "its table here (folder or s3://) with the original photos, same schema")
    parser.add_argument("--decoys", action="store_true",
                        help="a wrong password renders decoy faces (stylegan records) instead of "
                             "stopping the job (sets encrypt.decoys)")
    return parse_job_args(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_args(argv)
    if args.decoys:
        settings = settings.replace(encrypt=dataclasses.replace(settings.encrypt, decoys=True))
    started = time.perf_counter()
    try:
        keys = KeyRing(read_password(args.password_file))
    except PasswordError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    spark = spark_session(settings.spark, args.master)
    try:
        check_output_uri(args.output or args.output_table)
        records = records_frame(spark, args.input, settings)
        table_of = str(records_path(args.input, settings.storage)) if args.output_table else None
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        # With decoys a wrong password is not an error: the keys are derived, not checked.
        keys = unlock(records, keys, settings, check=not settings.encrypt.decoys)
    except DecryptionError as exc:
        print(f"error: {exc}; nothing was written", file=sys.stderr)
        return 2
    if table_of:
        try:
            counts = restore_table(spark, table_of, args.output_table, settings, keys)
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"restored {counts.restored} rows ({counts.faces} faces), {counts.skipped} without an "
              f"image, {counts.errors} errors in {time.perf_counter() - started:.1f}s -> "
              f"{records_path(args.output_table, settings.storage, TABLE)}")
        return 1 if counts.errors else 0
    results = transform(records, settings, keys, args.output).cache()
    counts = dict(results.groupBy("status").count().collect())
    failures = results.where(f"status = '{STATUS_ERROR}'").select("source_uri", "error").limit(20).collect()
    faces = results.selectExpr("coalesce(sum(faces_restored), 0)").first()[0]
    seconds = time.perf_counter() - started
    print(f"restored {counts.get(STATUS_OK, 0)} photos ({faces} faces), skipped "
          f"{counts.get(STATUS_SKIPPED, 0)} without an image, {counts.get(STATUS_ERROR, 0)} errors in "
          f"{seconds:.1f}s -> {args.output}")
    for failure in failures:
        print(f"  error: {failure.source_uri}: {failure.error}", file=sys.stderr)
    return 1 if counts.get(STATUS_ERROR) else 0


if __name__ == "__main__":
    configure_logging()
    sys.exit(main())
