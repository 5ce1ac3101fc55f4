"""Spark job: measure how well a scrub output protects its people, and what it cost.

    spark-submit jobs/evaluate.py --originals DIR_OR_S3 --scrubbed OUT --output EVAL [--password-file F]

Reads the Parquet records of ``scrub`` (any mode). For every photo with a face, the workers embed
(with every recogniser in ``--recognizers``) the original face, another photo of the same person
(identity folders of ``--originals``), the protected face as a third party sees it (JPEG q90,
re-detected) and, with the password, the restored face and faces from ``--wrong`` wrong passwords.
The driver sets thresholds at FAR 0.1 / 0.01 / 0.001 from impostor pairs of the original faces
and writes ``metrics.json``, ``report.html`` and a console summary.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import secrets
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema

from encryptface.archive.schema import EMBEDDING_SCHEMA, EVALUATION_SCHEMA, STATUS_OK
from encryptface.archive.storage import StorageError, list_objects, read_bytes
from encryptface.config import Settings
from encryptface.crypto.keys import DecryptionError, KeyRing, Password, PasswordError, read_password
from encryptface.evaluation.aggregate import aggregate, read_pairs
from encryptface.evaluation.batch import embed_batches, evaluate_batches
from encryptface.evaluation.coverage import (
    AnnotationError,
    coverage_table,
    load_annotations,
    records_coverage,
    summarise,
)
from encryptface.evaluation.measure import identity_of
from encryptface.evaluation.report import console_table, gallery_head, summary_table, write_report
from encryptface.faces.recognition import RECOGNIZER_NAMES, recognizer_distance
from encryptface.modes import reversible_modes
from jobs.common import configure_logging, job_parser, parse_job_args, spark_session
from jobs.records import records_frame
from jobs.restore import unlock

log = logging.getLogger("encryptface.jobs.evaluate")


def reference_photos(originals: str, settings: Settings) -> dict[str, str]:
    """relative path -> URI of another photo in the same identity folder (the next one, cyclically);
    photos alone in their folder, or at the top level, get none."""
    folders: dict[str, list] = defaultdict(list)
    for info in list_objects(originals, settings.storage):
        if identity_of(info.relative_path):
            folders[identity_of(info.relative_path)].append(info)
    references = {}
    for photos in folders.values():
        photos.sort(key=lambda o: o.relative_path)
        for index, info in enumerate(photos):
            if len(photos) > 1:
                references[info.relative_path] = photos[(index + 1) % len(photos)].uri
    return references


def extract(spark: SparkSession, scrubbed: str, references: dict[str, str],
            settings: Settings) -> DataFrame:
    """Records with a face, each with its ``reference_uri`` (or null)."""
    records = records_frame(spark, scrubbed, settings)
    records = records.where(f"status = '{STATUS_OK}' AND size(faces) > 0")
    pairs = spark.createDataFrame(list(references.items()) or [("", "")],
                                  "relative_path string, reference_uri string")
    return records.join(pairs, "relative_path", "left")


def transform(frame: DataFrame, settings: Settings, recognizers: tuple[str, ...], keys: KeyRing | None,
              wrong: tuple[KeyRing, ...], gallery_share: float) -> DataFrame:
    """Records -> one measurement row per photo (:data:`~encryptface.pipeline.batch.EVALUATION_SCHEMA`)."""
    work = functools.partial(evaluate_batches, settings=settings, recognizers=recognizers, keys=keys,
                             wrong=wrong, gallery_share=gallery_share,
                             threads=settings.spark.threads_per_task)
    return frame.mapInArrow(work, from_arrow_schema(EVALUATION_SCHEMA))


def pair_distances(spark: SparkSession, pairs_file: str, originals: str, settings: Settings,
                   recognizers: tuple[str, ...]) -> dict[str, list[tuple[float, bool]]]:
    """Embed every photo of an LFW-style pairs file (paths relative to ``originals``) in the
    workers; recogniser -> [(distance, same person)] for the pairs whose photos both have a face."""
    pairs = read_pairs(Path(pairs_file).read_text())
    base = originals.rstrip("/")
    uris = sorted({f"{base}/{path}" for a, b, _ in pairs for path in (a, b)})
    frame = spark.createDataFrame([(u,) for u in uris], "uri string").repartition(
        max(1, len(uris) // settings.spark.images_per_partition))
    work = functools.partial(embed_batches, settings=settings, recognizers=recognizers,
                             threads=settings.spark.threads_per_task)
    rows = frame.mapInArrow(work, from_arrow_schema(EMBEDDING_SCHEMA)).collect()
    embedded = {r.uri: json.loads(r.embeddings) for r in rows if r.embeddings}
    result: dict[str, list[tuple[float, bool]]] = {name: [] for name in recognizers}
    for a, b, same in pairs:
        ea, eb = embedded.get(f"{base}/{a}"), embedded.get(f"{base}/{b}")
        for name in recognizers:
            if ea and eb and ea[name] is not None and eb[name] is not None:
                result[name].append((recognizer_distance(name, np.asarray(ea[name]),
                                                         np.asarray(eb[name])), same))
    log.info("pairs file: %d pairs, %d usable", len(pairs), len(next(iter(result.values()), [])))
    return result


def load(rows: list, output: Path, title: str, gallery_size: int, reversible: bool,
         pairs: dict[str, list[tuple[float, bool]]] | None = None) -> dict:
    """Aggregate on the driver; write metrics.json and report.html."""
    measurements = [json.loads(r.measurement) for r in rows if r.status == STATUS_OK]
    metrics = aggregate(measurements, pair_distances=pairs)
    metrics["errors"] = [{"source_uri": r.source_uri, "error": r.error}
                         for r in rows if r.status != STATUS_OK]
    output.mkdir(parents=True, exist_ok=True)
    runs = [{"settings": {}, "metrics": metrics}]
    (output / "metrics.json").write_text(json.dumps(metrics, indent=1))
    gallery = [r.thumbnails for r in sorted(rows, key=lambda r: r.relative_path) if r.thumbnails]
    write_report(output / "report.html", title, runs, gallery[:gallery_size], gallery_head(reversible))
    return metrics


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Settings]:
    """The job's flags and the settings they make."""
    parser = job_parser("evaluate", __doc__)
    parser.add_argument("--originals", required=True, help="the photos that were scrubbed "
                        "(folder or s3://; identity folders give the 'another photo' references)")
    parser.add_argument("--scrubbed", required=True, help="scrub output folder or s3:// prefix")
    parser.add_argument("--output", required=True, help="folder for metrics.json and report.html")
    parser.add_argument("--recognizers", default=",".join(RECOGNIZER_NAMES))
    parser.add_argument("--pairs", help="LFW-style pairs file (photo paths relative to --originals): "
                        "thresholds from its different-person pairs")
    parser.add_argument("--wrong", type=int, default=3, help="wrong passwords tried per face")
    parser.add_argument("--gallery", type=int, default=50, help="faces shown in the report")
    parser.add_argument("--boxes", help="face box annotations of the photos (a folder or file of "
                        "Pascal VOC .xml or WIDER FACE .txt, matched by file stem): measure face "
                        "coverage per face size (found, >= 90 %% of the box changed, unmatched "
                        "detections) into coverage.json instead of the identity metrics")
    parser.add_argument("--no-password", action="store_true",
                        help="skip recovery metrics (no password is read; cloak never needs one)")
    return parse_job_args(parser, argv)


