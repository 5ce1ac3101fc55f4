"""Arrow batch in, Arrow batch out: the unit of work an engine (Spark's ``mapInArrow``, a plain
loop) hands to a worker. Models are loaded once per worker process and reused across batches."""

from __future__ import annotations

import functools
import json
import logging
import os
import resource
import signal
import time
import traceback
from collections.abc import Iterable, Iterator

import cv2
import pyarrow as pa

from encryptface.config import Settings
from encryptface.crypto import DecryptionError, KeyRing, MasterKey
from encryptface.evaluation import Evaluator, gallery_selected
from encryptface.images import encode_image
from encryptface.logs import ensure_library_logging
from encryptface.output import output_key
from encryptface.records import STATUS_ERROR, error_row, to_batch
from encryptface.scrubber import Restorer, Scrubber
from encryptface.storage import StorageError, read_bytes, write_bytes

log = logging.getLogger("encryptface.batch")

RESTORE_SCHEMA = pa.schema([
    ("source_uri", pa.string()),
    ("output_uri", pa.string()),
    ("status", pa.string()),
    ("error", pa.string()),
    ("faces_restored", pa.int32()),
])


EVALUATION_SCHEMA = pa.schema([
    ("source_uri", pa.string()),
    ("relative_path", pa.string()),
    ("status", pa.string()),
    ("error", pa.string()),
    ("measurement", pa.string()),             # JSON, see encryptface.evaluation.measure_face
    ("thumbnails", pa.list_(pa.binary())),    # JPEG face crops for the report's gallery
])


@functools.lru_cache(maxsize=4)
def worker_scrubber(settings: Settings, mode: str, threads: int = 0) -> Scrubber:
    """The process-wide scrubber for these settings (loaded on first use)."""
    ensure_library_logging()
    return Scrubber(settings, mode, threads)


def scrub_batches(batches: Iterable[pa.RecordBatch], settings: Settings, mode: str,
                  master_key: MasterKey | None, images_uri: str | None = None,
                  threads: int = 0) -> Iterator[pa.RecordBatch]:
    """Scrub batches of :data:`~encryptface.records.INPUT_SCHEMA` rows into contract rows.

    Every input row yields exactly one output row; nothing raised by one photo stops the batch.
    ``threads`` caps the native threads of this worker (0: library default, all cores); an engine
    that already runs one worker per core should pass 1 to avoid oversubscription.
    """
    _limit_native_threads(threads)
    scrubber = worker_scrubber(settings, mode, threads)
    for batch in batches:
        started = time.perf_counter()
        rows = [_scrub_one(scrubber, item, master_key, images_uri) for item in batch.to_pylist()]
        _log_batch("scrubbed", rows, time.perf_counter() - started)
        yield to_batch(rows)


# Tests kill on purpose: "<relative path>=<marker file>" makes the Python worker that meets that
# photo exit abruptly once (the marker records it), as an OOM kill would; the second variable
# SIGKILLs the whole executor JVM above it instead (worker -> pyspark daemon -> JVM), as a lost node.
CRASH_ONCE_ENV = "ENCRYPTFACE_TEST_CRASH_ONCE"
KILL_EXECUTOR_ONCE_ENV = "ENCRYPTFACE_TEST_KILL_EXECUTOR_ONCE"


def _crash_once(relative_path: str) -> None:
    for variable in (CRASH_ONCE_ENV, KILL_EXECUTOR_ONCE_ENV):
        key, _, marker = os.environ.get(variable, "").partition("=")
        if key and key == relative_path and not os.path.exists(marker):
            open(marker, "w").close()
            if variable == KILL_EXECUTOR_ONCE_ENV:
                os.kill(_parent_of(os.getppid()), signal.SIGKILL)
            os._exit(17)


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:  # "pid (name) state ppid ...": name may hold spaces
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def _scrub_one(scrubber: Scrubber, item: dict, master_key: MasterKey | None,
               images_uri: str | None) -> dict:
    uri, relative_path = item["source_uri"], item["relative_path"]
    _crash_once(relative_path)
    limit = scrubber.settings.images.max_bytes
    if item["size"] is not None and item["size"] > limit:
        return error_row(uri, relative_path, f"object too large: {item['size']} bytes > limit {limit}")
    try:
        data = read_bytes(uri, scrubber.settings.storage)
        row = scrubber.scrub(uri, relative_path, data, master_key)
        if images_uri and row["deidentified_image"] is not None:
            write_bytes(output_key(images_uri, relative_path, scrubber.settings.images.output_format),
                        row["deidentified_image"], scrubber.settings.storage)
        return row
    except StorageError as exc:
        return error_row(uri, relative_path, str(exc))
    except Exception as exc:  # A bug must cost one row, not the job; the traceback goes to the log.
        log.error("internal error on %s:\n%s", uri, traceback.format_exc())
        return error_row(uri, relative_path, f"internal error ({type(exc).__name__}): {exc}")


def restore_batches(batches: Iterable[pa.RecordBatch], settings: Settings, keys: KeyRing,
                    output_uri: str, threads: int = 0) -> Iterator[pa.RecordBatch]:
    """Restore contract rows and write the photos (PNG, lossless) under ``output_uri``; yields one
    :data:`RESTORE_SCHEMA` row per input row (``threads`` as in :func:`scrub_batches`)."""
    ensure_library_logging()
    _limit_native_threads(threads)
    restorer = Restorer(settings, threads)
    for batch in batches:
        started = time.perf_counter()
        results = [_restore_one(restorer, row, keys, output_uri) for row in batch.to_pylist()]
        _log_batch("restored", results, time.perf_counter() - started)
        yield pa.RecordBatch.from_pylist(results, schema=RESTORE_SCHEMA)


