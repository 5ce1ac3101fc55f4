"""Manifest planning and carry-over on small hand-made Parquet files."""

import os

import pyarrow as pa
import pyarrow.parquet as pq

from encryptface.archive.manifest import MANIFEST_SCHEMA, carried_entries, carry_over, plan
from encryptface.archive.schema import RECORD_SCHEMA, error_row
from encryptface.archive.storage import ObjectInfo


def _manifest(entries):
    rows = [dict.fromkeys(MANIFEST_SCHEMA.names) | {"mode": "seal"} | entry for entry in entries]
    return pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA)


def test_plan_picks_new_changed_and_failed_objects():
    previous = _manifest([
        {"relative_path": "same.jpg", "size": 10, "version": "etag:a", "status": "ok"},
        {"relative_path": "edited.jpg", "size": 10, "version": "etag:b", "status": "ok"},
        {"relative_path": "resized.jpg", "size": 10, "version": "etag:c", "status": "no_face"},
        {"relative_path": "failed.jpg", "size": 10, "version": "etag:d", "status": "error"},
        {"relative_path": "corrupt.jpg", "size": 10, "version": "etag:g", "status": "error",
         "source_sha256": "ab" * 32},  # read, failed to decode: the same bytes fail again
        {"relative_path": "deleted.jpg", "size": 10, "version": "etag:e", "status": "ok"},
        {"relative_path": "cloaked.jpg", "size": 10, "version": "etag:h", "status": "ok", "mode": "cloak"},
    ])
    listing = [ObjectInfo("s3://b/same.jpg", "same.jpg", 10, "etag:a"),
               ObjectInfo("s3://b/edited.jpg", "edited.jpg", 10, "etag:B"),
               ObjectInfo("s3://b/resized.jpg", "resized.jpg", 11, "etag:c"),
               ObjectInfo("s3://b/failed.jpg", "failed.jpg", 10, "etag:d"),
               ObjectInfo("s3://b/corrupt.jpg", "corrupt.jpg", 10, "etag:g"),
               ObjectInfo("s3://b/new.jpg", "new.jpg", 10, "etag:f"),
               ObjectInfo("s3://b/cloaked.jpg", "cloaked.jpg", 10, "etag:h")]  # made in another mode
    delta = plan(listing, previous, "seal")
    assert delta.replaced == {"edited.jpg", "resized.jpg", "failed.jpg", "new.jpg", "cloaked.jpg"}
    assert (delta.new, delta.changed, delta.retried, delta.unchanged, delta.unlisted) == (1, 3, 1, 2, 1)
    assert plan(listing, None, "seal").replaced == {info.relative_path for info in listing}


def _write(path, names):
    rows = [error_row(f"s3://b/{name}", name, "x") for name in names]
    pq.write_table(pa.Table.from_pylist(rows, schema=RECORD_SCHEMA), path)


def test_carry_over_links_untouched_files_and_rewrites_the_others(tmp_path, settings):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    _write(old / "part-0.parquet", ["a.jpg", "b.jpg"])
    _write(old / "part-1.parquet", ["c.jpg", "d.jpg"])
    _write(old / "part-2.parquet", ["e.jpg"])
    placed = carry_over(old, new, replaced={"c.jpg", "e.jpg"}, storage=settings.storage)
    assert placed == ["part-0.parquet", "part-1.parquet"]  # part-2 held only a replaced record
    assert os.stat(new / "part-0.parquet").st_ino == os.stat(old / "part-0.parquet").st_ino  # linked
    assert pq.read_table(new / "part-1.parquet").column("relative_path").to_pylist() == ["d.jpg"]
    files = {"a.jpg": 0, "b.jpg": 0, "c.jpg": 1, "d.jpg": 1, "e.jpg": 2}
    previous = _manifest([{"relative_path": name, "data_file": f"part-{part}.parquet"}
                          for name, part in files.items()])
    kept = carried_entries(previous, {"c.jpg", "e.jpg"}, placed)
    assert kept.column("relative_path").to_pylist() == ["a.jpg", "b.jpg", "d.jpg"]
