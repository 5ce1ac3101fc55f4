import numpy as np
import pytest
from conftest import PHOTOS, lfw_people

from encryptface.archive.schema import RECORD_SCHEMA, record_face, to_batch
from encryptface.crypto.keys import DecryptionError, KeyRing, Password
from encryptface.faces.recognition import DlibRecognizer
from encryptface.imaging.codecs import decode_encoded, decode_image
from encryptface.pipeline.restorer import Restorer
from encryptface.pipeline.scrubber import Scrubber


@pytest.fixture(scope="module")
def scrubber(settings):
    return Scrubber(settings, "seal")


@pytest.fixture(scope="module")
def recognizer(settings):
    return DlibRecognizer(settings.recognition.match_threshold)


@pytest.mark.parametrize("name, faces", [("two_people.jpg", 2), ("obama_partial_face.jpg", 1),
                                         ("32bit.png", 1), ("alex-lacamoire.png", 1)])
def test_seal_restores_every_face_region_exactly(scrubber, settings, master_key, keys, name, faces):
    data = (PHOTOS / name).read_bytes()
    row = scrubber.scrub(str(PHOTOS / name), name, data, master_key)
    assert row["status"] == "ok" and len(row["faces"]) == faces
    to_batch([row])  # the row fits the Parquet contract
    original, _ = decode_image(data, settings.images)
    protected = decode_encoded(row["deidentified_image"])
    restored, regions = Restorer(settings).restore(row, keys)
    assert len(regions) == faces
    for region in regions:
        assert not np.array_equal(protected[region.slices], original[region.slices])
        assert np.array_equal(restored[region.slices], original[region.slices])


def test_wrong_password_restores_nothing(scrubber, settings, master_key):
    row = scrubber.scrub("p", "p", (PHOTOS / "obama2.jpg").read_bytes(), master_key)
    with pytest.raises(DecryptionError, match="wrong password"):
        Restorer(settings).restore(row, KeyRing(Password(b"guess")))


def test_record_cannot_be_moved_to_another_photo(scrubber, settings, master_key, keys):
    first = scrubber.scrub("a", "a", (PHOTOS / "obama2.jpg").read_bytes(), master_key)
    second = scrubber.scrub("b", "b", (PHOTOS / "biden.jpg").read_bytes(), master_key)
    forged = dict(second, faces=[dict(first["faces"][0], salt=second["faces"][0]["salt"])])
    with pytest.raises(DecryptionError):
        Restorer(settings).restore(forged, keys)


def test_no_face_and_bad_bytes_give_status_rows(scrubber, master_key):
    plain = np.full((64, 64, 3), 128, np.uint8)
    from encryptface.imaging.codecs import encode_image
    row = scrubber.scrub("grey", "grey.png", encode_image(plain, "png"), master_key)
    assert row["status"] == "no_face" and row["faces"] == [] and row["deidentified_image"]
    bad = scrubber.scrub("bad", "bad.jpg", b"\xff\xd8\xff garbage", master_key)
    assert bad["status"] == "error" and "image" in bad["error"] and bad["deidentified_image"] is None
    assert set(bad) == set(RECORD_SCHEMA.names)


def test_sealed_face_is_not_recognised(scrubber, settings, master_key, recognizer):
    """The obfuscation must defeat a recogniser it never saw: dlib on other photos of a person."""
    matched = 0
    people = lfw_people(min_images=2, count=6)
    for photos in people:
        reference, probe = (decode_image(p.read_bytes(), settings.images)[0] for p in photos[:2])
        row = scrubber.scrub("x", "x", photos[1].read_bytes(), master_key)
        ref_face = scrubber.detector.detect(reference)[0]
        ref_embedding = recognizer.embed(reference, ref_face)
        protected = decode_encoded(row["deidentified_image"])
        face = record_face(row["faces"][0])
        assert recognizer.same_person(ref_embedding, recognizer.embed(probe, face))
        matched += recognizer.same_person(ref_embedding, recognizer.embed(protected, face))
    assert matched == 0


class TickingClock:
    """A clock one second later at each reading: a deadline of n seconds passes at the n-th check,
    however fast or busy the machine is."""

    def __init__(self) -> None:
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        return float(self.readings)


def test_a_photo_over_its_time_limit_gets_an_error_row_and_the_next_one_goes_on(settings, master_key):
    import dataclasses

    limited = settings.replace(images=dataclasses.replace(settings.images, max_seconds=5.0),
                               cloak=dataclasses.replace(settings.cloak, stop_margin=2.0))
    clock = TickingClock()
    scrubber = Scrubber(limited, "cloak", clock=clock)  # 12 steps on each of 2 faces: > 5 checks
    data = (PHOTOS / "two_people.jpg").read_bytes()
    row = scrubber.scrub("p", "two_people.jpg", data, None)
    assert row["status"] == "error" and "images.max_seconds = 5 s" in row["error"]
    assert row["source_sha256"] and row["deidentified_image"] is None and row["faces"] == []
    # stopped at the first check past the deadline (its start and 5 more readings, then one over),
    # not after both faces
    assert clock.readings == 1 + 5 + 1
    seal = Scrubber(limited, "seal", clock=TickingClock())  # a check per face: 2 of 5
    row = seal.scrub("p", "two_people.jpg", data, master_key)
    assert row["status"] == "ok" and len(row["faces"]) == 2
