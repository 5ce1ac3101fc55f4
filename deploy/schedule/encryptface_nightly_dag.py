"""Airflow DAG: incremental EncryptFace scrub of an archive prefix every night.

Copy into Airflow's dags folder. Needs `apache-airflow-providers-apache-spark`, a Spark connection
(`spark_default`: the cluster master) and the EncryptFace environment on the Airflow worker that
submits (client mode: the driver reads the password file there) and on the Spark executors.
The scrub is incremental: each run processes only objects that are new or changed since the last
one, so a missed night is caught up by the next. `max_active_runs=1`: two runs into one output are
not supported.
"""

from __future__ import annotations

import datetime

from airflow import DAG
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

ENCRYPTFACE_HOME = "/opt/encryptface"
# Arguments of jobs/scrub.py (the password comes from a file, never from argv).
SCRUB_ARGS = [
    "--input", "s3://photo-archive/photos",
    "--output", "/data/encryptface/photos",
    "--incremental",
    "--write-images",
    "--images-uri", "s3://photo-archive-scrubbed/photos",
    "--password-file", "/etc/encryptface/password",
]

with DAG(
    dag_id="encryptface_nightly_scrub",
    schedule="15 2 * * *",
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": datetime.timedelta(minutes=30)},
    tags=["privacy", "encryptface"],
) as dag:
    SparkSubmitOperator(
        task_id="scrub",
        conn_id="spark_default",
        application=f"{ENCRYPTFACE_HOME}/jobs/scrub.py",
        application_args=SCRUB_ARGS,
        deploy_mode="client",
        conf={"spark.task.maxFailures": "4", "spark.python.worker.reuse": "true"},
        env_vars={"PYSPARK_PYTHON": f"{ENCRYPTFACE_HOME}/.venv/bin/python"},
        spark_binary=f"{ENCRYPTFACE_HOME}/.venv/bin/spark-submit",
        name="encryptface-scrub",
    )
