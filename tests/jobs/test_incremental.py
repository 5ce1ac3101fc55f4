"""Incremental scrubbing over a growing moto bucket: a rerun processes only the delta."""

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from conftest import FAST, PHOTOS, lfw_people

from encryptface.archive.manifest import MANIFEST_DIR, MANIFEST_FILE
from encryptface.archive.output import records_path
from jobs import restore, scrub

BUCKET = "nightly"
FLAGS = ["--mode=seal", *(f"--set={item}" for item in FAST + ["spark.images_per_partition=3",
                                                              "spark.max_records_per_file=3"])]


def _rows(output):
    return {row["relative_path"]: row for row in ds.dataset(records_path(output)).to_table().to_pylist()}


def _run(s3_endpoint, output, password_file, capsys):
    rc = scrub.main(["--input", f"s3://{BUCKET}/in", "--output", str(output), "--endpoint-url", s3_endpoint,
                     "--password-file", password_file, "--write-images", "--incremental", *FLAGS])
    assert rc == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def photos():
    people = lfw_people(min_images=1, count=9)
    return [person[0].read_bytes() for person in people]


def test_rerun_scrubs_only_new_changed_and_failed_objects(spark, s3, s3_endpoint, password_file, photos,
                                                          tmp_path, capsys):
    s3.create_bucket(Bucket=BUCKET)
    for index, body in enumerate(photos[:6]):
        s3.put_object(Bucket=BUCKET, Key=f"in/p{index}.jpg", Body=body)
    s3.put_object(Bucket=BUCKET, Key="in/broken.jpg", Body=photos[6][:500])  # truncated: an error row
    output = tmp_path / "out"

    first = _run(s3_endpoint, output, password_file, capsys)
    assert "scrubbed 7 photos (6 ok" in first
    before = _rows(output)
    assert before["broken.jpg"]["status"] == "error"

    # the night after: two new photos, one replaced, one deleted; the broken one stays as it was
    s3.put_object(Bucket=BUCKET, Key="in/new/a.jpg", Body=photos[7])
    s3.put_object(Bucket=BUCKET, Key="in/new/b.jpg", Body=(PHOTOS / "obama2.jpg").read_bytes())
    s3.put_object(Bucket=BUCKET, Key="in/p2.jpg", Body=photos[8])
    s3.delete_object(Bucket=BUCKET, Key="in/p5.jpg")

    second = _run(s3_endpoint, output, password_file, capsys)
    assert "incremental: 3 to scrub (2 new, 1 changed, 0 retried after a read error), 5 unchanged, " \
           "1 no longer listed" in second
    after = _rows(output)
    assert sorted(after) == sorted(set(before) | {"new/a.jpg", "new/b.jpg"})  # one row each, deleted kept
    table = ds.dataset(records_path(output)).to_table(columns=["relative_path"])
    assert table.num_rows == len(after)  # no duplicates
    for key in ("p0.jpg", "p1.jpg", "p3.jpg", "p4.jpg", "p5.jpg", "broken.jpg"):  # carried over
        assert after[key] == before[key]
    assert after["p2.jpg"]["faces"][0]["salt"] != before["p2.jpg"]["faces"][0]["salt"]
    assert after["p2.jpg"]["source_sha256"] != before["p2.jpg"]["source_sha256"]
    assert after["new/b.jpg"]["status"] == "ok"

    manifest = pq.read_table(records_path(output) / MANIFEST_DIR / MANIFEST_FILE).to_pylist()
    assert sorted(entry["relative_path"] for entry in manifest) == sorted(after)
    for entry in manifest:
        assert (records_path(output) / entry["data_file"]).is_file()
        assert entry["source_sha256"] == after[entry["relative_path"]]["source_sha256"]
        if entry["status"] == "ok":
            assert entry["image_uri"].startswith(str(output / "images"))
    runs = {entry["run_id"] for entry in manifest}
    assert len(runs) == 2 and records_path(output).name in runs

    # nothing changed: nothing is scrubbed, the published dataset stays as it is
    link_target = records_path(output)
    third = _run(s3_endpoint, output, password_file, capsys)
    assert "nothing to scrub" in third and records_path(output) == link_target

    # records of both runs (two KDF run salts) restore with the one password
    assert restore.main(["--input", str(output), "--output", str(tmp_path / "restored"), "--password-file",
                         password_file, *FLAGS[1:]]) == 0
    with_image = sum(row["deidentified_image"] is not None for row in after.values())
    assert with_image == 8 and f"restored {with_image} photos" in capsys.readouterr().out
