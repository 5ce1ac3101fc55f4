"""Shared fixtures: real photos from ../shared, fast settings, a moto S3 server, a Spark session."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from encryptface.config import load_settings
from encryptface.crypto.keys import KdfParams, KeyRing, Password, derive_master_key

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PHOTOS = SHARED / "data" / "photos"
LFW_TRAIN = SHARED / "data" / "lfw" / "train"
TEST_PASSWORD = "correct horse battery staple 7f3a"
# CI replays the same examples every run (a red CI then means a change broke something); local runs
# explore new ones.
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")
# scrypt at the lowest cost the code accepts: tests check the mechanism, not the cost.
FAST = ["kdf.n_log2=14"]


# A test module that reads face data names one of these (or what reads LFW's splits for it:
# split_identities, and side_by_side, which draws the sweep's people).
_SHARED_NAMES = re.compile(r"\b(PHOTOS|LFW_TRAIN|SHARED|lfw_people|split_identities|side_by_side)\b")


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    """Without ../shared: an error in CI (it must be there), else the tests whose module uses it are
    skipped with the reason and the rest (crypto, keyed transforms, config, ...) still run."""
    if SHARED.is_dir():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"CI needs the shared data folder at {SHARED}")
    skip = pytest.mark.skip(reason=f"needs the shared data folder at {SHARED}")
    uses_shared: dict[str, bool] = {}
    for item in items:
        path = str(item.fspath)
        if path not in uses_shared:
            text = Path(path).read_text()
            uses_shared[path] = bool(_SHARED_NAMES.search(text))
        if uses_shared[path]:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def session_settings():
    """The suite's settings for session fixtures (a module may override ``settings`` for its tests)."""
    return load_settings(overrides=FAST)


@pytest.fixture(scope="session")
def settings(session_settings):
    return session_settings


@pytest.fixture(scope="session")
def password():
    return Password(TEST_PASSWORD.encode())


@pytest.fixture(scope="session")
def master_key(session_settings, password):
    return derive_master_key(password, KdfParams.fresh(session_settings.kdf))


@pytest.fixture(scope="session")
def fixed_master_key(session_settings, password):
    """A master key from a fixed run salt (the session's ``master_key`` has a random one): with
    :func:`fixed_record_salts`, a test scrubs with the same face keys, so the same synthetic
    people, every run."""
    import dataclasses
    import hashlib

    kdf = dataclasses.replace(KdfParams.fresh(session_settings.kdf),
                              salt=hashlib.sha256(b"fixed run salt").digest()[:16])
    return derive_master_key(password, kdf)


@pytest.fixture()
def keys(password):
    return KeyRing(password)


@pytest.fixture(scope="session")
def password_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("secret") / "password.txt"
    path.write_text(TEST_PASSWORD + "\n")
    return str(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 API: moto's server on 127.0.0.1, with credentials in the environment."""
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def s3(s3_endpoint):
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture(scope="session")
def spark(session_settings, s3_endpoint):  # noqa: ARG001
    """Spark local[2]. Started after the S3 credentials are in the environment: the Python workers
    inherit the environment of their daemon, which lives as long as the session."""
    from jobs.common import spark_session

    session = spark_session(session_settings.spark, "local[2]")
    yield session
    session.stop()


def lfw_people(min_images: int = 2, count: int = 2) -> list[list[Path]]:
    """The first ``count`` LFW train identities (by name) with at least ``min_images`` photos."""
    people = []
    for folder in sorted(LFW_TRAIN.iterdir()):
        images = sorted(folder.glob("*.jpg"))
        if len(images) >= min_images:
            people.append(images)
        if len(people) == count:
            break
    return people


# Per face, what a fresh random salt changes (the keys, so the ciphertexts); everything else of two
# scrubs of the same photos must match.
RANDOM_PER_RUN = {"salt", "encrypted_latent", "kdf", "key_check"}


def comparable_rows(output) -> list[dict]:
    """The records of a scrub output without what differs between two runs (time, random salts)."""
    import pyarrow.dataset as ds

    from encryptface.archive.output import records_path

    rows = ds.dataset(records_path(output)).to_table().to_pylist()
    for row in rows:
        row.pop("seconds")
        row["faces"] = [{k: v for k, v in face.items() if k not in RANDOM_PER_RUN} for face in row["faces"]]
    return sorted(rows, key=lambda row: row["relative_path"])


def fixed_record_salts(monkeypatch, prefix: bytes) -> None:
    """Record salts from a counter instead of the OS; with ``fixed_master_key`` a test scrubs with
    the same keys (the same synthetic people) every run: a stand-in test with random keys fails when
    one key's person misses."""
    import hashlib
    import itertools

    from encryptface.pipeline import scrubber as scrubber_module

    counter = itertools.count()
    monkeypatch.setattr(scrubber_module, "new_record_salt",
                        lambda: hashlib.sha256(prefix + b"%d" % next(counter)).digest()[:16])
