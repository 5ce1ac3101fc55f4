"""Arrow batch in, Arrow batch out: the unit of work an engine (a Spark task, an Orca shard, a plain
loop) hands to a worker. Models are loaded once per worker process and reused across batches."""

from __future__ import annotations

import functools
import logging
import os
import resource
import time
import traceback
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from encryptface.archive.output import output_key, record_file_name
from encryptface.archive.schema import (
    RECORD_SCHEMA,
    RESTORE_SCHEMA,
    STATUS_ERROR,
    STATUS_OK,
    STATUS_SKIPPED,
    error_row,
    to_batch,
)
from encryptface.archive.storage import StorageError, parse_uri, read_bytes, write_bytes
from encryptface.config import Settings
from encryptface.crypto.keys import DecryptionError, KeyRing, MasterKey
from encryptface.imaging.codecs import encode_image
from encryptface.pipeline.restorer import Restorer
from encryptface.pipeline.scrubber import Scrubber
from encryptface.pipeline.verify import Verifier, matches_batch, verify_row
from encryptface.runtime import ensure_library_logging, limit_threads

log = logging.getLogger("encryptface.pipeline.batch")


@functools.lru_cache(maxsize=4)
def worker_scrubber(settings: Settings, mode: str, threads: int = 0) -> Scrubber:
    """The process-wide scrubber for these settings (loaded on first use)."""
    ensure_library_logging()
    return Scrubber(settings, mode, threads)


def scrub_batches(batches: Iterable[pa.RecordBatch], settings: Settings, mode: str,
                  master_key: MasterKey | None, images_uri: str | None = None,
                  threads: int = 0) -> Iterator[pa.RecordBatch]:
    """Scrub batches of :data:`~encryptface.archive.schema.INPUT_SCHEMA` rows into contract rows.

    Every input row yields exactly one output row; nothing raised by one photo stops the batch.
    ``threads`` caps the native threads of this worker (0: library default, all cores); an engine
    that already runs one worker per core should pass 1 to avoid oversubscription.
    """
    limit_threads(threads)
    scrubber = worker_scrubber(settings, mode, threads)
    for batch in batches:
        started = time.perf_counter()
        rows = [_scrub_one(scrubber, item, master_key, images_uri) for item in batch.to_pylist()]
        _log_batch("scrubbed", rows, time.perf_counter() - started)
        yield to_batch(rows)


def scrub_to_file(keys: pa.Table, settings: Settings, mode: str, master_key: MasterKey | None,
                  run_dir: str, partition: int, images_uri: str | None = None, threads: int = 0) -> str:
    """Scrub one partition of input keys (``INPUT_SCHEMA``), ``spark.batch_size`` photos at a time,
    and write its records, from the worker, as one zstd Parquet file in the run folder
    (atomically: a retried task replaces its own file, a killed one leaves none). Returns the file
    name ("" for an empty partition). Both backends write this way: the photo bytes never go back
    through the engine."""
    batches = keys.to_batches(max_chunksize=settings.spark.batch_size)
    table = pa.Table.from_batches(list(scrub_batches(batches, settings, mode, master_key, images_uri,
                                                     threads)), schema=RECORD_SCHEMA)
    if not table.num_rows:
        return ""
    name = record_file_name(run_dir, partition)
    encoded = pa.BufferOutputStream()
    pq.write_table(table, encoded, compression="zstd")
    write_bytes(parse_uri(run_dir).join(name), encoded.getvalue().to_pybytes(), settings.storage)
    return name


def _scrub_one(scrubber: Scrubber, item: dict, master_key: MasterKey | None,
               images_uri: str | None) -> dict:
    uri, relative_path = item["source_uri"], item["relative_path"]
    limit = scrubber.settings.images.max_bytes
    if item["size"] is not None and item["size"] > limit:
        return error_row(uri, relative_path, f"object too large: {item['size']} bytes > limit {limit}")
    try:
        data = read_bytes(uri, scrubber.settings.storage)
    except StorageError as exc:
        return error_row(uri, relative_path, str(exc))
    row = scrub_bytes(scrubber, uri, relative_path, data, master_key)
    if images_uri and row["deidentified_image"] is not None:
        try:
            write_bytes(output_key(images_uri, relative_path, scrubber.settings.images.output_format),
                        row["deidentified_image"], scrubber.settings.storage)
        except StorageError as exc:
            return error_row(uri, relative_path, str(exc))
    return row


