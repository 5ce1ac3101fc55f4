"""The Orca backend submitted with spark-submit to a real standalone cluster (master and worker on
127.0.0.1, from .venv-orca's pyspark): the executor that meets one photo is killed, the task is
retried on its replacement, the spark-submit JVM exits once the job is done, and the records equal
the default backend's on the same cluster."""

import re
import time

import pytest
from conftest import LFW_TRAIN, comparable_rows
from standalone import cluster_killing_the_victim, photos_with_victim, submit

pytest.importorskip("bigdl.orca", reason="the Orca backend runs in .venv-orca (make install-orca)")
pytestmark = pytest.mark.orca


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    yield from cluster_killing_the_victim(tmp_path_factory, "orca-cluster")


def test_orca_on_a_cluster_survives_a_killed_executor_exits_and_matches_the_default_backend(cluster,
                                                                                            tmp_path):
    master_url, logs = cluster
    folder = photos_with_victim(tmp_path / "in", sorted(LFW_TRAIN.glob("*/*.jpg"))[:9])
    started = time.monotonic()
    orca = submit(master_url, "scrub", "--backend", "orca", "--input", str(folder), "--output",
                  str(tmp_path / "orca"), "--mode=seal", ORCA="1")
    wall = time.monotonic() - started
    assert (logs / "executor-killed").exists()  # an executor JVM really was killed mid-job
    assert "scrubbed 10 photos (10 ok" in orca.stdout
    job_seconds = float(re.search(r"scrubbed 10 photos .* in ([\d.]+)s", orca.stdout).group(1))
    # reported, not asserted (a unit test never asserts on wall-clock time); that spark-submit exits
    # at all after the job is what `submit` checks, within its timeout
    print(f"orca on the cluster: spark-submit {wall:.1f} s, the job's own clock {job_seconds:.1f} s")
    submit(master_url, "scrub", "--input", str(folder), "--output", str(tmp_path / "spark"), "--mode=seal")
    assert comparable_rows(tmp_path / "orca") == comparable_rows(tmp_path / "spark")
