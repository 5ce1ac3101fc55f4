"""Creating the SparkSession the jobs share."""

from __future__ import annotations

import logging
import os
import sys

from pyspark.sql import SparkSession

from encryptface.config import SparkSettings
from encryptface.logs import LOG_FORMAT


class _Py4jInfoFilter(logging.Filter):
    """Drops py4j's INFO records. py4j logs a connection reset it then retries (and Spark's normal
    shutdown) at INFO with a traceback, partly through the root logger (``logging.info`` in
    ``java_gateway``), so a logger level alone cannot reach them; its WARNING and ERROR records,
    and everything else logged at INFO, still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or f"{os.sep}py4j{os.sep}" not in record.pathname


def configure_logging() -> None:
    """Driver logging for every job: INFO lines in one format, without py4j's INFO tracebacks."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Py4jInfoFilter())


def spark_session(settings: SparkSettings, master: str | None = None) -> SparkSession:
    """A SparkSession configured for the jobs.

    Under ``spark-submit`` the master and Python come from spark-submit; run directly (the
    ``encryptface`` command, tests), Spark runs in ``settings.master`` with this interpreter.
    """
    builder = SparkSession.builder.appName(settings.app_name)
    launched_by_spark_submit = "PYSPARK_GATEWAY_PORT" in os.environ
    if not launched_by_spark_submit:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        master = master or settings.master
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.master(master)
        builder = builder.config("spark.ui.showConsoleProgress", "true")
        builder = builder.config("spark.driver.memory", "2g")
    elif master:
        builder = builder.master(master)
    builder = (builder
               .config("spark.sql.parquet.compression.codec", "zstd")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(settings.batch_size))
               .config("spark.sql.files.maxRecordsPerFile", str(settings.max_records_per_file))
               # One Python worker per core keeps the loaded models warm across tasks.
               .config("spark.python.worker.reuse", "true")
               .config("spark.sql.shuffle.partitions", "8"))
    if settings.task_cpus:
        builder = builder.config("spark.task.cpus", str(settings.task_cpus))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
