"""End to end on real parts: moto S3 server, Spark local[2], Parquet, real photos."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pyarrow.dataset as ds
import pytest
from conftest import FAST, PHOTOS, REPO, TEST_PASSWORD, lfw_people
from PIL import Image

from encryptface.archive.output import RUNS, records_path
from encryptface.crypto.keys import KdfParams, Password, derive_master_key
from encryptface.imaging.codecs import decode_encoded, decode_image
from jobs import cli, restore, scrub

BUCKET = "archive"
GOOD = {"photos/two_people.jpg": "two_people.jpg", "photos/obama2.jpg": "obama2.jpg",
        "photos/rgba.png": "32bit.png", "photos/nested/biden.jpg": "biden.jpg"}
FLAGS = [f"--set={item}" for item in FAST + ["images.max_bytes=5000000",
                                             "spark.images_per_partition=4"]]
SCRUB_FLAGS = ["--mode=seal", *FLAGS]


def _bad_objects() -> dict[str, bytes]:
    obama = (PHOTOS / "obama2.jpg").read_bytes()
    biden = Image.open(PHOTOS / "biden.jpg")
    bomb, no_face, cmyk = io.BytesIO(), io.BytesIO(), io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")
    biden.crop((0, biden.height * 2 // 3, biden.width, biden.height)).save(no_face, "JPEG")
    Image.open(PHOTOS / "obama2.jpg").convert("CMYK").save(cmyk, "JPEG")
    return {"bad/empty.jpg": b"", "bad/truncated.jpg": obama[: len(obama) // 3],
            "bad/not_an_image.png": b"hello, I am a text file",
            "bad/bomb.png": bomb.getvalue(), "bad/no_face.jpg": no_face.getvalue(),
            "bad/huge.jpg": os.urandom(6_000_000), "odd/cmyk.jpg": cmyk.getvalue()}


@pytest.fixture(scope="module")
def archive(s3):
    s3.create_bucket(Bucket=BUCKET)
    objects = {key: (PHOTOS / name).read_bytes() for key, name in GOOD.items()}
    objects.update(_bad_objects())
    people = lfw_people(min_images=2, count=3)
    for photos in people[:2]:  # first photo of two people goes into the archive
        objects[f"lfw/{photos[0].parent.name}/{photos[0].name}"] = photos[0].read_bytes()
    objects["notes/readme.txt"] = b"not listed: wrong extension"
    for key, body in objects.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return {"objects": objects, "people": people}


@pytest.fixture(scope="module")
def scrubbed(archive, spark, s3_endpoint, password_file, tmp_path_factory):
    output = tmp_path_factory.mktemp("scrub") / "out"
    rc = scrub.main(["--input", f"s3://{BUCKET}/", "--output", str(output), "--endpoint-url",
                     s3_endpoint, "--password-file", password_file, "--write-images", *SCRUB_FLAGS])
    assert rc == 0
    rows = ds.dataset(records_path(output)).to_table().to_pylist()
    return output, {row["relative_path"]: row for row in rows}


def test_one_row_per_image_with_the_contract(archive, scrubbed):
    _, rows = scrubbed
    images = [k for k in archive["objects"] if not k.endswith(".txt")]
    assert sorted(rows) == sorted(images)
    for key in GOOD:
        row = rows[key]
        assert row["status"] == "ok" and row["error"] is None and row["deidentified_image"], row["error"]
        assert row["width"] > 0 and row["height"] > 0 and len(row["source_sha256"]) == 64
        for face in row["faces"]:
            assert len(face["bbox"]) == 4 and len(face["landmarks"]) == 10
            assert face["mode"] == "seal" and len(face["salt"]) == 16 and face["model_id"]
            kdf = json.loads(face["kdf"])
            assert kdf["algorithm"] == "scrypt" and kdf["n"] == 2 ** 14
    assert len(rows["photos/two_people.jpg"]["faces"]) == 2
    assert rows["odd/cmyk.jpg"]["status"] == "ok"


@pytest.mark.parametrize("key, status, message", [
    ("bad/empty.jpg", "error", "empty object"),
    ("bad/truncated.jpg", "error", "corrupt or truncated"),
    ("bad/not_an_image.png", "error", "not an image"),
    ("bad/bomb.png", "error", "image too large"),
    ("bad/huge.jpg", "error", "object too large"),
    ("bad/no_face.jpg", "no_face", None),
])
def test_bad_input_rows_say_why(scrubbed, key, status, message):
    row = scrubbed[1][key]
    assert row["status"] == status
    if message:
        assert message in row["error"] and row["deidentified_image"] is None
    else:
        assert row["error"] is None and row["faces"] == [] and row["deidentified_image"]


def test_parquet_is_zstd_and_images_were_written(scrubbed):
    output, rows = scrubbed
    files = list(records_path(output).glob("*.parquet"))
    assert files and all(".zstd." in f.name for f in files)
    written = decode_encoded((output / "images" / "photos" / "obama2.jpg").read_bytes())
    assert written.shape[:2] == (rows["photos/obama2.jpg"]["height"], rows["photos/obama2.jpg"]["width"])


def test_restore_to_s3_gives_original_face_pixels(archive, scrubbed, s3, s3_endpoint, password_file,
                                                  settings):
    output, rows = scrubbed
    rc = restore.main(["--input", str(output), "--output", f"s3://{BUCKET}/restored",
                       "--endpoint-url", s3_endpoint, "--password-file", password_file, *FLAGS])
    assert rc == 0
    for key in GOOD:
        body = s3.get_object(Bucket=BUCKET, Key=f"restored/{key.rsplit('.', 1)[0]}.png")["Body"].read()
        restored = decode_encoded(body)
        original, _ = decode_image(archive["objects"][key], settings.images)
        protected = decode_encoded(rows[key]["deidentified_image"])
        for face in rows[key]["faces"]:
            x, y, w, h = (int(v) for v in face["bbox"])
            box = (slice(max(0, y), y + h), slice(max(0, x), x + w))
            assert np.array_equal(restored[box], original[box])
            assert not np.array_equal(protected[box], original[box])


def test_wrong_password_fails_clearly_and_writes_nothing(scrubbed, s3, s3_endpoint, tmp_path, capsys):
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the password\n")
    rc = restore.main(["--input", str(scrubbed[0]), "--output", f"s3://{BUCKET}/wrong",
                       "--endpoint-url", s3_endpoint, "--password-file", str(wrong), *FLAGS])
    assert rc == 2
    assert "wrong password" in capsys.readouterr().err
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="wrong/").get("KeyCount", 0) == 0


def _check_two_factors(output, archive, password_file, tmp_path):
    """1:N verify: the enrolled person with the password matches; a stranger, or a wrong password, not."""
    enrolled, stranger = archive["people"][0], archive["people"][2]
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the password\n")
    base = ["verify", "--records", str(output), *FLAGS]
    assert cli.main([*base, "--probe", str(enrolled[1]), "--password-file", password_file]) == 0
    assert cli.main([*base, "--probe", str(stranger[1]), "--password-file", password_file]) == 1
    assert cli.main([*base, "--probe", str(enrolled[1]), "--password-file", str(wrong)]) == 1


def test_verify_needs_both_the_face_and_the_password(archive, scrubbed, password_file, tmp_path):
    _check_two_factors(scrubbed[0], archive, password_file, tmp_path)


def test_verify_one_to_one_reads_only_the_named_photo(archive, scrubbed, password_file):
    enrolled, other = archive["people"][0], archive["people"][1]
    base = ["verify", "--records", str(scrubbed[0]), "--password-file", password_file, *FLAGS,
            "--probe", str(enrolled[1]), "--photo"]
    key = f"lfw/{enrolled[0].parent.name}/{enrolled[0].name}"
    assert cli.main([*base, key]) == 0
    assert cli.main([*base, f"s3://{BUCKET}/{key}"]) == 0               # by source URI too
    assert cli.main([*base, key, "--face", "1"]) == 1                    # the photo has one face
    assert cli.main([*base, f"lfw/{other[0].parent.name}/{other[0].name}"]) == 1
    assert cli.main([*base, "lfw/nobody/nobody_0001.jpg"]) == 1


def test_sealed_embeddings_verify_without_restoring(archive, spark, s3_endpoint, password_file,
                                                    tmp_path):
    output = str(tmp_path / "sealed")
    assert scrub.main(["--input", f"s3://{BUCKET}/lfw", "--output", output, "--endpoint-url",
                       s3_endpoint, "--password-file", password_file, *SCRUB_FLAGS,
                       "--set=verify.seal_embeddings=true"]) == 0
    faces = [f for row in ds.dataset(records_path(output)).to_table().to_pylist() for f in row["faces"]]
    assert faces and all(len(f["sealed_embedding"]) == 12 + (128 + 512) * 4 + 16 for f in faces)
    _check_two_factors(output, archive, password_file, tmp_path)


def test_rerun_replaces_the_dataset_atomically(scrubbed, s3_endpoint, password_file, tmp_path):
    output, rows = scrubbed
    first_run = records_path(output)
    rc = scrub.main(["--input", f"s3://{BUCKET}/photos", "--output", str(output), "--endpoint-url",
                     s3_endpoint, "--password-file", password_file, *SCRUB_FLAGS])
    assert rc == 0
    second_run = records_path(output)
    assert second_run != first_run and not first_run.exists()
    assert [p.name for p in (output / RUNS).iterdir()] == [second_run.name]
    uris = ds.dataset(second_run).to_table(columns=["source_uri"]).column(0).to_pylist()
    assert sorted(uris) == sorted(f"s3://{BUCKET}/{key}" for key in GOOD)


def test_spark_submit_entry_point_keeps_the_password_out_of_everything(tmp_path):
    """`spark-submit jobs/scrub.py` as a user runs it; the password must not leak anywhere."""
    output, events, local = tmp_path / "out", tmp_path / "events", tmp_path / "local"
    events.mkdir()
    env = dict(os.environ, ENCRYPTFACE_PASSWORD=TEST_PASSWORD, PYSPARK_PYTHON=sys.executable,
               SPARK_LOCAL_IP="127.0.0.1")
    spark_submit = os.path.join(os.path.dirname(sys.executable), "spark-submit")
    result = subprocess.run(
        [spark_submit, "--master", "local[2]", "--conf", "spark.eventLog.enabled=true",
         "--conf", f"spark.eventLog.dir={events}", "--conf", f"spark.local.dir={local}",
         str(REPO / "jobs" / "scrub.py"),
         "--input", str(PHOTOS / "two_people.jpg"), "--output", str(output), *SCRUB_FLAGS],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "scrubbed 1 photos (1 ok" in result.stdout
    assert "Traceback" not in result.stderr  # a successful run prints none (py4j's noise included)
    assert TEST_PASSWORD not in result.stdout + result.stderr
    files = [p for folder in (output, events, local) for p in folder.rglob("*") if p.is_file()]
    assert any(events in p.parents for p in files)  # the event log (what the Spark UI replays)
    original = (PHOTOS / "two_people.jpg").read_bytes()
    # the derived master key travels to the executors inside the task closure: it must not be left
    # in the event log, Spark's local dirs (broadcast blocks, spills) or the output either
    kdf = ds.dataset(records_path(output)).to_table().to_pylist()[0]["faces"][0]["kdf"]
    master = derive_master_key(Password(TEST_PASSWORD.encode()), KdfParams.from_json(kdf))
    for path in files:
        data = path.read_bytes()
        assert TEST_PASSWORD.encode() not in data, path
        assert master._value not in data, path
        # no copy of the original photo's bytes left in shuffle/spill/temp files or the output
        assert original[1000:1064] not in data, path


def test_default_encrypt_job_round_trip_on_a_local_folder(spark, password_file, tmp_path, settings, capsys):
    """The default mode and generator (stylegan), no flags, through Spark workers (OpenVINO inside
    the executors): bit-exact restore, a wrong password stops with nothing written, or renders decoys."""
    from encryptface.imaging.metrics import psnr
    from encryptface.modes.encrypt_stylegan import read_record

    output = tmp_path / "out"
    assert scrub.main(["--input", str(PHOTOS / "obama2.jpg"), "--output", str(output),
                       "--password-file", password_file, *FLAGS]) == 0
    row = ds.dataset(records_path(output)).to_table().to_pylist()[0]
    assert row["status"] == "ok" and row["faces"][0]["mode"] == "encrypt"
    assert "mobilestylegan" in row["faces"][0]["model_id"]
    # restore finds the generator from the record: no --generator flag needed
    assert restore.main(["--input", str(output), "--output", str(tmp_path / "restored"),
                         "--password-file", password_file, *FLAGS]) == 0
    original, _ = decode_image((PHOTOS / "obama2.jpg").read_bytes(), settings.images)
    restored = decode_encoded((tmp_path / "restored" / "obama2.png").read_bytes())
    protected = decode_encoded(row["deidentified_image"])
    region = read_record(row["faces"][0]["encrypted_latent"]).region
    assert np.array_equal(restored[region.slices], original[region.slices])
    assert psnr(protected[region.slices], original[region.slices]) < 25
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the password\n")
    capsys.readouterr()
    assert restore.main(["--input", str(output), "--output", str(tmp_path / "refused"),
                         "--password-file", str(wrong), *FLAGS]) == 2
    assert "wrong password" in capsys.readouterr().err and not (tmp_path / "refused").exists()
    assert restore.main(["--input", str(output), "--output", str(tmp_path / "decoy"), "--decoys",
                         "--password-file", str(wrong), *FLAGS]) == 0
    decoy = decode_encoded((tmp_path / "decoy" / "obama2.png").read_bytes())
    assert psnr(decoy[region.slices], original[region.slices]) < 25
    assert psnr(decoy[region.slices], protected[region.slices]) < 35  # yet another face


def test_missing_password_or_input_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ENCRYPTFACE_PASSWORD", raising=False)
    assert scrub.main(["--input", str(PHOTOS), "--output", str(tmp_path / "o"),
                       "--password-file", str(tmp_path / "missing.txt")]) == 2
    assert "cannot read password file" in capsys.readouterr().err
    (tmp_path / "pw").write_text("x\n")
    assert scrub.main(["--input", str(tmp_path / "nowhere"), "--output", str(tmp_path / "o"),
                       "--password-file", str(tmp_path / "pw")]) == 2
    assert "input folder does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