def _restore_one(restorer: Restorer, row: dict, keys: KeyRing, output_uri: str) -> dict:
    result = {"source_uri": row["source_uri"], "output_uri": None, "status": "skipped",
              "error": None, "faces_restored": 0}
    if row["deidentified_image"] is None:
        result["error"] = f"nothing to restore (scrub status {row['status']})"
        return result
    try:
        photo, regions = restorer.restore(row, keys)
        target = output_key(output_uri, row["relative_path"], "png")
        write_bytes(target, encode_image(photo, "png"), restorer.settings.storage)
        result.update(output_uri=target, status="ok", faces_restored=len(regions))
    except DecryptionError as exc:
        result.update(status=STATUS_ERROR, error=str(exc))
    except Exception as exc:
        log.error("internal error restoring %s:\n%s", row["source_uri"], traceback.format_exc())
        result.update(status=STATUS_ERROR, error=f"{type(exc).__name__}: {exc}")
    return result


@functools.lru_cache(maxsize=2)
def worker_evaluator(settings: Settings, recognizers: tuple[str, ...], threads: int = 0) -> Evaluator:
    """The process-wide evaluator (recognisers loaded on first use)."""
    ensure_library_logging()
    return Evaluator(settings, recognizers, threads)


def evaluate_batches(batches: Iterable[pa.RecordBatch], settings: Settings, recognizers: tuple[str, ...],
                     keys: KeyRing | None, wrong: tuple[KeyRing, ...], gallery_share: float,
                     threads: int = 0) -> Iterator[pa.RecordBatch]:
    """Contract rows with a ``reference_uri`` column (another photo of the person, or null) ->
    one :data:`EVALUATION_SCHEMA` row each."""
    _limit_native_threads(threads)
    if threads:
        import torch

        torch.set_num_threads(threads)
    evaluator = worker_evaluator(settings, recognizers, threads)
    for batch in batches:
        started = time.perf_counter()
        results = [_evaluate_one(evaluator, row, keys, wrong, gallery_share) for row in batch.to_pylist()]
        log.info("pid %d evaluated %d faces (%d errors) in %.2fs", os.getpid(), len(results),
                 sum(r["status"] == STATUS_ERROR for r in results), time.perf_counter() - started)
        yield pa.RecordBatch.from_pylist(results, schema=EVALUATION_SCHEMA)


EMBEDDING_SCHEMA = pa.schema([("uri", pa.string()), ("embeddings", pa.string()), ("error", pa.string())])


def embed_batches(batches: Iterable[pa.RecordBatch], settings: Settings, recognizers: tuple[str, ...],
                  threads: int = 0) -> Iterator[pa.RecordBatch]:
    """Photos (a ``uri`` column) -> every recogniser's embedding of the central face (JSON)."""
    _limit_native_threads(threads)
    evaluator = worker_evaluator(settings, recognizers, threads)
    for batch in batches:
        rows = []
        for uri in batch.column("uri").to_pylist():
            try:
                embeddings = evaluator.embed_photo(read_bytes(uri, settings.storage))
                rows.append({"uri": uri, "embeddings": json.dumps(embeddings), "error": None})
            except Exception as exc:  # a missing or broken pair photo is reported, not fatal
                rows.append({"uri": uri, "embeddings": None, "error": f"{type(exc).__name__}: {exc}"})
        yield pa.RecordBatch.from_pylist(rows, schema=EMBEDDING_SCHEMA)


def _evaluate_one(evaluator: Evaluator, row: dict, keys: KeyRing | None, wrong: tuple[KeyRing, ...],
                  gallery_share: float) -> dict:
    result = {"source_uri": row["source_uri"], "relative_path": row["relative_path"], "status": "ok",
              "error": None, "measurement": None, "thumbnails": []}
    try:
        storage = evaluator.settings.storage
        reference = read_bytes(row["reference_uri"], storage) if row.get("reference_uri") else None
        measurement, thumbnails = evaluator.evaluate_record(
            row, read_bytes(row["source_uri"], storage), reference, keys, wrong,
            gallery_selected(row["relative_path"], gallery_share))
        result.update(measurement=json.dumps(measurement), thumbnails=thumbnails)
    except Exception as exc:  # one bad record costs one row; the traceback goes to the log
        log.error("evaluation failed on %s:\n%s", row["source_uri"], traceback.format_exc())
        result.update(status=STATUS_ERROR, error=f"{type(exc).__name__}: {exc}")
    return result


def _log_batch(verb: str, rows: list[dict], seconds: float) -> None:
    faces = sum(len(r["faces"]) if "faces" in r else r["faces_restored"] for r in rows)
    errors = sum(r["status"] == STATUS_ERROR for r in rows)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log.info("pid %d %s %d photos (%d faces, %d errors) in %.2fs, %.2f faces/s, peak RSS %.0f MB",
             os.getpid(), verb, len(rows), faces, errors, seconds, faces / seconds if seconds else 0.0,
             peak_mb)


def _limit_native_threads(threads: int) -> None:
    if threads:
        cv2.setNumThreads(threads)


