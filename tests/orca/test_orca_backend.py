"""`make test-orca`: the scrub job on the BigDL Orca backend (run in .venv-orca) against the same moto
S3 archive as the default backend, compared row by row, then restored."""

import os
import subprocess
import sys

import numpy as np
import pyarrow.dataset as ds
import pytest
from conftest import FAST, PHOTOS, REPO, TEST_PASSWORD, comparable_rows

from encryptface.archive.output import records_path
from encryptface.config import SAMPLES_DIR
from encryptface.imaging.codecs import decode_encoded, decode_image
from encryptface.imaging.metrics import psnr

pytest.importorskip("bigdl.orca", reason="the Orca backend runs in .venv-orca (make install-orca)")
pytestmark = pytest.mark.orca

BUCKET = "orca"
FLAGS = [f"--set={item}" for item in FAST + ["spark.images_per_partition=3"]]


def _run(name, *args, s3_endpoint, password=TEST_PASSWORD):
    env = dict(os.environ, ENCRYPTFACE_PASSWORD=password, PYSPARK_PYTHON=sys.executable,
               SPARK_LOCAL_IP="127.0.0.1")
    result = subprocess.run([sys.executable, "-m", f"jobs.{name}", *args, "--endpoint-url", s3_endpoint,
                             "--master", "local[2]", *FLAGS], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=600)
    assert password not in result.stdout + result.stderr
    return result


def _job(name, *args, s3_endpoint):
    result = _run(name, *args, s3_endpoint=s3_endpoint)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def archive(s3):
    s3.create_bucket(Bucket=BUCKET)
    photos = ["two_people.jpg", "obama2.jpg", "biden.jpg", "32bit.png", "obama_partial_face.jpg"]
    objects = {f"in/{name}": (PHOTOS / name).read_bytes() for name in photos}
    objects["in/bad/truncated.jpg"] = objects["in/obama2.jpg"][:2000]
    objects["in/bad/text.png"] = b"not an image"
    for key, body in objects.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return objects


def test_orca_backend_writes_the_same_records_and_restores_the_same_photos(archive, s3_endpoint, tmp_path):
    outputs = {}
    for backend in ("spark", "orca"):
        output = tmp_path / backend
        out = _job("scrub", "--backend", backend, "--mode=seal", "--input", f"s3://{BUCKET}/in",
                   "--output", str(output), s3_endpoint=s3_endpoint)
        assert f"scrubbed {len(archive)} photos (5 ok, 0 without a face, 2 errors)" in out
        outputs[backend] = output
    # incl. the (deterministic) pixelated photos
    assert comparable_rows(outputs["orca"]) == comparable_rows(outputs["spark"])
    restored = {}
    for backend, output in outputs.items():
        _job("restore", "--input", str(output), "--output", str(tmp_path / f"{backend}-restored"),
             s3_endpoint=s3_endpoint)
        restored[backend] = {p.name: p.read_bytes() for p in (tmp_path / f"{backend}-restored").glob("*.png")}
    assert len(restored["orca"]) == 5 and restored["orca"] == restored["spark"]


def test_encrypt_mode_on_orca_round_trips(archive, s3_endpoint, tmp_path, settings):
    """With the prior generator (the stylegan one: next test)."""
    output = tmp_path / "encrypt"
    _job("scrub", "--backend", "orca", "--generator", "prior", "--input", f"s3://{BUCKET}/in/obama2.jpg",
         "--output", str(output), s3_endpoint=s3_endpoint)
    row = ds.dataset(records_path(output)).to_table().to_pylist()[0]
    assert row["status"] == "ok" and row["faces"][0]["mode"] == "encrypt"
    _job("restore", "--generator", "prior", "--input", str(output), "--output", str(tmp_path / "restored"),
         s3_endpoint=s3_endpoint)
    original, _ = decode_image(archive["in/obama2.jpg"], settings.images)
    restored = decode_encoded((tmp_path / "restored" / "obama2.png").read_bytes())
    protected = decode_encoded(row["deidentified_image"])
    x, y, w, h = (int(v) for v in row["faces"][0]["bbox"])
    box = (slice(y, y + h), slice(x, x + w))
    assert psnr(restored[box], original[box]) > 23 > 18 > psnr(protected[box], original[box])
    assert not np.array_equal(protected[box], original[box])


def test_stylegan_encrypt_on_orca_restores_the_samples_exactly(s3_endpoint, tmp_path, settings):
    """The stylegan generator on Orca's OpenVINO 2023.3: the bundled sample photos get synthetic
    faces, the password restores them bit for bit, and a wrong one is refused with nothing written."""
    from encryptface.modes.encrypt_stylegan import read_record

    photos = tmp_path / "in"
    photos.mkdir()
    for name in ("obama2.jpg", "two_people.jpg"):  # three faces
        (photos / name).write_bytes((SAMPLES_DIR / name).read_bytes())
    output = tmp_path / "encrypt"
    out = _job("scrub", "--backend", "orca", "--set=encrypt.generator=stylegan", "--input", str(photos),
               "--output", str(output), s3_endpoint=s3_endpoint)
    assert "scrubbed 2 photos (2 ok" in out
    rows = ds.dataset(records_path(output)).to_table().to_pylist()
    faces = [face for row in rows for face in row["faces"]]
    assert len(faces) == 3
    assert all(face["mode"] == "encrypt" and "mobilestylegan" in face["model_id"] for face in faces)
    _job("restore", "--input", str(output), "--output", str(tmp_path / "restored"), s3_endpoint=s3_endpoint)
    for row in rows:
        name = row["relative_path"]
        original, _ = decode_image((photos / name).read_bytes(), settings.images)
        restored = decode_encoded((tmp_path / "restored" / name).with_suffix(".png").read_bytes())
        protected = decode_encoded(row["deidentified_image"])
        for face in row["faces"]:  # (outside the faces: the stored JPEG's pixels)
            record = read_record(face["encrypted_latent"])
            assert record.kind == 1, face["metrics"]  # a stand-in, not the seal fallback
            box = record.region.slices
            assert np.array_equal(restored[box], original[box]), name
            assert psnr(protected[box], original[box]) < 25, name  # another face stood there
    refused = _run("restore", "--input", str(output), "--output", str(tmp_path / "refused"),
                   s3_endpoint=s3_endpoint, password="not the password")
    assert refused.returncode == 2 and "wrong password" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "refused").exists()
