"""Scrub output on object storage, no shared filesystem: scrub, restore, verify, evaluate and
--incremental from S3 to S3 against moto's server; a run killed before its commit leaves the
previous one readable; readers during a publish see one complete run; a bad output URI is refused."""

import json
import os
import subprocess
import sys
import threading

import pyarrow.dataset as ds
import pytest
from conftest import FAST, REPO
from faults import worker_faults_env

from encryptface.archive.manifest import read_manifest
from encryptface.archive.output import CURRENT, RUNS, data_files, new_run_dir, publish, records_path
from encryptface.archive.storage import arrow_filesystem
from encryptface.config import SAMPLES_DIR
from encryptface.imaging.codecs import decode_encoded, decode_image
from jobs import cli, evaluate, restore, scrub

BUCKET = "records-on-s3"
OUT = f"s3://{BUCKET}/scrubbed"
FLAGS = [f"--set={item}" for item in FAST + ["spark.images_per_partition=2"]]
PHOTOS = {"obama/obama2.jpg": "obama2.jpg", "obama/partial.jpg": "obama_partial_face.jpg",
          "biden/biden.jpg": "biden.jpg"}


def _keys(s3, prefix):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _rows(storage):
    filesystem, _ = arrow_filesystem(OUT, storage)
    files = [arrow_filesystem(uri, storage)[1] for uri in data_files(records_path(OUT, storage), storage)]
    return {row["relative_path"]: row for row in
            ds.dataset(files, filesystem=filesystem, format="parquet").to_table().to_pylist()}


@pytest.fixture(scope="module")
def storage(settings, s3_endpoint):
    import dataclasses

    return dataclasses.replace(settings.storage, endpoint_url=s3_endpoint)


@pytest.fixture(scope="module")
def scrubbed(s3, spark, s3_endpoint, password_file, storage):  # noqa: ARG001 - spark: session started
    s3.create_bucket(Bucket=BUCKET)
    for key, name in PHOTOS.items():
        s3.put_object(Bucket=BUCKET, Key=f"photos/{key}", Body=(SAMPLES_DIR / name).read_bytes())
    rc = scrub.main(["--input", f"s3://{BUCKET}/photos", "--output", OUT, "--endpoint-url", s3_endpoint,
                     "--password-file", password_file, "--mode=seal", "--write-images", *FLAGS])
    assert rc == 0
    return _rows(storage)


def test_scrub_writes_a_committed_run_under_its_own_prefix(s3, scrubbed, storage):
    assert sorted(scrubbed) == sorted(PHOTOS)
    assert all(row["status"] == "ok" for row in scrubbed.values())
    run_id = s3.get_object(Bucket=BUCKET, Key=f"scrubbed/{CURRENT}")["Body"].read().decode().strip()
    assert records_path(OUT, storage) == f"{OUT}/{RUNS}/{run_id}"
    keys = _keys(s3, f"scrubbed/{RUNS}/")
    assert keys and all(key.startswith(f"scrubbed/{RUNS}/{run_id}/") for key in keys)
    assert f"scrubbed/{RUNS}/{run_id}/_manifest/manifest.parquet" in keys
    assert _keys(s3, "scrubbed/images/") == sorted(f"scrubbed/images/{key}" for key in PHOTOS)


def test_restore_verify_evaluate_read_the_records_from_s3(s3, scrubbed, s3_endpoint, password_file,
                                                          settings, tmp_path, capsys):
    common = ["--endpoint-url", s3_endpoint, "--password-file", password_file, *FLAGS]
    assert restore.main(["--input", OUT, "--output", f"s3://{BUCKET}/restored", *common]) == 0
    for key, name in PHOTOS.items():
        body = s3.get_object(Bucket=BUCKET, Key=f"restored/{key.rsplit('.', 1)[0]}.png")["Body"].read()
        restored, (original, _) = decode_encoded(body), decode_image((SAMPLES_DIR / name).read_bytes(),
                                                                     settings.images)
        for face in scrubbed[key]["faces"]:
            x, y, w, h = (max(0, int(v)) for v in face["bbox"])
            assert (restored[y:y + h, x:x + w] == original[y:y + h, x:x + w]).all()
    probe = str(SAMPLES_DIR / "obama2.jpg")
    assert cli.main(["verify", "--records", OUT, "--probe", probe, *common]) == 0
    assert "match: s3://records-on-s3/photos/obama/obama2.jpg" in capsys.readouterr().out
    assert cli.main(["verify", "--records", OUT, "--probe", probe, "--photo", "obama/obama2.jpg",
                     *common]) == 0  # 1:1 reads only that photo's row group, from S3 too
    gallery = tmp_path / "gallery.html"
    assert cli.main(["gallery", "--records", OUT, "--output", str(gallery), "--set=kdf.n_log2=14",
                     "--set", f"storage.endpoint_url={s3_endpoint}"]) == 0
    assert gallery.read_text().count("<img") >= 3
    report = tmp_path / "eval"
    assert evaluate.main(["--originals", f"s3://{BUCKET}/photos", "--scrubbed", OUT, "--output",
                          str(report), "--recognizers", "dlib", "--wrong", "1", *common]) == 0
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["faces"] >= 3 and not metrics["errors"]


