"""A real Spark standalone cluster on 127.0.0.1 (one master, one worker, started by the test) and
`deploy/submit-standalone.sh` submitting the scrub job to it, as an operator would; then the whole
executor JVM is killed mid-job and the job still completes."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from conftest import FAST, LFW_TRAIN, PHOTOS, REPO, TEST_PASSWORD, free_port

from encryptface.archive.output import records_path

VENV = Path(sys.executable).parent.parent
SPARK_CLASS = next(VENV.glob("lib/python3.11/site-packages/pyspark/bin/spark-class"))


VICTIM = "victim-kill-executor.jpg"  # the executor that meets this photo is SIGKILLed, once


def _start(args, log, **env_extra):
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", SPARK_NO_DAEMONIZE="1", **env_extra)
    return subprocess.Popen([str(SPARK_CLASS), *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def _alive_workers(ui_port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as response:
            return json.load(response).get("aliveworkers", 0)
    except OSError:
        return 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    logs = tmp_path_factory.mktemp("cluster")
    port, ui_port, worker_ui = free_port(), free_port(), free_port()
    master_url = f"spark://127.0.0.1:{port}"
    with open(logs / "master.log", "wb") as master_log, open(logs / "worker.log", "wb") as worker_log:
        processes = [
            _start(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                    "--webui-port", str(ui_port)], master_log),
            _start(["org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
                    "--cores", "2", "--memory", "3g", "--webui-port", str(worker_ui),
                    "--work-dir", str(logs / "work")], worker_log,
                   ENCRYPTFACE_TEST_KILL_EXECUTOR_ONCE=f"{VICTIM}={logs / 'executor-killed'}")]
        try:
            deadline = time.monotonic() + 120
            while _alive_workers(ui_port) < 1:
                assert time.monotonic() < deadline, (logs / "worker.log").read_text()[-2000:]
                assert all(p.poll() is None for p in processes), (logs / "master.log").read_text()[-2000:]
                time.sleep(1)
            yield master_url, logs
        finally:
            for process in processes:
                os.killpg(process.pid, 15)
            for process in processes:
                process.wait(timeout=60)


def _submit(master_url, source, output):
    env = dict(os.environ, ENCRYPTFACE_PASSWORD=TEST_PASSWORD, VENV=str(VENV), SPARK_LOCAL_IP="127.0.0.1")
    result = subprocess.run(
        ["bash", str(REPO / "deploy" / "submit-standalone.sh"), master_url, "scrub",
         "--input", str(source), "--output", str(output), "--mode=seal",
         *(f"--set={item}" for item in FAST + ["spark.images_per_partition=2"])],
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_scrub_job_runs_on_a_standalone_cluster(cluster, tmp_path):
    master_url, logs = cluster
    output = tmp_path / "out"
    result = _submit(master_url, PHOTOS, output)
    rows = ds.dataset(records_path(output)).to_table(columns=["relative_path", "status"]).to_pylist()
    listed = [p for p in PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    assert len(rows) == len(listed) and any(row["status"] == "ok" for row in rows)
    assert f"scrubbed {len(listed)} photos" in result.stdout
    # the tasks ran in the worker's executor, not in the driver
    executor_logs = list((logs / "work").rglob("stderr"))
    assert executor_logs and any("encryptface.pipeline.batch" in p.read_text() for p in executor_logs)
    assert TEST_PASSWORD not in result.stdout + result.stderr
    assert all(TEST_PASSWORD not in p.read_text(errors="replace") for p in executor_logs)


def test_a_killed_executor_is_replaced_and_the_job_completes(cluster, tmp_path):
    master_url, logs = cluster
    folder = tmp_path / "in"
    folder.mkdir()
    photos = sorted(LFW_TRAIN.glob("*/*.jpg"))[:15]
    for photo in photos:
        (folder / photo.name).symlink_to(photo)
    (folder / VICTIM).symlink_to(photos[0])
    executors_before = {p.parent for p in (logs / "work").rglob("stderr")}
    result = _submit(master_url, folder, tmp_path / "out")
    assert (logs / "executor-killed").exists()  # the executor JVM really was killed
    new_executors = {p.parent for p in (logs / "work").rglob("stderr")} - executors_before
    assert len(new_executors) >= 2  # the job's first executor and its replacement
    table = ds.dataset(records_path(tmp_path / "out")).to_table(columns=["relative_path", "status"])
    rows = table.to_pylist()
    assert sorted(row["relative_path"] for row in rows) == sorted(p.name for p in folder.iterdir())
    assert all(row["status"] == "ok" for row in rows) and "scrubbed 16 photos (16 ok" in result.stdout
