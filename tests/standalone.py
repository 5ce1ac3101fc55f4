"""A real Spark standalone cluster on 127.0.0.1 (one master, one worker) from this interpreter's
pyspark, for the tests that submit jobs to it (default backend and Orca backend)."""

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import FAST, REPO, TEST_PASSWORD, free_port
from faults import worker_faults_env

VENV = Path(sys.executable).parent.parent
SPARK_CLASS = next(VENV.glob("lib/python3.11/site-packages/pyspark/bin/spark-class"))


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


@contextlib.contextmanager
def standalone_cluster(logs: Path, **worker_env):
    """(master URL, logs folder) of a running master and 2-core worker; the worker's executors
    get ``worker_env`` and write their logs under ``logs / "work"``."""
    port, ui_port, worker_ui = free_port(), free_port(), free_port()
    master_url = f"spark://127.0.0.1:{port}"
    with open(logs / "master.log", "wb") as master_log, open(logs / "worker.log", "wb") as worker_log:
        processes = [
            _start(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                    "--webui-port", str(ui_port)], master_log),
            _start(["org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
                    "--cores", "2", "--memory", "3g", "--webui-port", str(worker_ui),
                    "--work-dir", str(logs / "work")], worker_log, **worker_env)]
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


def submit(master_url: str, *job_args: str, timeout: float = 600, **env_extra: str):
    """``deploy/submit-standalone.sh MASTER JOB ARGS`` as an operator runs it (password in the
    environment, the fast test settings), in this interpreter's environment; the completed process."""
    env = dict(os.environ, ENCRYPTFACE_PASSWORD=TEST_PASSWORD, VENV=str(VENV), SPARK_LOCAL_IP="127.0.0.1",
               **env_extra)
    result = subprocess.run(
        ["bash", str(REPO / "deploy" / "submit-standalone.sh"), master_url, *job_args,
         *(f"--set={item}" for item in FAST + ["spark.images_per_partition=2"])],
        env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    return result


VICTIM = "victim-kill-executor.jpg"  # the executor that meets this photo is SIGKILLed, once


def photos_with_victim(folder: Path, photos: list[Path]) -> Path:
    """A folder of links to ``photos`` plus the victim photo (a copy of the first) that kills the
    executor meeting it (the cluster's workers get ENCRYPTFACE_TEST_KILL_EXECUTOR_ONCE)."""
    folder.mkdir()
    for photo in photos:
        (folder / photo.name).symlink_to(photo)
    (folder / VICTIM).symlink_to(photos[0])
    return folder


def cluster_killing_the_victim(tmp_path_factory, name: str):
    """A module fixture's body: a running cluster whose executor meeting :data:`VICTIM` is killed
    once (its marker file ``executor-killed`` in the logs folder says it happened)."""
    logs = tmp_path_factory.mktemp(name)
    faults = worker_faults_env(ENCRYPTFACE_TEST_KILL_EXECUTOR_ONCE=f"{VICTIM}={logs / 'executor-killed'}")
    with standalone_cluster(logs, **faults) as running:
        yield running
