"""The scrub and restore jobs on Parquet tables with an image column (``--image-column``).

One Spark task per data file of the input: it reads the file with pyarrow (local or S3), scrubs
each row's image and writes, from the executor, the file's records (a records file of the scrub
output, rows in the file's order) and its protected copy (same relative path under the output
table's run folder, so partition folders are kept). The driver then publishes the table and the
records, the records' commit last; see docs/tables.md.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import logging
import sys

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import SparkSession

from encryptface.archive.manifest import Delta, carried_entries, write_manifest
from encryptface.archive.output import TABLE, check_output_uri, clean_runs, new_run_dir, publish, run_id_of
from encryptface.archive.schema import MANIFEST_SCHEMA, STATUS_OK
from encryptface.archive.storage import ObjectInfo, arrow_filesystem, copy_object, parse_uri
from encryptface.archive.table import TableRun, check_image_column, table_files
from encryptface.config import Settings
from encryptface.crypto.keys import KeyRing, MasterKey
from encryptface.pipeline.table import RestoreCounts, restore_table_file, scrub_table_file

log = logging.getLogger("encryptface.jobs.tables")


def add_table_options(parser: argparse.ArgumentParser) -> None:
    """The scrub job's table flags."""
    parser.add_argument("--image-column", help="--input is a Parquet dataset (folder or s3:// prefix, "
                        "partition folders allowed) and this column holds the photos (binary, or a "
                        "struct with a binary `bytes` field)")
    parser.add_argument("--id-column", help="with --image-column: the records' key (default: "
                        "<file>/<row index>)")
    parser.add_argument("--output-table", help="with --image-column: write the input table here "
                        "(folder or s3://) with the photos protected, every other column unchanged")


def check_table_args(args: argparse.Namespace) -> str | None:
    """One line saying what is wrong with the table flags of a scrub, or None."""
    if args.image_column is None:
        return "--id-column and --output-table need --image-column" \
            if args.id_column or args.output_table else None
    if args.write_images or args.backend != "spark":
        return "--image-column writes the protected photos into --output-table; it runs on the " \
               "default backend, without --write-images"
    if args.output_table:
        check_output_uri(args.output_table)
        if args.output_table.rstrip("/") == args.output.rstrip("/"):
            return "--output-table must differ from --output"
    return None


def list_table(uri: str, image_column: str, id_column: str | None, settings: Settings) -> list[ObjectInfo]:
    """The data files of the input table, after checking its first file's schema (one-line
    :class:`ValueError` or :class:`OSError` otherwise)."""
    files = table_files(uri, settings.storage)
    filesystem, path = arrow_filesystem(files[0].uri, settings.storage)
    check_image_column(pq.read_schema(path, filesystem=filesystem), image_column, id_column)
    return files


def check_previous_table(previous_run: str, args: argparse.Namespace, settings: Settings) -> None:
    """--incremental on a table: the previous run must be a table scrub that wrote what this one
    carries over (one-line :class:`OSError` or :class:`ValueError` otherwise)."""
    earlier = TableRun.load(previous_run, settings.storage)
    if args.output_table and not earlier.table_run:
        raise ValueError("the previous run wrote no --output-table to carry over: run once without "
                         "--incremental")


