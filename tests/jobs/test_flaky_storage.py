"""Scrubbing through a storage that fails: 10% of S3 requests get 500 / 503 SlowDown / a reset
connection / a body cut short. Every object must be accounted for, with the same output as a
fault-free run; an object that always fails gets an error row saying why."""

import pyarrow.dataset as ds
import pytest
from conftest import FAST, LFW_TRAIN
from faults import FaultProxy

from encryptface.archive.output import records_path
from jobs import scrub

BUCKET = "flaky"
PHOTOS = 200
FLAGS = [f"--set={item}" for item in FAST + ["spark.images_per_partition=25"]]


@pytest.fixture(scope="module")
def bucket(s3):
    s3.create_bucket(Bucket=BUCKET)
    photos = sorted(LFW_TRAIN.glob("*/*.jpg"))[:PHOTOS]
    for photo in photos:
        s3.put_object(Bucket=BUCKET, Key=f"in/{photo.parent.name}/{photo.name}", Body=photo.read_bytes())
    s3.put_object(Bucket=BUCKET, Key="in/bad-forever.jpg", Body=photos[0].read_bytes())
    return PHOTOS + 1


def _scrub(endpoint, output, password_file, images):
    assert scrub.main(["--input", f"s3://{BUCKET}/in/", "--output", str(output), "--mode=seal",
                       "--endpoint-url", endpoint, "--password-file", password_file,
                       "--write-images", "--images-uri", f"s3://{BUCKET}/{images}", *FLAGS]) == 0
    return {r["relative_path"]: r for r in ds.dataset(records_path(output)).to_table().to_pylist()}


def test_ten_percent_faults_change_nothing(spark, bucket, s3, s3_endpoint, password_file, tmp_path):
    clean = _scrub(s3_endpoint, tmp_path / "clean", password_file, "clean")
    with FaultProxy(s3_endpoint, rate=0.10, seed=7, always_fail=("bad-forever",)) as proxy:
        flaky = _scrub(proxy.endpoint, tmp_path / "flaky", password_file, "flaky")
    assert sum(proxy.injected.values()) > 40, proxy.injected  # faults really happened
    assert all(proxy.injected.values()), proxy.injected       # of every kind
    assert len(flaky) == len(clean) == bucket
    failed = flaky.pop("bad-forever.jpg")
    assert failed["status"] == "error" and "InternalError" in failed["error"]
    clean.pop("bad-forever.jpg")
    for key, row in clean.items():
        other = flaky[key]
        assert other["status"] == row["status"], (key, other["error"])
        assert other["deidentified_image"] == row["deidentified_image"]
        assert [f["bbox"] for f in other["faces"]] == [f["bbox"] for f in row["faces"]]
    written = {o["Key"].split("/", 1)[1]: o["Size"] for page in s3.get_paginator("list_objects_v2")
               .paginate(Bucket=BUCKET, Prefix="flaky/") for o in page.get("Contents", [])}
    expected = {o["Key"].split("/", 1)[1]: o["Size"] for page in s3.get_paginator("list_objects_v2")
                .paginate(Bucket=BUCKET, Prefix="clean/") for o in page.get("Contents", [])}
    expected.pop("bad-forever.jpg")  # it could not be read through the proxy, so nothing written
    assert written == expected and len(written) == PHOTOS  # every protected photo, whole
