"""Parquet tables with an image column, end to end through Spark: several files, a partitioned
folder, a struct and a binary image column, null and garbage cells; local and on moto's S3 server.
scrub -> restore gives the same table back: row count and order, every non-image column identical,
every face region pixel-exact, for seal and encrypt."""

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from conftest import FAST

from encryptface.archive.output import TABLE, data_files, records_path
from encryptface.archive.storage import arrow_filesystem
from encryptface.config import SAMPLES_DIR
from encryptface.imaging.codecs import decode_encoded, decode_image
from encryptface.pipeline.restorer import Restorer
from jobs import restore, scrub

BUCKET = "tables"
FLAGS = [f"--set={item}" for item in FAST + ["images.max_bytes=2000000"]]
SAMPLES = ["obama2.jpg", "two_people.jpg", "biden.jpg", "obama_partial_face.jpg"]
STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def _cells() -> list[bytes | None]:
    photos = [(SAMPLES_DIR / name).read_bytes() for name in SAMPLES]
    # null, not an image, a truncated JPEG, over images.max_bytes: an error row each
    return [*photos, None, b"hello, I am text", photos[0][:2000], b"\xff\xd8" + bytes(2_100_000)]


def _write_table(root, image_type, write) -> pa.Table:
    """Three files: two in partition folders split=a / split=b, one holding two row groups."""
    cells = _cells()
    images = [None if c is None else {"bytes": c, "path": f"p{i}.jpg"} for i, c in enumerate(cells)] \
        if image_type == STRUCT else cells
    table = pa.table({"id": pa.array([f"row-{i:02d}" for i in range(len(cells))]),
                      "caption": pa.array([f"caption {i}" if i % 3 else None for i in range(len(cells))]),
                      "label": pa.array(range(len(cells)), pa.int16()),
                      "image": pa.array(images, image_type),
                      "score": pa.array(np.linspace(0, 1, len(cells)), pa.float32())})
    write(table.slice(0, 3), f"{root}/split=a/part-0.parquet", 3)
    write(table.slice(3, 3), f"{root}/split=b/part-0.parquet", 2)   # two row groups
    write(table.slice(6), f"{root}/split=b/part-1.parquet", 3)
    return table


def _read(uri, storage, relative):
    filesystem, path = arrow_filesystem(f"{uri}/{relative}", storage)
    return pq.read_table(path, filesystem=filesystem)


def _round_trip(spark, source, scrubbed, table_out, restored_out, mode_flags, storage, settings,
                password_file, extra=()):  # noqa: ARG001
    common = ["--password-file", password_file, *FLAGS, *extra]
    assert scrub.main(["--input", source, "--output", scrubbed, "--image-column", "image",
                       "--output-table", table_out, *mode_flags, *common]) == 0
    assert restore.main(["--input", scrubbed, "--output-table", restored_out, *common]) == 0
    records_run = str(records_path(scrubbed, storage))
    rows = []
    for uri in data_files(records_run, storage):
        filesystem, path = arrow_filesystem(uri, storage)
        rows += pq.read_table(path, filesystem=filesystem).to_pylist()
    protected = str(records_path(table_out, storage, TABLE))
    back = str(records_path(restored_out, storage, TABLE))
    return rows, protected, back


FILES = ["split=a/part-0.parquet", "split=b/part-0.parquet", "split=b/part-1.parquet"]


def _image(cell):
    return cell["bytes"] if isinstance(cell, dict) else cell


def _check(source_uri, protected, back, rows, storage, settings, keys, key_of):
    """Same rows, same order, same other columns; the regions restore puts back are the source's."""
    by_key = {row["relative_path"]: row for row in rows}
    restorer = Restorer(settings)
    assert len(rows) == len(by_key) == 8  # one record per row, none dropped or repeated
    for relative in FILES:
        original, scrubbed, restored = (_read(uri, storage, relative)
                                        for uri in (source_uri, protected, back))
        assert scrubbed.schema == original.schema == restored.schema
        assert scrubbed.num_rows == original.num_rows == restored.num_rows
        others = [name for name in original.column_names if name != "image"]
        assert scrubbed.select(others).equals(original.select(others))   # order and values kept
        assert restored.select(others).equals(original.select(others))
        cells = original.column("image").to_pylist()
        for index, (cell, protected_cell, restored_cell) in enumerate(zip(
                cells, scrubbed.column("image").to_pylist(), restored.column("image").to_pylist(),
                strict=True)):
            record = by_key[key_of(original, relative, index)]
            if isinstance(cell, dict):  # the struct's other fields are kept
                assert protected_cell["path"] == restored_cell["path"] == cell["path"]
            if record["status"] == "error":
                assert _image(protected_cell) is None and _image(restored_cell) is None and record["error"]
                continue
            source, _ = decode_image(_image(cell), settings.images)
            shown, back_pixels = decode_encoded(_image(protected_cell)), decode_encoded(_image(restored_cell))
            _, regions = restorer.restore(record, keys)
            assert len(regions) == len(record["faces"]) > 0, relative
            for region in regions:
                assert np.array_equal(back_pixels[region.slices], source[region.slices])  # pixel-exact
                assert not np.array_equal(shown[region.slices], source[region.slices])    # protected
    errors = {row["error"].split(":")[0] for row in rows if row["status"] == "error"}
    assert len([r for r in rows if r["status"] == "error"]) == 4, errors


