import dataclasses

import pytest

from encryptface.archive.output import output_key
from encryptface.archive.storage import StorageError, list_objects, parse_uri, read_bytes, write_bytes


@pytest.fixture()
def s3_settings(settings, s3_endpoint):
    # a tiny page size makes the listing paginate
    return dataclasses.replace(settings.storage, endpoint_url=s3_endpoint, list_page_size=2)


def test_parse_uri():
    assert parse_uri("s3://bucket/a/b").key == "a/b"
    assert parse_uri("file:///tmp/x").key == "/tmp/x"
    assert parse_uri("relative/dir").key.endswith("relative/dir")
    assert output_key("s3://b/out", "x/y.png", "jpeg") == "s3://b/out/x/y.jpg"
    with pytest.raises(ValueError, match="unsupported"):
        parse_uri("gs://bucket/x")


def test_local_listing_filters_and_recurses(tmp_path, settings):
    (tmp_path / "a").mkdir()
    for name in ("a/one.JPG", "two.png", "notes.txt", "a/three.webp"):
        (tmp_path / name).write_bytes(b"x" * 3)
    found = list(list_objects(str(tmp_path), settings.storage))
    assert [o.relative_path for o in found] == ["a/one.JPG", "a/three.webp", "two.png"]
    assert all(o.size == 3 for o in found)
    with pytest.raises(StorageError, match="does not exist"):
        list(list_objects(str(tmp_path / "missing"), settings.storage))


def test_s3_paginated_listing_read_and_write(s3, s3_settings):
    s3.create_bucket(Bucket="storage-test")
    keys = [f"in/{i:02d}.jpg" for i in range(7)] + ["in/readme.txt", "other/x.jpg", "inbox/y.jpg"]
    for key in keys:
        s3.put_object(Bucket="storage-test", Key=key, Body=key.encode())
    found = list(list_objects("s3://storage-test/in", s3_settings))
    assert [o.relative_path for o in found] == [f"{i:02d}.jpg" for i in range(7)]  # not inbox/
    assert all(o.version.startswith("etag:") and len(o.version) > 10 for o in found)
    single = list(list_objects("s3://storage-test/in/03.jpg", s3_settings))  # one object, like a file path
    assert [(o.relative_path, o.uri) for o in single] == [("03.jpg", "s3://storage-test/in/03.jpg")]
    assert [o.relative_path for o in list_objects("s3://storage-test/", s3_settings)][-1] == "other/x.jpg"
    assert read_bytes(found[3].uri, s3_settings) == b"in/03.jpg"
    write_bytes("s3://storage-test/out/a/b.png", b"payload", s3_settings)
    assert read_bytes("s3://storage-test/out/a/b.png", s3_settings) == b"payload"
    with pytest.raises(StorageError, match="cannot read s3://storage-test/in/missing.jpg: NoSuchKey"):
        read_bytes("s3://storage-test/in/missing.jpg", s3_settings)
    with pytest.raises(StorageError, match="cannot list"):
        list(list_objects("s3://no-such-bucket/x", s3_settings))
