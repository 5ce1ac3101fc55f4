"""The evaluation's worker functions: Arrow batch in, Arrow batch out, as
:mod:`encryptface.pipeline.batch` is for scrub and restore."""

from __future__ import annotations

import functools
import json
import logging
import os
import time
import traceback
from collections.abc import Iterable, Iterator

import pyarrow as pa

from encryptface.archive.schema import EMBEDDING_SCHEMA, EVALUATION_SCHEMA, STATUS_ERROR, STATUS_OK
from encryptface.archive.storage import read_bytes
from encryptface.config import Settings
from encryptface.crypto.keys import KeyRing
from encryptface.evaluation.measure import Evaluator, gallery_selected
from encryptface.runtime import ensure_library_logging, limit_threads

log = logging.getLogger(__name__)


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
    limit_threads(threads)
    evaluator = worker_evaluator(settings, recognizers, threads)
    for batch in batches:
        started = time.perf_counter()
        results = [_evaluate_one(evaluator, row, keys, wrong, gallery_share) for row in batch.to_pylist()]
        log.info("pid %d evaluated %d faces (%d errors) in %.2fs", os.getpid(), len(results),
                 sum(r["status"] == STATUS_ERROR for r in results), time.perf_counter() - started)
        yield pa.RecordBatch.from_pylist(results, schema=EVALUATION_SCHEMA)


def embed_batches(batches: Iterable[pa.RecordBatch], settings: Settings, recognizers: tuple[str, ...],
                  threads: int = 0) -> Iterator[pa.RecordBatch]:
    """Photos (a ``uri`` column) -> every recogniser's embedding of the central face (JSON)."""
    limit_threads(threads)
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
    result = {"source_uri": row["source_uri"], "relative_path": row["relative_path"], "status": STATUS_OK,
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
