"""Two-factor verification over records, called as the library (the CLI test is in tests/jobs)."""

import dataclasses

import pytest
from conftest import PHOTOS, TEST_PASSWORD

from encryptface.crypto.keys import KeyRing, Password
from encryptface.faces.matching import FaceMatcher
from encryptface.imaging.codecs import ImageError
from encryptface.pipeline.restorer import Restorer
from encryptface.pipeline.scrubber import Scrubber
from encryptface.pipeline.verify import Verifier, find_matches, probe_embedding, verify_row

# Every keyed mode and prior variant: (mode, encrypt settings changed)
KEYED = [("seal", {}), ("encrypt", {"generator": "prior", "residual": "permuted"}),
         ("encrypt", {"generator": "prior", "residual": "sealed"})]


def _scrub(settings, mode, master_key, names=("obama.jpg", "biden.jpg"), **encrypt):
    settings = settings.replace(encrypt=dataclasses.replace(settings.encrypt, **encrypt))
    scrubber = Scrubber(settings, mode)
    return settings, [scrubber.scrub(str(PHOTOS / name), name, (PHOTOS / name).read_bytes(), master_key)
                      for name in names]


@pytest.fixture(scope="module")
def records(session_settings, master_key):
    return _scrub(session_settings, "seal", master_key)[1]


@pytest.fixture(scope="module")
def verifier(session_settings):
    """The 1:1 verifier (at ``verify.far_one_to_one``)."""
    return Verifier.from_settings(session_settings, session_settings.verify.far_one_to_one)


def _probe(name, settings, verifier):
    return probe_embedding((PHOTOS / name).read_bytes(), settings, verifier.detector, verifier.matcher)


def test_the_right_person_with_the_right_password_matches_only_their_record(records, settings, keys,
                                                                            verifier):
    matches = list(find_matches(records, _probe("obama2.jpg", settings, verifier), keys, verifier))
    assert [(m.source_uri.rsplit("/", 1)[1], m.face_index) for m in matches] == [("obama.jpg", 0)]
    assert matches[0].distance < verifier.matcher.threshold


@pytest.mark.parametrize(("mode", "encrypt"), KEYED, ids=["seal", "prior-permuted", "prior-sealed"])
def test_a_wrong_password_opens_no_record_in_any_mode(session_settings, master_key, verifier, mode,
                                                      encrypt):
    """The person's own other photo with a wrong password never matches: the key-check value refuses
    the key before a face is compared (a prior record used to "restore" a decoy and compare it).
    The right password matches."""
    settings, rows = _scrub(session_settings, mode, master_key, **encrypt)
    obama = _probe("obama2.jpg", settings, verifier)
    for attempt in range(5):
        wrong = KeyRing(Password(b"wrong password %d" % attempt))
        assert list(find_matches(rows, obama, wrong, verifier)) == []
    right = KeyRing(Password(TEST_PASSWORD.encode()))
    assert [m.relative_path for m in find_matches(rows, obama, right, verifier)] == ["obama.jpg"]


def test_a_record_that_cannot_prove_a_key_never_matches(session_settings, master_key, verifier):
    """An older prior record (shuffled residual, no key-check value, no sealed embedding): any key
    restores *a* face from it, so it is not verifiable, not even with the right password."""
    settings, rows = _scrub(session_settings, "encrypt", master_key, names=("obama.jpg",),
                            generator="prior", residual="permuted")
    old = dict(rows[0], faces=[dict(face, key_check=None) for face in rows[0]["faces"]])
    restorer = Restorer(settings)
    assert not restorer.proves_key(old["faces"][0]) and restorer.proves_key(rows[0]["faces"][0])
    obama = _probe("obama2.jpg", settings, verifier)
    right = KeyRing(Password(TEST_PASSWORD.encode()))
    assert verify_row(old, obama, right, verifier) == []
    assert len(verify_row(rows[0], obama, right, verifier)) == 1


def test_a_wrong_password_or_another_person_matches_nothing(records, settings, keys, verifier):
    wrong = KeyRing(Password(b"not the password at all"))
    obama = _probe("obama2.jpg", settings, verifier)
    assert list(find_matches(records, obama, wrong, verifier)) == []
    nobody = _probe("lin-manuel-miranda.png", settings, verifier)
    assert list(find_matches(records, nobody, keys, verifier)) == []


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


def test_a_probe_without_a_face_is_a_clear_error(settings, verifier):
    with pytest.raises(ImageError, match="no face"):
        probe_embedding(_landscape_png(), settings, verifier.detector, verifier.matcher)


def _landscape_png():
    import numpy as np

    from encryptface.imaging.codecs import encode_image

    sky = np.zeros((120, 160, 3), np.uint8)
    sky[:60] = (120, 170, 230)
    sky[60:] = (60, 140, 60)
    return encode_image(sky, "png")


def test_the_permissive_score_embeds_and_seals_with_dlib_alone(session_settings, master_key):
    """verify.score = "dlib" (CC0) runs no ArcFace: 128-number sealed embeddings, dlib thresholds."""
    settings = session_settings.replace(verify=dataclasses.replace(
        session_settings.verify, score="dlib", seal_embeddings=True))
    _, rows = _scrub(settings, "seal", master_key, names=("obama.jpg",))
    assert len(rows[0]["faces"][0]["sealed_embedding"]) == 12 + 128 * 4 + 16
    dlib_only = Verifier.from_settings(settings, 1e-3)
    assert dlib_only.matcher.score == "dlib"
    probe = _probe("obama2.jpg", settings, dlib_only)
    assert probe.shape == (128,)
    right = KeyRing(Password(TEST_PASSWORD.encode()))
    assert len(verify_row(rows[0], probe, right, dlib_only)) == 1
    with pytest.raises(ValueError, match="no threshold calibrated for FAR 0.5"):
        FaceMatcher(settings.recognition, 0.5)
