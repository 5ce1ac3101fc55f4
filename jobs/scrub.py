"""Spark job: scrub every face of every photo under an input URI into a Parquet dataset.

    spark-submit jobs/scrub.py --input s3://bucket/photos --output s3://bucket/scrubbed --password-file F
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import sys
import time
from collections.abc import Iterator

import pyarrow as pa
from pyspark import RDD
from pyspark.sql import SparkSession

from encryptface.archive.manifest import (
    Delta,
    carried_entries,
    carry_over,
    entries_for_files,
    plan,
    read_manifest,
    write_manifest,
)
from encryptface.archive.output import (
    TABLE,
    check_output_uri,
    new_run_dir,
    publish,
    records_path,
    run_id_of,
)
from encryptface.archive.schema import INPUT_SCHEMA, STATUS_ERROR, STATUS_NO_FACE, STATUS_OK
from encryptface.archive.storage import ObjectInfo, list_objects
from encryptface.config import Settings
from encryptface.crypto.keys import KdfParams, MasterKey, PasswordError, derive_master_key, read_password
from encryptface.generators import GENERATORS, generator
from encryptface.modes import MODE_NAMES, is_reversible
from encryptface.pipeline.batch import scrub_to_file
from jobs.common import configure_logging, job_parser, parse_job_args, spark_session
from jobs.records import records_frame
from jobs.tables import (
    add_table_options,
    check_previous_table,
    check_table_args,
    list_table,
    refuse,
    scrub_table,
)

log = logging.getLogger("encryptface.jobs.scrub")


def extract(spark: SparkSession, objects: list[ObjectInfo], settings: Settings) -> RDD:
    """The keys of the objects to scrub, ``(uri, relative_path, size)`` per photo, in partitions
    (the bytes are read inside the workers)."""
    rows = [(o.uri, o.relative_path, o.size) for o in objects]
    # At most images_per_partition photos per task, and at least one task per core: a Python task
    # costs ~0.1-0.2 s of engine time here whatever its size, so few large, even tasks are cheapest.
    partitions = max(1, math.ceil(len(rows) / settings.spark.images_per_partition),
                     min(len(rows), spark.sparkContext.defaultParallelism))
    # parallelize slices the list into contiguous partitions directly (no shuffle stage); dealing
    # the keys out first gives each task every partitions-th photo, so folders of big or many-face
    # photos do not all land in one task.
    dealt = [row for start in range(partitions) for row in rows[start::partitions]]
    # An RDD, not a DataFrame: the keys go to the Python workers as they are. A DataFrame of them
    # took one more Python stage per task to convert the rows, then the Arrow hand-over to
    # mapInArrow: 0.5-0.65 s per job against 0.3 s (an empty task over 300 keys, benchmarks.benchmark).
    return spark.sparkContext.parallelize(dealt, partitions)


def load(keys: RDD, settings: Settings, mode: str, master_key: MasterKey | None, run_dir: str,
         images_uri: str | None = None) -> list[str]:
    """Scrub the input keys and write the records into the (new) run folder (local or ``s3://``)
    from the workers, one zstd Parquet file per partition; returns the data files written. The
    records do not travel back through the JVM (measured: the JVM's Parquet writer cost ~1 s per
    300 seal photos here), and S3 needs no Hadoop connector."""
    work = functools.partial(_scrub_partition, settings=settings, mode=mode, master_key=master_key,
                             run_dir=str(run_dir), images_uri=images_uri)
    return sorted(name for name in keys.mapPartitions(work).collect() if name)


def _scrub_partition(rows: Iterator[tuple[str, str, int]], settings: Settings, mode: str,
                     master_key: MasterKey | None, run_dir: str, images_uri: str | None) -> Iterator[str]:
    from pyspark import TaskContext

    keys = pa.Table.from_pylist([dict(zip(INPUT_SCHEMA.names, row, strict=True)) for row in rows],
                                schema=INPUT_SCHEMA)
    yield scrub_to_file(keys, settings, mode, master_key, run_dir, TaskContext.get().partitionId(),
                        images_uri, settings.spark.threads_per_task)


def finish_run(output_dir: str, run_dir: str, written: list[str], objects: list[ObjectInfo],
               delta: Delta, previous_run: str | None, previous: pa.Table | None, mode: str,
               images_uri: str | None, settings: Settings) -> str:
    """Carry unchanged records over from the previous run (incremental), write the manifest and
    publish the run atomically (its commit is the last write)."""
    storage = settings.storage
    tables = [entries_for_files(run_dir, written, objects, run_id_of(run_dir), mode, images_uri,
                                settings.images.output_format, storage)]
    if previous_run is not None:
        placed = carry_over(previous_run, run_dir, delta.replaced, storage)
        tables.append(carried_entries(previous, delta.replaced, placed))
    write_manifest(run_dir, tables, storage)
    return str(publish(output_dir, run_dir, storage))


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Settings]:
    """The job's flags and the settings they make."""
    parser = job_parser("scrub", __doc__)
    parser.add_argument("--input", required=True, help="folder, file:// or s3://bucket/prefix")
    parser.add_argument("--output", required=True, help="output folder or s3://bucket/prefix (records "
                        "under OUTPUT/.runs/<run id>, published by OUTPUT/records or OUTPUT/_CURRENT)")
    parser.add_argument("--mode", default="encrypt", choices=MODE_NAMES,
                        help="encrypt: generated stand-in face, reversible with the password; "
                        "seal: pixelated face, original sealed with AES-GCM; cloak: invisible "
                        "adversarial identity mask (no password, not reversible)")
    parser.add_argument("--write-images", action="store_true",
                        help="also write the protected photos under OUTPUT/images (or --images-uri)")
    parser.add_argument("--images-uri", help="where --write-images puts photos (folder or s3://)")
    parser.add_argument("--backend", choices=("spark", "orca"), default="spark",
                        help="spark: a Spark RDD of the keys, records written by the workers "
                        "(default); orca: BigDL Orca context and XShards (needs the .venv-orca "
                        "environment, make install-orca)")
    add_table_options(parser)
    parser.add_argument("--incremental", action="store_true",
                        help="scrub only objects that are new, changed or failed since the last "
                        "run into OUTPUT (by its manifest) and keep the other records")
    return parse_job_args(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_args(argv)
    started = time.perf_counter()
    reversible = is_reversible(args.mode)  # cloak has no key: nothing is stored to decrypt
    encrypt_generator = generator(settings.encrypt.generator) if args.mode == "encrypt" else None
    if args.backend == "orca" and encrypt_generator and not encrypt_generator.runs_on_orca:
        runs = " or ".join(g.name for g in GENERATORS.values() if g.runs_on_orca)
        print(f"error: --backend orca runs OpenVINO 2023.3, which cannot compile the "
              f"{encrypt_generator.name} generator; use --generator {runs} with --backend orca, or "
              "the default backend", file=sys.stderr)
        return 2
    try:
        check_output_uri(args.output)
        if args.images_uri:
            check_output_uri(args.images_uri)
        if problem := check_table_args(args):
            return refuse(problem)
        password = read_password(args.password_file) if reversible else None
        table = list_table(args.input, args.image_column, args.id_column, settings) \
            if args.image_column else None
        objects = table if table is not None else list(list_objects(args.input, settings.storage))
        previous_run, previous = _previous_run(args.output, settings) if args.incremental else (None, None)
        if table is not None and previous_run:
            check_previous_table(previous_run, args, settings)
    except (PasswordError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    delta = plan(objects, previous, args.mode)
    log.info("listed %d %s under %s: %s", len(objects), "Parquet files" if table else "objects",
             args.input, delta.describe())
    if encrypt_generator and encrypt_generator.non_commercial:
        permissive = " or ".join(g.name for g in GENERATORS.values() if not g.non_commercial)
        log.info("encrypt uses the %s generator. Licence: %s. Permissive path: --generator %s "
                 "(or --mode seal).", encrypt_generator.name, encrypt_generator.licence, permissive)
    if previous_run is not None and not delta.todo:
        print(f"nothing to scrub: {delta.describe()}")
        print(f"records: {records_path(args.output, settings.storage)}")
        return 0
    master_key = derive_master_key(password, KdfParams.fresh(settings.kdf)) if password else None
    if table is not None:
        spark = spark_session(settings.spark, args.master)
        records = scrub_table(spark, args, settings, master_key, delta, previous_run, previous)
        images_uri = None
    else:
        images_uri = (args.images_uri or f"{args.output.rstrip('/')}/images") if args.write_images else None
        run_dir = new_run_dir(args.output)
        if args.backend == "orca":
            from jobs.orca_backend import orca_context, scrub_with_orca

            try:
                context = orca_context(settings, args.master)
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            written = scrub_with_orca(context, delta.todo, settings, args.mode, master_key, images_uri,
                                      run_dir)
            spark = SparkSession.builder.getOrCreate()  # on Orca's context
        else:
            spark = spark_session(settings.spark, args.master)
            written = load(extract(spark, delta.todo, settings), settings, args.mode, master_key, run_dir,
                           images_uri)
        records = finish_run(args.output, run_dir, written, objects, delta, previous_run, previous,
                             args.mode, images_uri, settings)
    summary = records_frame(spark, args.output, settings, ["status", "faces"]).selectExpr(
        "count(*) AS photos", "coalesce(sum(size(faces)), 0) AS faces",
        f"count_if(status = '{STATUS_OK}') AS ok", f"count_if(status = '{STATUS_NO_FACE}') AS no_face",
        f"count_if(status = '{STATUS_ERROR}') AS errors").first()
    seconds = time.perf_counter() - started
    print(f"scrubbed {summary.photos} photos ({summary.ok} ok, {summary.no_face} without a face, "
          f"{summary.errors} errors), {summary.faces} faces in {seconds:.1f}s "
          f"({summary.faces / seconds:.2f} faces/s)")
    if previous_run is not None:
        print(f"incremental: {delta.describe()}")
    print(f"records: {records}")
    if images_uri:
        print(f"protected photos: {images_uri}")
    if args.output_table:
        print(f"protected table: {records_path(args.output_table, settings.storage, TABLE)}")
    return 0


def _previous_run(output_dir: str, settings: Settings) -> tuple[str | None, pa.Table | None]:
    """The published run folder of ``output_dir`` and its manifest, when there is one to build on."""
    try:
        run = str(records_path(output_dir, settings.storage))
    except FileNotFoundError:
        return None, None
    manifest = read_manifest(run, settings.storage)
    if manifest is None:
        log.warning("%s has no manifest (written by an older version): scrubbing everything", run)
        return None, None
    return run, manifest


if __name__ == "__main__":
    configure_logging()
    sys.exit(main())
