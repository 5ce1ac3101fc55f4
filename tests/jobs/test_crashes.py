"""Dying workers and killed jobs. A Python worker that dies on one photo is retried by Spark and
the output is complete without duplicates; a job killed while writing leaves the previous dataset
in place, and a rerun publishes a complete new one."""

import os
import signal
import subprocess
import sys
import time

import pyarrow.dataset as ds
from conftest import FAST, LFW_TRAIN, REPO
from faults import worker_faults_env

from encryptface.archive.output import RECORDS, RUNS, records_path

FLAGS = [f"--set={item}" for item in FAST + ["spark.images_per_partition=10"]]


def _input(tmp_path, count):
    folder = tmp_path / "in"
    folder.mkdir()
    for photo in sorted(LFW_TRAIN.glob("*/*.jpg"))[:count]:
        (folder / photo.name).symlink_to(photo)
    return folder


def _run(args, env_extra=None, **kwargs):
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1", **(env_extra or {}))
    return subprocess.Popen([sys.executable, "-m", "jobs.scrub", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_a_worker_dying_once_is_retried_without_duplicates(tmp_path, password_file):
    photos = _input(tmp_path, 30)
    victim = sorted(p.name for p in photos.iterdir())[17]
    marker = tmp_path / "crashed"
    job = _run(["--input", str(photos), "--output", str(tmp_path / "out"), "--mode=seal",
                "--password-file", password_file, "--master", "local[2,4]", *FLAGS],
               worker_faults_env(ENCRYPTFACE_TEST_CRASH_ONCE=f"{victim}={marker}"))
    out, err = job.communicate(timeout=300)
    assert job.returncode == 0, err[-3000:]
    assert marker.exists()  # the worker really died on that photo
    rows = ds.dataset(records_path(tmp_path / "out")).to_table().to_pylist()
    paths = [r["relative_path"] for r in rows]
    assert sorted(paths) == sorted(p.name for p in photos.iterdir())  # all there, once each
    assert all(r["status"] == "ok" for r in rows)


def test_a_job_killed_mid_write_leaves_the_old_dataset(tmp_path, password_file):
    photos = _input(tmp_path, 40)
    output = tmp_path / "out"
    first = _run(["--input", str(photos), "--output", str(output), "--mode=seal",
                  "--password-file", password_file, *FLAGS])
    assert first.wait(timeout=300) == 0
    old_run = os.readlink(output / RECORDS)
    before = ds.dataset(records_path(output)).to_table().num_rows
    second = _run(["--input", str(photos), "--output", str(output), "--mode=seal",
                   "--password-file", password_file, *FLAGS], start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline:  # wait until the new run folder has started to fill
        runs = [p for p in (output / RUNS).iterdir() if p.name != os.path.basename(old_run)]
        if runs and any(runs[0].iterdir()):
            break
        time.sleep(0.2)
    os.killpg(second.pid, signal.SIGKILL)
    second.wait(timeout=60)
    assert os.readlink(output / RECORDS) == old_run  # readers still see the old run
    assert ds.dataset(records_path(output)).to_table().num_rows == before == 40
    third = _run(["--input", str(photos), "--output", str(output), "--mode=seal",
                  "--password-file", password_file, *FLAGS])
    assert third.wait(timeout=300) == 0
    assert os.readlink(output / RECORDS) != old_run
    rows = ds.dataset(records_path(output)).to_table().to_pylist()
    assert sorted(r["relative_path"] for r in rows) == sorted(p.name for p in photos.iterdir())
    current = os.path.basename(os.readlink(output / RECORDS))
    assert [p.name for p in (output / RUNS).iterdir()] == [current]  # the killed run's folder is gone