def test_incremental_on_s3_scrubs_the_delta_and_cleans_the_old_run(s3, scrubbed, s3_endpoint,
                                                                   password_file, storage, capsys):
    before = records_path(OUT, storage)
    s3.put_object(Bucket=BUCKET, Key="photos/two/two_people.jpg",
                  Body=(SAMPLES_DIR / "two_people.jpg").read_bytes())
    capsys.readouterr()
    assert scrub.main(["--input", f"s3://{BUCKET}/photos", "--output", OUT, "--endpoint-url", s3_endpoint,
                       "--password-file", password_file, "--mode=seal", "--incremental", *FLAGS]) == 0
    assert "incremental: 1 to scrub (1 new" in capsys.readouterr().out
    after = records_path(OUT, storage)
    assert after != before and not _keys(s3, before.removeprefix(f"s3://{BUCKET}/") + "/")
    rows = _rows(storage)
    assert sorted(rows) == sorted([*PHOTOS, "two/two_people.jpg"])
    for key in PHOTOS:  # carried over as they were (copied server side)
        assert rows[key]["source_sha256"] == scrubbed[key]["source_sha256"]
        assert rows[key]["faces"][0]["salt"] == scrubbed[key]["faces"][0]["salt"]
    assert len(rows["two/two_people.jpg"]["faces"]) == 2
    assert read_manifest(after, storage).num_rows == len(rows)


def test_a_run_killed_before_its_commit_leaves_the_previous_one(s3, scrubbed, s3_endpoint,  # noqa: ARG001
                                                                password_file, storage, tmp_path):
    published = records_path(OUT, storage)
    expected = sorted(_rows(storage))
    # A real kill: the job's JVM is SIGKILLed when a worker meets the last photo, after the tasks
    # before it have written their records files into the new run folder.
    victim, marker = "two/two_people.jpg", tmp_path / "killed"
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1",
               **worker_faults_env(ENCRYPTFACE_TEST_KILL_EXECUTOR_ONCE=f"{victim}={marker}"))
    job = subprocess.run([sys.executable, "-m", "jobs.scrub", "--input", f"s3://{BUCKET}/photos",
                          "--output", OUT, "--endpoint-url", s3_endpoint, "--password-file", password_file,
                          "--mode=seal", "--master", "local[2]", *FLAGS,
                          "--set=spark.images_per_partition=1"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert job.returncode != 0 and marker.exists()
    orphans = [key for key in _keys(s3, f"scrubbed/{RUNS}/") if not key.startswith(
        published.removeprefix(f"s3://{BUCKET}/") + "/")]
    assert any(key.endswith(".parquet") for key in orphans)   # it had written records ...
    assert records_path(OUT, storage) == published            # ... but never committed them
    assert sorted(_rows(storage)) == expected
    # the next committed run removes the killed run's files
    assert scrub.main(["--input", f"s3://{BUCKET}/photos", "--output", OUT, "--endpoint-url", s3_endpoint,
                       "--password-file", password_file, "--mode=seal", *FLAGS]) == 0
    assert not set(orphans) & set(_keys(s3, f"scrubbed/{RUNS}/"))
    assert sorted(_rows(storage)) == expected


def test_readers_during_a_publish_see_one_whole_run(s3, scrubbed, storage):  # noqa: ARG001
    old = records_path(OUT, storage)
    old_files = data_files(old, storage)
    new = new_run_dir(OUT)
    for uri in old_files[:1]:  # the new run: a different, smaller dataset
        s3.copy_object(Bucket=BUCKET, CopySource={"Bucket": BUCKET, "Key": uri.split("/", 3)[3]},
                       Key=f"{new.split('/', 3)[3]}/{uri.rsplit('/', 1)[1]}")
    sizes = {len(_rows(storage))}
    seen, failures, stop = [], [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                seen.append(len(_rows(storage)))
            except OSError as exc:  # the replaced run was deleted under a slow reader: an error,
                failures.append(exc)  # never a mixed dataset
    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    publish(OUT, new, storage)
    sizes.add(len(_rows(storage)))
    stop.set()
    for thread in threads:
        thread.join()
    assert seen and set(seen) <= sizes and len(sizes) == 2
    assert records_path(OUT, storage) == new


@pytest.mark.parametrize("output, message", [("s3://", "S3 URI without a bucket"),
                                             ("s3:///x", "S3 URI without a bucket"),
                                             ("s3://Bad_Bucket/x", "not a valid S3 bucket name"),
                                             ("gs://bucket/x", "unsupported storage scheme")])
def test_a_bad_output_uri_is_refused_up_front(output, message, password_file, capsys):
    assert scrub.main(["--input", str(SAMPLES_DIR), "--output", output, "--mode=seal",
                       "--password-file", password_file, *FLAGS]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
