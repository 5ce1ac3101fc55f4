"""Hostile Parquet records: a restore over rows whose fields were altered (truncated or flipped
latents, garbage KDF JSON, wrong landmark counts, foreign salts, broken images) yields one result
row per input row, an error with a message for every row it cannot restore, and never raises."""

import json

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from encryptface.archive.schema import RECORD_SCHEMA
from encryptface.config import SAMPLES_DIR
from encryptface.pipeline.batch import restore_batches
from encryptface.pipeline.scrubber import Scrubber


@pytest.fixture(scope="module")
def record(settings, master_key):
    data = (SAMPLES_DIR / "obama2.jpg").read_bytes()
    return Scrubber(settings, "seal").scrub("p", "p.jpg", data, master_key)


def _mutations():
    def latent(face, data):
        blob = bytearray(face["encrypted_latent"])
        if not blob:  # already cut to nothing by an earlier mutation
            return face
        at = data.draw(st.integers(0, len(blob) - 1))
        return {**face, "encrypted_latent": bytes(blob[:at]) if data.draw(st.booleans())
                else bytes(blob[:at]) + bytes([blob[at] ^ 0x55]) + bytes(blob[at + 1:])}

    return {
        "latent": latent,
        "kdf": lambda face, data: {**face, "kdf": data.draw(st.sampled_from(
            ["", "{}", "not json", json.dumps({"algorithm": "scrypt", "n": 3}), "[1, 2]"]))},
        "landmarks": lambda face, data: {**face,
                                         "landmarks": face["landmarks"][:data.draw(st.integers(0, 9))]},
        "salt": lambda face, data: {**face, "salt": data.draw(st.binary(max_size=20))},
        "mode": lambda face, data: {**face, "mode": data.draw(st.sampled_from(["", "encrypt", "nope"]))},
        "model": lambda face, data: {**face, "model_id": data.draw(st.text(max_size=20))},
    }


@hyp_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_altered_records_give_error_rows_not_crashes(settings, keys, record, tmp_path_factory, data):
    mutations = _mutations()
    chosen = data.draw(st.lists(st.sampled_from(sorted(mutations)), min_size=1, max_size=3))
    face = dict(record["faces"][0])
    for name in chosen:
        face = mutations[name](face, data)
    row = dict(record, faces=[face])
    if data.draw(st.booleans()):
        image = bytearray(record["deidentified_image"])
        row["deidentified_image"] = bytes(image[:data.draw(st.integers(0, len(image)))])
    batch = pa.RecordBatch.from_pylist([row, record], schema=RECORD_SCHEMA)
    out = tmp_path_factory.mktemp("restored")
    results = [r for b in restore_batches([batch], settings, keys, str(out)) for r in b.to_pylist()]
    assert len(results) == 2
    assert results[1]["status"] == "ok"  # the intact record next to it is unaffected
    assert results[0]["status"] in ("ok", "error")
    if results[0]["status"] == "error":
        assert results[0]["error"]
