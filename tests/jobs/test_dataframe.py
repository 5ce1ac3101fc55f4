"""The DataFrame API and the pyspark.ml Transformer on real Spark: the copyable example of
docs/tables.md runs as written; protect keeps every row, its order and the column types, gives bad
cells an error record, and restore puts the exact faces back; the saved Transformer holds no secret."""

import os
import re

import numpy as np
import pytest
from conftest import FAST, REPO, TEST_PASSWORD

from encryptface.config import SAMPLES_DIR
from encryptface.crypto.keys import Password
from encryptface.imaging.codecs import decode_encoded, decode_image
from encryptface.pipeline.restorer import Restorer
from jobs.dataframe import FaceProtector, make_settings, protect, restore


def _docs_example() -> str:
    text = (REPO / "docs" / "tables.md").read_text()
    section = text[text.index("## DataFrame API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_docs_example_runs_as_written(spark, tmp_path, monkeypatch):  # noqa: ARG001
    monkeypatch.chdir(REPO)  # as the page says: from the repository root
    # The one change: the Transformer is saved under tmp_path (the JVM resolves relative paths
    # against its own working folder).
    code = _docs_example().replace('"out/face-protector"', repr(str(tmp_path / "out" / "face-protector")))
    namespace: dict = {}
    exec(compile(code, "docs/tables.md", "exec"), namespace)  # noqa: S102 - the doc's own code
    protected, restored, again = namespace["protected"], namespace["restored"], namespace["again"]
    assert [row.status for row in protected.select("encryptface.status").collect()] == ["ok", "ok"]
    assert again.count() == restored.count() == 2
    assert [row.name for row in restored.collect()] == ["obama2.jpg", "biden.jpg"]
    password = (REPO / "conf" / "demo.password").read_text().splitlines()[0]
    saved = [p for p in (tmp_path / "out" / "face-protector").rglob("*") if p.is_file()]
    assert saved and not any(password.encode() in p.read_bytes() for p in saved)
    assert FaceProtector.load(str(tmp_path / "out" / "face-protector")).getOrDefault("mode") == "seal"


@pytest.fixture(scope="module")
def cells():
    photos = [(SAMPLES_DIR / name).read_bytes() for name in ("two_people.jpg", "obama2.jpg", "biden.jpg")]
    return [photos[0], None, b"not an image at all", photos[1], photos[0][:1500], photos[2]]


def test_protect_and_restore_keep_rows_order_and_types(spark, cells):
    settings = make_settings(FAST)
    rows = [(i, None if c is None else (c, f"{i}.jpg")) for i, c in enumerate(cells)]
    df = spark.createDataFrame(rows, "n long, image struct<bytes: binary, path: string>") \
        .repartition(1).sortWithinPartitions("n")
    password = Password(TEST_PASSWORD.encode())
    protected = protect(df, "image", password, "seal", settings, id_column="n").cache()
    assert protected.schema["image"].dataType == df.schema["image"].dataType
    rows = protected.collect()
    assert [row.n for row in rows] == list(range(len(cells)))  # every row, in order
    statuses = [row.encryptface.status for row in rows]
    assert statuses == ["ok", "error", "error", "ok", "error", "ok"]
    assert "no image" in rows[1].encryptface.error and rows[1].image is None
    assert rows[2].image.bytes is None and rows[2].image.path == "2.jpg"  # struct fields kept
    assert [row.encryptface.relative_path for row in rows] == [str(i) for i in range(len(cells))]
    restored = restore(protected, "image", password, settings).collect()
    assert restored[0].__fields__ == ["n", "image"]
    restorer = Restorer(settings)
    from encryptface.crypto.keys import KeyRing
    for row, back in zip(rows, restored, strict=True):
        if row.encryptface.status != "ok":
            assert back.image is None or back.image.bytes is None
            continue
        record = {**row.encryptface.asDict(recursive=True), "deidentified_image": row.image.bytes,
                  "source_uri": "x"}
        _, regions = restorer.restore(record, KeyRing(password))
        original, _ = decode_image(cells[row.n], settings.images)
        pixels = decode_encoded(back.image.bytes)
        assert regions and all(np.array_equal(pixels[r.slices], original[r.slices]) for r in regions)


def test_transformer_needs_no_secret_in_its_params(spark, tmp_path, monkeypatch):  # noqa: ARG001
    monkeypatch.setenv("ENCRYPTFACE_PASSWORD", TEST_PASSWORD)
    protector = FaceProtector(imageCol="image", mode="seal", settingsOverrides=FAST, idCol="name")
    protector.write().overwrite().save(str(tmp_path / "model"))
    text = "".join(p.read_text() for p in (tmp_path / "model").rglob("*") if p.is_file() and
                   not p.name.startswith((".", "_")))
    assert TEST_PASSWORD not in text and "kdf.n_log2=14" in text
    loaded = FaceProtector.load(str(tmp_path / "model"))
    df = spark.createDataFrame([("obama", (SAMPLES_DIR / "obama2.jpg").read_bytes())],
                               "name string, image binary")
    row = loaded.transform(df).first()
    assert row.encryptface.status == "ok" and row.encryptface.relative_path == "obama"
    assert os.environ["ENCRYPTFACE_PASSWORD"] == TEST_PASSWORD