@pytest.fixture(scope="module")
def storage(settings, s3_endpoint):
    return dataclasses.replace(settings.storage, endpoint_url=s3_endpoint)


def test_seal_round_trip_on_a_local_partitioned_table_with_a_struct_column(spark, tmp_path, storage,
                                                                           settings, password_file, keys):
    source = tmp_path / "input"

    def write(table, path, row_group):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp_path / path, row_group_size=row_group)
    _write_table("input", STRUCT, write)
    rows, protected, back = _round_trip(spark, str(source), str(tmp_path / "scrubbed"),
                                        str(tmp_path / "protected"), str(tmp_path / "restored"),
                                        ["--mode=seal", "--id-column", "id"], storage, settings,
                                        password_file)
    _check(str(source), protected, back, rows, storage, settings, keys,
           lambda table, relative, index: table.column("id")[index].as_py())
    # the protected table reads as one dataset with its partitions, like the input
    assert ds.dataset(tmp_path / "protected" / TABLE, partitioning="hive").to_table().num_rows == 8
    by_key = {row["relative_path"]: row for row in rows}
    assert "no image" in by_key["row-04"]["error"] and "too large" in by_key["row-07"]["error"]


def test_encrypt_round_trip_on_s3_with_a_binary_column(spark, s3, s3_endpoint, storage, settings,
                                                       password_file, keys):
    s3.create_bucket(Bucket=BUCKET)

    def write(table, path, row_group):
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, row_group_size=row_group)
        s3.put_object(Bucket=BUCKET, Key=f"input/{path.split('/', 1)[1]}", Body=sink.getvalue().to_pybytes())
    _write_table("root", pa.binary(), write)
    s3.put_object(Bucket=BUCKET, Key="input/_SUCCESS", Body=b"")
    rows, protected, back = _round_trip(spark, f"s3://{BUCKET}/input", f"s3://{BUCKET}/scrubbed",
                                        f"s3://{BUCKET}/protected", f"s3://{BUCKET}/restored",
                                        ["--mode=encrypt", "--generator", "prior"], storage, settings,
                                        password_file, ["--endpoint-url", s3_endpoint,
                                                        # the prior restores bit-exact with a sealed residual
                                                        "--set=encrypt.residual=sealed"])
    assert protected.startswith(f"s3://{BUCKET}/protected/.runs/")
    _check(f"s3://{BUCKET}/input", protected, back, rows, storage, settings, keys,
           lambda table, relative, index: f"{relative}/{index}")


def test_incremental_table_scrubs_new_and_changed_files_only(spark, tmp_path, password_file, capsys):
    def write(table, path, row_group):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp_path / path, row_group_size=row_group)
    table = _write_table("input", STRUCT, write)
    args = ["--input", str(tmp_path / "input"), "--output", str(tmp_path / "scrubbed"), "--image-column",
            "image", "--id-column", "id", "--output-table", str(tmp_path / "protected"), "--mode=seal",
            "--incremental", "--password-file", password_file, *FLAGS]

    def records():
        return {row["relative_path"]: row for row in
                ds.dataset(records_path(tmp_path / "scrubbed")).to_table().to_pylist()}
    assert scrub.main(args) == 0
    before = records()
    write(table.slice(1, 1), "input/split=a/part-0.parquet", 3)    # changed: one row now
    write(table.slice(0, 1).set_column(0, "id", pa.array(["new-00"])), "input/split=c/part-0.parquet", 1)
    capsys.readouterr()
    assert scrub.main(args) == 0
    assert "incremental: 2 to scrub (1 new, 1 changed, 0 retried after a read error), 2 unchanged" \
        in capsys.readouterr().out
    after = records()
    # split=a/part-0 now holds row-01 only: row-00 and row-02 went with the file's old version
    assert set(after) == {"row-01", "row-03", "row-04", "row-05", "row-06", "row-07", "new-00"}
    for key in ("row-03", "row-04", "row-05", "row-06", "row-07"):          # carried over as they were
        assert after[key] == before[key]
    assert after["row-01"]["faces"][0]["salt"] != before["row-01"]["faces"][0]["salt"]  # scrubbed again
    protected = ds.dataset(tmp_path / "protected" / TABLE, partitioning="hive").to_table()
    assert sorted(protected.column("id").to_pylist()) == sorted(after)
    assert restore.main(["--input", str(tmp_path / "scrubbed"), "--output-table", str(tmp_path / "back"),
                         "--password-file", password_file, *FLAGS]) == 0
    assert ds.dataset(tmp_path / "back" / TABLE, partitioning="hive").to_table().num_rows == len(after)
    capsys.readouterr()
    assert scrub.main(args) == 0 and "nothing to scrub" in capsys.readouterr().out


@pytest.mark.parametrize("flags, message", [
    (["--image-column", "caption"], "column 'caption' is string, not binary"),
    (["--image-column", "nope"], "no column 'nope'"),
    (["--image-column", "image", "--id-column", "nope"], "no id column 'nope'"),
    (["--id-column", "id"], "need --image-column"),
])
def test_bad_table_flags_are_refused_in_one_line(tmp_path, password_file, flags, message, capsys):
    def write(table, path, row_group):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp_path / path, row_group_size=row_group)
    _write_table("input", STRUCT, write)
    assert scrub.main(["--input", str(tmp_path / "input"), "--output", str(tmp_path / "out"),
                       "--mode=seal", "--password-file", password_file, *FLAGS, *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
