"""Two-factor verification over records, called as the library (the CLI test is in tests/jobs)."""

import pytest
from conftest import PHOTOS

from encryptface.crypto.keys import KeyRing, Password
from encryptface.faces.detection import FaceDetector
from encryptface.faces.recognition import DlibRecognizer
from encryptface.imaging.codecs import ImageError
from encryptface.pipeline.scrubber import Scrubber
from encryptface.pipeline.verify import find_matches, probe_embedding


@pytest.fixture(scope="module")
def records(session_settings, master_key):
    scrubber = Scrubber(session_settings, "seal")
    return [scrubber.scrub(str(PHOTOS / name), name, (PHOTOS / name).read_bytes(), master_key)
            for name in ("obama.jpg", "biden.jpg")]


@pytest.fixture(scope="module")
def recognizer(session_settings):
    return DlibRecognizer(session_settings.recognition.match_threshold)


def _probe(name, settings, recognizer):
    return probe_embedding((PHOTOS / name).read_bytes(), settings, FaceDetector(settings.detection),
                           recognizer)


def test_the_right_person_with_the_right_password_matches_only_their_record(records, settings, keys,
                                                                            recognizer):
    matches = list(find_matches(records, _probe("obama2.jpg", settings, recognizer), keys, settings,
                                recognizer))
    assert [(m.source_uri.rsplit("/", 1)[1], m.face_index) for m in matches] == [("obama.jpg", 0)]
    assert matches[0].distance < recognizer.threshold


def test_a_wrong_password_or_another_person_matches_nothing(records, settings, keys, recognizer):
    wrong = KeyRing(Password(b"not the password at all"))
    obama = _probe("obama2.jpg", settings, recognizer)
    assert list(find_matches(records, obama, wrong, settings, recognizer)) == []
    nobody = _probe("lin-manuel-miranda.png", settings, recognizer)
    assert list(find_matches(records, nobody, keys, settings, recognizer)) == []


def test_a_sealed_embedding_opens_only_with_its_key_photo_and_face(master_key):
    import numpy as np

    from encryptface.crypto.keys import DecryptionError, KdfParams, derive_master_key
    from encryptface.pipeline.verify import open_embedding, seal_embedding

    vector = np.linspace(-1, 1, 128)
    salt = b"s" * 16
    face = {"salt": salt, "mode": "seal",
            "sealed_embedding": seal_embedding(master_key, salt, "sha", 0, "seal", vector)}
    np.testing.assert_allclose(open_embedding(master_key, face, "sha", 0), vector, atol=1e-6)
    assert vector.astype(np.float32).tobytes() not in face["sealed_embedding"]
    for args in (("other-photo", 0), ("sha", 1)):  # moved to another photo or face: refused
        with pytest.raises(DecryptionError):
            open_embedding(master_key, face, *args)
    other_key = derive_master_key(Password(b"another password"), KdfParams(14, 8, 1, b"r" * 16))
    with pytest.raises(DecryptionError):
        open_embedding(other_key, face, "sha", 0)


def test_read_records_finds_a_photo_by_path_or_uri_and_nothing_else(records, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from encryptface.archive.schema import to_batch
    from encryptface.pipeline.verify import read_records

    for part in range(3):  # several files and row groups, the photo in one of them
        rows = [dict(records[0], relative_path=f"copy-{part}-{i}/obama.jpg") for i in range(50)]
        pq.write_table(pa.Table.from_batches([to_batch(rows)]), tmp_path / f"part-{part}.parquet",
                       row_group_size=16)
    found = read_records(tmp_path, "copy-1-33/obama.jpg")
    assert [r["relative_path"] for r in found] == ["copy-1-33/obama.jpg"]
    assert len(read_records(tmp_path, records[0]["source_uri"])) == 150   # every copy has that URI
    assert read_records(tmp_path, "copy-9-0/obama.jpg") == []


def test_a_probe_without_a_face_is_a_clear_error(settings, recognizer):
    with pytest.raises(ImageError, match="no face"):
        probe_embedding(_landscape_png(), settings, FaceDetector(settings.detection), recognizer)


def _landscape_png():
    import numpy as np

    from encryptface.imaging.codecs import encode_image

    sky = np.zeros((120, 160, 3), np.uint8)
    sky[:60] = (120, 170, 230)
    sky[60:] = (60, 140, 60)
    return encode_image(sky, "png")
