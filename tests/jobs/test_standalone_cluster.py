"""A real Spark standalone cluster on 127.0.0.1 (one master, one worker, started by the test) and
`deploy/submit-standalone.sh` submitting the scrub job to it, as an operator would; then the whole
executor JVM is killed mid-job and the job still completes."""

import pyarrow.dataset as ds
import pytest
from conftest import LFW_TRAIN, PHOTOS, TEST_PASSWORD
from standalone import cluster_killing_the_victim, photos_with_victim, submit

from encryptface.archive.output import records_path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    yield from cluster_killing_the_victim(tmp_path_factory, "cluster")


def _submit(master_url, source, output):
    return submit(master_url, "scrub", "--input", str(source), "--output", str(output), "--mode=seal")


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
    folder = photos_with_victim(tmp_path / "in", sorted(LFW_TRAIN.glob("*/*.jpg"))[:15])
    executors_before = {p.parent for p in (logs / "work").rglob("stderr")}
    result = _submit(master_url, folder, tmp_path / "out")
    assert (logs / "executor-killed").exists()  # the executor JVM really was killed
    new_executors = {p.parent for p in (logs / "work").rglob("stderr")} - executors_before
    assert len(new_executors) >= 2  # the job's first executor and its replacement
    table = ds.dataset(records_path(tmp_path / "out")).to_table(columns=["relative_path", "status"])
    rows = table.to_pylist()
    assert sorted(row["relative_path"] for row in rows) == sorted(p.name for p in folder.iterdir())
    assert all(row["status"] == "ok" for row in rows) and "scrubbed 16 photos (16 ok" in result.stdout