def evaluate_coverage(args: argparse.Namespace, settings: Settings) -> int:
    """``--boxes``: judge every annotated face on the published photos (driver side: one decode
    and compare per photo) and write ``coverage.json``."""
    try:
        annotations = load_annotations(Path(args.boxes))
    except (AnnotationError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    spark = spark_session(settings.spark, args.master)
    try:
        frame = records_frame(spark, args.scrubbed, settings)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the scrub output {args.scrubbed}: {exc}", file=sys.stderr)
        return 2
    base = args.originals.rstrip("/")
    rows = (row.asDict(recursive=True) for row in frame.select(
        "relative_path", "source_uri", "deidentified_image", "faces").toLocalIterator())
    # the original of each record: --originals + its relative path
    results, counts = records_coverage(
        ({**row, "source_uri": f"{base}/{row['relative_path']}"} for row in rows), annotations,
        lambda uri: read_bytes(uri, settings.storage), settings.images)
    summary = summarise(results)
    summary.update(counts)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "coverage.json").write_text(json.dumps(
        {"summary": summary, "photos": [r.to_json() for r in results]}, indent=1))
    print(coverage_table({args.scrubbed: summary}))
    print(f"judged {counts['judged']} annotated photos ({counts['not_annotated']} without "
          f"annotation, {counts['not_published']} without a published photo) -> "
          f"{output}/coverage.json")
    return 0


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_args(argv)
    if args.boxes:
        return evaluate_coverage(args, settings)
    started = time.perf_counter()
    try:
        references = reference_photos(args.originals, settings)
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    spark = spark_session(settings.spark, args.master)
    try:
        frame = extract(spark, args.scrubbed, references, settings).cache()
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    photos = frame.count()
    restorable = ", ".join(f"'{name}'" for name in reversible_modes())
    reversible = frame.where(f"exists(faces, f -> f.mode IN ({restorable}))").limit(1).count() > 0
    keys, wrong = None, ()
    if reversible and not args.no_password:  # cloak records have nothing to restore
        try:
            keys = unlock(frame.drop("reference_uri"), KeyRing(read_password(args.password_file)),
                          settings)
        except (PasswordError, DecryptionError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        # wrong passwords: random, derived on the driver for every KDF setting in the records
        wrong = tuple(KeyRing(Password(secrets.token_bytes(12))) for _ in range(args.wrong))
        kdfs = frame.selectExpr("explode(faces.kdf) AS kdf").where("kdf IS NOT NULL").distinct()
        for (kdf,) in kdfs.collect():
            keys.get(kdf)
            for ring in wrong:
                ring.get(kdf)
    share = min(1.0, 2.0 * args.gallery / max(photos, 1))
    recognizers = tuple(args.recognizers.split(","))
    rows = transform(frame, settings, recognizers, keys, wrong, share).collect()
    pairs = pair_distances(spark, args.pairs, args.originals, settings, recognizers) if args.pairs else None
    title = f"EncryptFace evaluation of {args.scrubbed}"
    metrics = load(rows, Path(args.output), title, args.gallery, reversible, pairs)
    head, table = summary_table([{"settings": {}, "metrics": metrics}])
    print(console_table(head, table))
    print(f"evaluated {metrics['faces']} faces ({len(metrics['errors'])} errors) in "
          f"{time.perf_counter() - started:.1f}s -> {args.output}/metrics.json, report.html")
    return 0


if __name__ == "__main__":
    configure_logging()
    sys.exit(main())
