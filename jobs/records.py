"""The records of a scrub output as a Spark DataFrame, wherever they live.

A local (or shared) folder is read by Spark's own Parquet reader. Object storage is read without
Spark's S3A connector (not shipped with pyspark, and not downloadable offline): the driver lists the
published run's data files and reads one footer for the schema; the executors read the files with
pyarrow (:func:`encryptface.archive.storage.arrow_filesystem`) and hand the rows to Spark as Arrow.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema

from encryptface.archive.output import data_files, records_path
from encryptface.archive.storage import arrow_filesystem, parse_uri
from encryptface.config import Settings, StorageSettings

# Rows per Arrow batch handed to Spark: records hold whole photos (~0.1 MB each).
READ_BATCH_ROWS = 64


def records_frame(spark: SparkSession, output: str, settings: Settings,
                  columns: list[str] | None = None) -> DataFrame:
    """The published records of the scrub output ``output`` (folder or ``s3://``), or of a records
    dataset folder itself, only ``columns`` if given (on S3 the others are then never read).
    :class:`FileNotFoundError` when there are none."""
    dataset = records_path(output, settings.storage)
    if parse_uri(str(dataset)).scheme != "s3":
        frame = spark.read.option("mergeSchema", "true").parquet(str(dataset))
        return frame.select(*columns) if columns else frame
    return read_parquet_files(spark, data_files(dataset, settings.storage), settings.storage, columns)


def read_parquet_files(spark: SparkSession, files: list[str], storage: StorageSettings,
                       columns: list[str] | None = None) -> DataFrame:
    """The rows of ``files`` (Parquet files of one schema, local or ``s3://``), only ``columns``
    if given, read in the executors with pyarrow, one task per file at most."""
    if not files:
        raise FileNotFoundError("the dataset has no Parquet data files")
    filesystem, path = arrow_filesystem(files[0], storage)
    schema = pq.read_schema(path, filesystem=filesystem)
    if columns:
        schema = pa.schema([schema.field(name) for name in columns])
    uris = spark.createDataFrame([(uri,) for uri in files], "uri string")
    uris = uris.repartition(min(len(files), spark.sparkContext.defaultParallelism * 4))
    work = functools.partial(_read_files, schema=schema, storage=storage)
    return uris.mapInArrow(work, from_arrow_schema(schema))


def _read_files(batches: Iterable[pa.RecordBatch], schema: pa.Schema,
                storage: StorageSettings) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for uri in batch.column("uri").to_pylist():
            filesystem, path = arrow_filesystem(uri, storage)
            for rows in pq.ParquetFile(path, filesystem=filesystem).iter_batches(
                    READ_BATCH_ROWS, columns=schema.names):
                yield rows if rows.schema == schema else rows.cast(schema)
