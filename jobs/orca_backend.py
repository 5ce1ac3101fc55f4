"""The BigDL Orca backend of the scrub job (`--backend orca`, run from `.venv-orca`).

Orca owns the Spark context (`init_orca_context`: its jars, its executor Python set-up) and the
photos travel as Orca XShards: one pandas shard of object keys per partition. Each shard runs the
same library code as the default backend (``encryptface.pipeline.batch.scrub_batches``: read, detect,
protect on OpenVINO inside the worker) and writes its rows as one zstd Parquet file of the same
Arrow schema into the run folder, named after the partition so that a retried task overwrites its
own file. The driver then publishes the run exactly as the default backend does.

Only importable where BigDL Orca is installed (see conf/orca-requirements.txt).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa

from encryptface.archive.schema import INPUT_SCHEMA
from encryptface.archive.storage import ObjectInfo
from encryptface.config import Settings
from encryptface.crypto.keys import MasterKey
from encryptface.pipeline.batch import scrub_to_file


def orca_context(settings: Settings, master: str | None = None):  # noqa: ANN201 - a SparkContext
    """Orca's Spark context: spark-submit's (any master, e.g. a standalone cluster through
    ``deploy/submit-standalone.sh`` with ``ORCA=1``), else a local one on the master's cores.

    ``init_executor_gateway=False``: Orca's executor gateway (a py4j route from executors back to the
    driver JVM, which XShards do not use) starts a non-daemon scheduled thread in the driver JVM, and
    under spark-submit that thread kept the JVM alive for ever after the job had finished (found with
    jstack: ``pool-N-thread-1`` appears in ``init_orca_context`` only when the gateway is started).
    """
    # Orca points executors at the venv's prefix as PYTHONHOME, where a venv has no standard
    # library ("No module named 'encodings'"); an empty value keeps the interpreter's own.
    os.environ["PYTHONHOME"] = os.environ.get("PYTHONHOME", "")
    from bigdl.orca import init_orca_context

    if "PYSPARK_GATEWAY_PORT" in os.environ:  # launched by spark-submit: its master and conf
        return init_orca_context(cluster_mode="spark-submit", init_executor_gateway=False)
    master = master or settings.spark.master
    if not master.startswith("local"):
        raise ValueError("--backend orca on a cluster is submitted with spark-submit (deploy/"
                         "submit-standalone.sh with ORCA=1, see docs/operations.md); run directly it "
                         "is local only")
    conf = {"spark.python.worker.reuse": "true", "spark.app.name": settings.spark.app_name,
            "spark.sql.parquet.compression.codec": "zstd"}
    cores = master[master.index("[") + 1:].split(",")[0].rstrip("]") if "[" in master else "*"
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return init_orca_context(cluster_mode="local", cores=os.cpu_count() if cores == "*" else int(cores),
                             memory="2g", conf=conf, init_executor_gateway=False)


def scrub_with_orca(context, objects: Sequence[ObjectInfo], settings: Settings,  # noqa: ANN001
                    mode: str, master_key: MasterKey | None, images_uri: str | None,
                    run_dir: str) -> list[str]:
    """Scrub ``objects`` on Orca XShards into the run folder ``run_dir`` (local or ``s3://``);
    returns the data files written."""
    from bigdl.orca.data import SparkXShards

    keys = pd.DataFrame({"source_uri": [o.uri for o in objects],
                         "relative_path": [o.relative_path for o in objects],
                         "size": pd.array([o.size for o in objects], dtype="int64")})
    per_partition = settings.spark.images_per_partition
    shards = [keys.iloc[start:start + per_partition].assign(partition=start // per_partition)
              for start in range(0, len(keys), per_partition)] or [keys.assign(partition=0)]
    rdd = context.parallelize(shards, len(shards))
    work = functools.partial(_scrub_shard, settings=settings, mode=mode, master_key=master_key,
                             images_uri=images_uri, run_dir=run_dir)
    written = SparkXShards(rdd).transform_shard(work).collect()
    return sorted(name for name in written if name)


def _scrub_shard(shard: pd.DataFrame, settings: Settings, mode: str, master_key: MasterKey | None,
                 images_uri: str | None, run_dir: str) -> str:
    """One XShards partition: keys in, one Parquet file of contract rows out (its name returned)."""
    if shard.empty:
        return ""
    partition = int(shard["partition"].iloc[0])
    keys = pa.Table.from_pandas(shard.drop(columns="partition"), schema=INPUT_SCHEMA, preserve_index=False)
    return scrub_to_file(keys, settings, mode, master_key, run_dir, partition, images_uri,
                         settings.spark.threads_per_task)