def scrub_table(spark: SparkSession, args: argparse.Namespace, settings: Settings,
                master_key: MasterKey | None, delta: Delta, previous_run: str | None,
                previous: pa.Table | None) -> str:
    """Scrub the table's files in ``delta.todo`` (all of them, or with ``--incremental`` the new
    and changed ones: the others' records and output files are copied from the previous run), write
    the manifest (one entry per data file), publish the output table, then the records. Returns
    the published records run."""
    storage = settings.storage
    earlier = TableRun.load(previous_run, storage) if previous_run else None
    records_run = new_run_dir(args.output)
    table_run = new_run_dir(args.output_table) if args.output_table else None
    work = functools.partial(_scrub_file, settings=settings, mode=args.mode, master_key=master_key,
                             image_column=args.image_column, id_column=args.id_column,
                             records_run=records_run, table_run=table_run)
    items = [(index, info.uri, info.relative_path) for index, info in enumerate(delta.todo)]
    written = spark.sparkContext.parallelize(items, len(items)).map(work).collect() if items else []
    files = {info.relative_path: (name, rows) for info, (name, rows) in zip(delta.todo, written, strict=True)}
    if earlier is not None:  # incremental: the unchanged (and no longer listed) files' outputs
        for relative, name, rows in earlier.files:
            if relative not in delta.replaced:
                copy_object(parse_uri(previous_run).join(name), parse_uri(records_run).join(name), storage)
                if table_run:
                    copy_object(parse_uri(earlier.table_run).join(relative),
                                parse_uri(table_run).join(relative), storage)
                files[relative] = (name, rows)
    TableRun(table_run or "", args.image_column, args.id_column,
             tuple((relative, name, rows) for relative, (name, rows) in sorted(files.items()))
             ).save(records_run, storage)
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    scrubbed = pa.Table.from_pylist([
        {"relative_path": info.relative_path, "source_uri": info.uri, "size": info.size,
         "version": info.version, "status": STATUS_OK, "mode": args.mode,
         "data_file": files[info.relative_path][0], "run_id": run_id_of(records_run), "scrubbed_at": now}
        for info in delta.todo], schema=MANIFEST_SCHEMA)
    write_manifest(records_run, [scrubbed, carried_entries(previous, delta.replaced,
                                                           {name for name, _ in files.values()})], storage)
    if table_run:  # the table first, kept until the records that name it are published
        publish(args.output_table, table_run, storage, link=TABLE, clean=False)
    published = publish(args.output, records_run, storage)
    if table_run:
        clean_runs(args.output_table, run_id_of(table_run), storage)
    return published


def _scrub_file(item: tuple[int, str, str], settings: Settings, mode: str, master_key: MasterKey | None,
                image_column: str, id_column: str | None, records_run: str,
                table_run: str | None) -> tuple[str, int]:
    index, uri, relative = item
    return scrub_table_file(uri, relative, index, settings, mode, master_key, image_column, id_column,
                            records_run, table_run, settings.spark.threads_per_task)


def restore_table(spark: SparkSession, records_run: str, output_table: str, settings: Settings,
                  keys: KeyRing) -> RestoreCounts:
    """Write the protected table of a scrub output back with its photos restored, to a new run
    of ``output_table``, published when every file is written."""
    storage = settings.storage
    table = TableRun.load(records_run, storage)
    if not table.table_run:
        raise FileNotFoundError(f"{records_run} was scrubbed without --output-table: no table to restore")
    target_run = new_run_dir(output_table)
    items = [(parse_uri(table.table_run).join(relative), parse_uri(records_run).join(name),
              parse_uri(target_run).join(relative)) for relative, name, _ in table.files]
    work = functools.partial(_restore_file, image_column=table.image_column, settings=settings, keys=keys)
    total = RestoreCounts()
    for counts in spark.sparkContext.parallelize(items, max(1, len(items))).map(work).collect():
        total.restored += counts.restored
        total.skipped += counts.skipped
        total.errors += counts.errors
        total.faces += counts.faces
    publish(output_table, target_run, storage, link=TABLE)
    return total


def _restore_file(item: tuple[str, str, str], image_column: str, settings: Settings,
                  keys: KeyRing) -> RestoreCounts:
    table_uri, records_uri, target_uri = item
    return restore_table_file(table_uri, records_uri, target_uri, image_column, settings, keys,
                              settings.spark.threads_per_task)


def refuse(message: str) -> int:
    """Print a one-line error; the exit status of a refused job."""
    print(f"error: {message}", file=sys.stderr)
    return 2
