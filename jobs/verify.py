"""Two-factor verification: does a record match both this probe face and this password?

    encryptface verify --records DIR --probe IMAGE --photo KEY [--face N]   # 1:1, no Spark
    spark-submit jobs/verify.py --records DIR --probe IMAGE                 # 1:N, a Spark job

1:1 reads only the named photo's records (its relative path or source URI) and answers in seconds
whatever the archive's size; a match needs the fused distance under the threshold of
``verify.far_one_to_one``. 1:N scans every record on the executors at ``verify.far``; the probe is
embedded once on the driver and shipped with the task (640 numbers). A wrong password opens no
record (see :mod:`encryptface.pipeline.verify`). Exit 0 with the matches, 1 without any: which
factor failed is never told. ``--matches FILE`` also writes the 1:N matches as Parquet.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql.pandas.types import from_arrow_schema

from encryptface.archive.schema import STATUS_OK, VERIFY_SCHEMA
from encryptface.config import Settings
from encryptface.crypto.keys import KeyRing, PasswordError, read_password
from encryptface.imaging.codecs import ImageError
from encryptface.pipeline.batch import verify_batches
from encryptface.pipeline.verify import (
    Match,
    Verifier,
    matches_batch,
    probe_embedding,
    read_records,
    verify_row,
)
from jobs.common import configure_logging, job_parser, parse_job_args, spark_session
from jobs.records import records_frame

log = logging.getLogger("encryptface.jobs.verify")


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Settings]:
    """The job's flags and the settings they make."""
    parser = job_parser("verify", __doc__)
    parser.add_argument("--records", required=True, help="scrub output folder")
    parser.add_argument("--probe", required=True, help="photo of the person to verify")
    parser.add_argument("--photo", help="1:1: the record's relative path or source URI")
    parser.add_argument("--face", type=int, help="1:1: only this face of the photo")
    parser.add_argument("--matches", help="1:N: also write the matches to this Parquet file")
    return parse_job_args(parser, argv)


# Records with sealed embeddings are small once their image is dropped: big Arrow batches for them.
SEALED_BATCH = 2048
# What verifying a sealed face reads: the record's keys and these fields of each face (Spark prunes
# the rest, i.e. the image and the sealed face regions, from the Parquet scan).
SEALED_FACE_FIELDS = ("kdf", "salt", "mode", "sealed_embedding", "key_check")
SEALED = "forall(faces, f -> f.sealed_embedding IS NOT NULL OR f.kdf IS NULL)"


def transform(records: DataFrame, settings: Settings, probe: np.ndarray, keys: KeyRing) -> list[Match]:
    """The faces of ``records`` that match the probe and open with the keys. Records whose every
    face has a sealed embedding are read without their image and face regions and checked in large
    batches; the others are restored and embedded. Both are spread over every core."""
    spark = records.sparkSession
    work = functools.partial(verify_batches, settings=settings, probe=probe, keys=keys,
                             threads=settings.spark.threads_per_task)
    schema = from_arrow_schema(VERIFY_SCHEMA)
    cores = spark.sparkContext.defaultParallelism
    # Filters on `faces` come after the slim projection: one on the whole struct would make Spark
    # read every face field (the sealed regions too) for every record.
    with_faces = f"status = '{STATUS_OK}' AND size(faces) > 0"
    rows = []
    if "sealed_embedding" in records.schema["faces"].dataType.elementType.fieldNames():
        fields = [name for name in SEALED_FACE_FIELDS
                  if name in records.schema["faces"].dataType.elementType.fieldNames()]
        slim = records.select("source_uri", "relative_path", "source_sha256", "status", F.arrays_zip(
            *(F.col(f"faces.{name}").alias(name) for name in fields)).alias("faces"))
        batch_conf = "spark.sql.execution.arrow.maxRecordsPerBatch"
        spark.conf.set(batch_conf, str(SEALED_BATCH))
        rows += slim.where(f"{with_faces} AND {SEALED}").repartition(cores).mapInArrow(work, schema) \
            .collect()
        spark.conf.set(batch_conf, str(settings.spark.batch_size))
        unsealed = slim.where(f"{with_faces} AND NOT {SEALED}").select("relative_path")
        if not unsealed.limit(1).count():  # every record was sealed
            return [Match(**row.asDict()) for row in rows]
        records = records.join(unsealed, "relative_path")
    rows += records.where(with_faces).repartition(cores * 4).mapInArrow(work, schema).collect()
    return [Match(**row.asDict()) for row in rows]


def unlock(records: DataFrame, keys: KeyRing) -> KeyRing:
    """Derive the master key of every KDF setting in the records on the driver (the workers get
    the derived keys only, never the password)."""
    for (kdf,) in records.selectExpr("explode(faces.kdf) AS kdf").where("kdf IS NOT NULL").distinct() \
            .collect():
        keys.get(kdf)
    return keys


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_args(argv)
    started = time.perf_counter()
    far = settings.verify.far_one_to_one if args.photo else settings.verify.far
    try:
        verifier = Verifier.from_settings(settings, far)
        keys = KeyRing(read_password(args.password_file))
        with open(args.probe, "rb") as fh:
            probe = probe_embedding(fh.read(), settings, verifier.detector, verifier.matcher)
    except (PasswordError, ImageError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.photo:
        matches = verify_one(args, settings, probe, keys, verifier)
        scanned = "1:1"
    else:
        spark = spark_session(settings.spark, args.master)
        records = records_frame(spark, args.records, settings)
        matches = transform(records, settings, probe, unlock(records, keys))
        if args.matches:
            pq.write_table(pa.Table.from_batches([matches_batch(matches)]), args.matches)
        scanned = f"1:N over {records.count()} records"
    for match in matches:
        print(f"match: {match.source_uri} face {match.face_index} (distance {match.distance:.3f})")
    if not matches:
        print("no record matches this face and password")
    print(f"verify {scanned} at FAR {far:g} per comparison ({verifier.matcher.score} distance < "
          f"{verifier.matcher.threshold:.3f}): {len(matches)} matches in "
          f"{time.perf_counter() - started:.2f}s")
    return 0 if matches else 1


def verify_one(args: argparse.Namespace, settings: Settings, probe: np.ndarray, keys: KeyRing,
               verifier: Verifier) -> list[Match]:
    """1:1: only the named photo's records are read."""
    try:
        rows = read_records(args.records, args.photo, settings.storage)
    except FileNotFoundError:
        rows = []
    return [m for row in rows for m in verify_row(row, probe, keys, verifier, args.face)]


if __name__ == "__main__":
    configure_logging()
    sys.exit(main())