def scrub_bytes(scrubber: Scrubber, uri: str, relative_path: str, data: bytes | None,
                master_key: MasterKey | None) -> dict:
    """The contract row of one photo's bytes (a file's, a table cell's); never raises: a null or
    oversized value, bad bytes or a bug each cost one error row."""
    if data is None:
        return error_row(uri, relative_path, "no image (null value)")
    limit = scrubber.settings.images.max_bytes
    if len(data) > limit:
        return error_row(uri, relative_path, f"object too large: {len(data)} bytes > limit {limit}")
    try:
        return scrubber.scrub(uri, relative_path, data, master_key)
    except Exception as exc:  # A bug must cost one row, not the job; the traceback goes to the log.
        log.error("internal error on %s:\n%s", uri, traceback.format_exc())
        return error_row(uri, relative_path, f"internal error ({type(exc).__name__}): {exc}")


def restore_batches(batches: Iterable[pa.RecordBatch], settings: Settings, keys: KeyRing,
                    output_uri: str, threads: int = 0) -> Iterator[pa.RecordBatch]:
    """Restore contract rows and write the photos (PNG, lossless) under ``output_uri``; yields one
    :data:`RESTORE_SCHEMA` row per input row (``threads`` as in :func:`scrub_batches`)."""
    ensure_library_logging()
    limit_threads(threads)
    restorer = Restorer(settings, threads)
    for batch in batches:
        started = time.perf_counter()
        results = [_restore_one(restorer, row, keys, output_uri) for row in batch.to_pylist()]
        _log_batch("restored", results, time.perf_counter() - started)
        yield pa.RecordBatch.from_pylist(results, schema=RESTORE_SCHEMA)


def _restore_one(restorer: Restorer, row: dict, keys: KeyRing, output_uri: str) -> dict:
    result = {"source_uri": row["source_uri"], "output_uri": None, "status": STATUS_SKIPPED,
              "error": None, "faces_restored": 0}
    if row["deidentified_image"] is None:
        result["error"] = f"nothing to restore (scrub status {row['status']})"
        return result
    try:
        photo, regions = restorer.restore(row, keys)
        target = output_key(output_uri, row["relative_path"], "png")
        write_bytes(target, encode_image(photo, "png"), restorer.settings.storage)
        result.update(output_uri=target, status=STATUS_OK, faces_restored=len(regions))
    except DecryptionError as exc:
        result.update(status=STATUS_ERROR, error=str(exc))
    except Exception as exc:
        log.error("internal error restoring %s:\n%s", row["source_uri"], traceback.format_exc())
        result.update(status=STATUS_ERROR, error=f"{type(exc).__name__}: {exc}")
    return result


def verify_batches(batches: Iterable[pa.RecordBatch], settings: Settings, probe: np.ndarray,
                   keys: KeyRing, threads: int = 0) -> Iterator[pa.RecordBatch]:
    """Contract rows -> one :data:`VERIFY_SCHEMA` row per face that ``keys`` open and whose face
    matches the ``probe`` embedding (dlib). Records without a sealed embedding are restored and
    embedded; a record that fails is logged and counts as no match."""
    ensure_library_logging()
    limit_threads(threads)
    verifier = worker_verifier(settings, threads)
    for batch in batches:
        started = time.perf_counter()
        matches = []
        for row in batch.to_pylist():
            try:
                matches += verify_row(row, probe, keys, verifier)
            except Exception:  # one broken record must not stop the scan; it is not a match
                log.error("verify failed on %s:\n%s", row.get("source_uri"), traceback.format_exc())
        seconds = time.perf_counter() - started
        log.info("pid %d verified %d records in %.2fs (%.0f records/s), %d matches", os.getpid(),
                 batch.num_rows, seconds, batch.num_rows / seconds if seconds else 0.0, len(matches))
        yield matches_batch(matches)


@functools.lru_cache(maxsize=2)
def worker_verifier(settings: Settings, threads: int = 0) -> Verifier:
    """The process-wide 1:N verifier (at ``verify.far``), loaded on first use."""
    return Verifier.from_settings(settings, settings.verify.far, threads)


def _log_batch(verb: str, rows: list[dict], seconds: float) -> None:
    faces = sum(len(r["faces"]) if "faces" in r else r["faces_restored"] for r in rows)
    errors = sum(r["status"] == STATUS_ERROR for r in rows)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log.info("pid %d %s %d photos (%d faces, %d errors) in %.2fs, %.2f faces/s, peak RSS %.0f MB",
             os.getpid(), verb, len(rows), faces, errors, seconds, faces / seconds if seconds else 0.0,
             peak_mb)
