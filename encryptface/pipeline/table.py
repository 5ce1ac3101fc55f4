"""Parquet tables with an image column, one data file per unit of work: scrub a file into its
records and its protected copy, restore a protected copy with its records. Spark-free: a Spark task,
a DataFrame function or a plain loop calls these.

A file is read and written one row group at a time; rows keep their order, every other column is
carried unchanged, and each input row gives exactly one record and one output row.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from encryptface.archive.output import record_file_name
from encryptface.archive.schema import RECORD_SCHEMA, to_batch
from encryptface.archive.storage import arrow_filesystem, parse_uri, write_bytes
from encryptface.archive.table import image_bytes, row_keys, with_images
from encryptface.config import Settings
from encryptface.crypto.keys import DecryptionError, KeyRing, MasterKey
from encryptface.imaging.codecs import encode_image
from encryptface.pipeline.batch import _log_batch, scrub_bytes, worker_scrubber
from encryptface.pipeline.restorer import Restorer
from encryptface.runtime import ensure_library_logging, limit_threads

log = logging.getLogger("encryptface.pipeline.table")


def scrub_rows(table: pa.Table, image_column: str, keys: list[str], source: str, first_row: int,
               settings: Settings, mode: str, master_key: MasterKey | None,
               threads: int = 0) -> tuple[list[dict], pa.Table]:
    """The records of ``table``'s rows (keyed by ``keys``; ``source`` and the row index make each
    ``source_uri``) and the table with its image column protected (null where a row failed)."""
    limit_threads(threads)
    scrubber = worker_scrubber(settings, mode, threads)
    started = time.perf_counter()
    rows = [scrub_bytes(scrubber, f"{source}#{first_row + index}", key, data, master_key)
            for index, (key, data) in enumerate(zip(keys, image_bytes(table.column(image_column)),
                                                    strict=True))]
    _log_batch("scrubbed", rows, time.perf_counter() - started)
    return rows, with_images(table, image_column, [row["deidentified_image"] for row in rows])


def scrub_table_file(uri: str, relative_path: str, index: int, settings: Settings, mode: str,
                     master_key: MasterKey | None, image_column: str, id_column: str | None,
                     records_run: str, table_run: str | None, threads: int = 0) -> tuple[str, int]:
    """Scrub one data file of a table: its records go to ``records_run`` (one file, the rows in
    the input's order) and, unless ``table_run`` is None, its protected copy to the same relative
    path under ``table_run``. Returns the records file name and the row count."""
    ensure_library_logging()
    filesystem, path = arrow_filesystem(uri, settings.storage)
    source = pq.ParquetFile(path, filesystem=filesystem)
    records_sink, table_sink = pa.BufferOutputStream(), pa.BufferOutputStream()
    records_writer = pq.ParquetWriter(records_sink, RECORD_SCHEMA, compression="zstd")
    table_writer = pq.ParquetWriter(table_sink, source.schema_arrow, compression="zstd") \
        if table_run else None
    done = 0
    for group in range(source.num_row_groups):
        part = source.read_row_group(group)
        for start in range(0, part.num_rows, settings.spark.batch_size):
            chunk = part.slice(start, settings.spark.batch_size)
            rows, protected = scrub_rows(chunk, image_column, row_keys(chunk, id_column, relative_path, done),
                                         uri, done, settings, mode, master_key, threads)
            records_writer.write_batch(to_batch(rows))
            if table_writer:
                table_writer.write_table(protected.cast(source.schema_arrow))
            done += chunk.num_rows
    records_writer.close()
    name = record_file_name(records_run, index)
    write_bytes(parse_uri(records_run).join(name), records_sink.getvalue().to_pybytes(), settings.storage)
    if table_writer:
        table_writer.close()
        write_bytes(parse_uri(table_run).join(relative_path), table_sink.getvalue().to_pybytes(),
                    settings.storage)
    return name, done


@dataclasses.dataclass
class RestoreCounts:
    """How the rows of a restored table fared."""

    restored: int = 0    # rows whose photo was restored
    skipped: int = 0     # rows without a protected image (the scrub gave an error row)
    errors: int = 0      # rows the keys did not open, or that failed
    faces: int = 0


def restore_rows(records: list[dict], restorer: Restorer, keys: KeyRing,
                 counts: RestoreCounts) -> list[bytes | None]:
    """The restored photo (PNG, lossless) of each record, None where there is none."""
    images = []
    for row in records:
        image = None
        if row["deidentified_image"] is None:
            counts.skipped += 1
        else:
            try:
                photo, regions = restorer.restore(row, keys)
                image = encode_image(photo, "png")
                counts.restored, counts.faces = counts.restored + 1, counts.faces + len(regions)
            except DecryptionError as exc:
                counts.errors += 1
                log.warning("cannot restore %s: %s", row["relative_path"], exc)
            except Exception:
                counts.errors += 1
                log.error("internal error restoring %s:\n%s", row["source_uri"], traceback.format_exc())
        images.append(image)
    return images


def restore_table_file(table_uri: str, records_uri: str, target_uri: str, image_column: str,
                       settings: Settings, keys: KeyRing, threads: int = 0) -> RestoreCounts:
    """Write the protected table file ``table_uri`` to ``target_uri`` with the photos restored
    from its records file (same rows in the same order), same schema and row groups."""
    ensure_library_logging()
    limit_threads(threads)
    restorer, counts = Restorer(settings, threads), RestoreCounts()
    filesystem, path = arrow_filesystem(table_uri, settings.storage)
    protected = pq.ParquetFile(path, filesystem=filesystem)
    records = _record_rows(records_uri, settings)
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, protected.schema_arrow, compression="zstd") as writer:
        for group in range(protected.num_row_groups):
            part = protected.read_row_group(group)
            rows = [next(records) for _ in range(part.num_rows)]
            restored = with_images(part, image_column, restore_rows(rows, restorer, keys, counts))
            writer.write_table(restored.cast(protected.schema_arrow))
    if next(records, None) is not None:
        raise ValueError(f"{records_uri} holds more rows than {table_uri}")
    write_bytes(target_uri, sink.getvalue().to_pybytes(), settings.storage)
    return counts


def _record_rows(uri: str, settings: Settings) -> Iterator[dict]:
    filesystem, path = arrow_filesystem(uri, settings.storage)
    for batch in pq.ParquetFile(path, filesystem=filesystem).iter_batches(batch_size=64):
        yield from batch.to_pylist()

