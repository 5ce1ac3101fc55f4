"""Cloak: the white-box recogniser stops matching after JPEG + re-detection, within the budget."""

import json

import numpy as np
import pytest
from conftest import lfw_people

from encryptface.faces.detection import FaceDetector
from encryptface.faces.recognition import load_recognizer
from encryptface.imaging.codecs import decode_encoded, decode_image, jpeg_round_trip
from encryptface.imaging.metrics import psnr, ssim
from encryptface.pipeline.restorer import Restorer
from encryptface.pipeline.scrubber import Scrubber


@pytest.fixture(scope="module")
def scrubber(settings):
    return Scrubber(settings, "cloak")


def _central(detector, rgb):
    centre = np.array(rgb.shape[1::-1]) / 2
    return min(detector.detect(rgb), key=lambda f: np.linalg.norm(f.landmarks.mean(0) - centre))


def test_cloak_defeats_every_surrogate_after_jpeg_and_redetection(scrubber, settings):
    """The default ensemble (two model families, each through its own alignment): every surrogate
    that matched another photo of the person before no longer does once the cloaked photo is
    published as JPEG and its face re-detected."""
    assert len(settings.cloak.surrogates) >= 2, "the default cloak is an ensemble"
    surrogates = [load_recognizer(name, settings.recognition) for name in settings.cloak.surrogates]
    detector = FaceDetector(settings.detection)
    people = lfw_people(min_images=2, count=8)[-3:]
    for photos in people:
        reference, data = decode_image(photos[0].read_bytes(), settings.images)[0], photos[1].read_bytes()
        original = decode_image(data, settings.images)[0]
        refs = [r.embed(reference, _central(detector, reference)) for r in surrogates]
        for recognizer, ref in zip(surrogates, refs, strict=True):
            assert recognizer.same_person(ref, recognizer.embed(original, _central(detector, original)))

        row = scrubber.scrub("x", "x.jpg", data, None)  # no password: cloak has no key
        assert row["status"] == "ok"
        face = row["faces"][0]
        assert face["mode"] == "cloak" and face["encrypted_latent"] is None and face["kdf"] is None
        metrics = json.loads(face["metrics"])
        assert metrics["psnr_region"] >= 35 and metrics["ssim_region"] >= 0.95
        published = jpeg_round_trip(decode_encoded(row["deidentified_image"]))
        again = _central(detector, published)  # a third party re-detects and re-aligns
        for recognizer, ref in zip(surrogates, refs, strict=True):
            assert not recognizer.same_person(ref, recognizer.embed(published, again)), recognizer.name
        x, y, w, h = (int(v) for v in face["bbox"])
        box = (slice(y, y + h), slice(x, x + w))
        cloaked = decode_encoded(row["deidentified_image"])
        # the stored photo is JPEG q95 (images.output_format): its own loss adds to the cloak's
        assert psnr(cloaked[box], original[box]) > 32
        assert ssim(cloaked[box], original[box]) > 0.93


def test_cloak_is_deterministic_and_not_restorable(scrubber, settings, keys):
    data = lfw_people(min_images=1, count=1)[0][0].read_bytes()
    first, second = (scrubber.scrub("x", "x.jpg", data, None) for _ in range(2))
    assert first["deidentified_image"] == second["deidentified_image"]
    photo, regions = Restorer(settings).restore(first, keys)
    assert regions == []  # nothing to restore, and no error
    assert np.array_equal(photo, decode_encoded(first["deidentified_image"]))


def test_dlib_cannot_be_a_surrogate(settings):
    import dataclasses

    bad = settings.replace(cloak=dataclasses.replace(settings.cloak, surrogates=("dlib",)))
    with pytest.raises(ValueError, match="not differentiable"):
        Scrubber(bad, "cloak")


def test_overlapping_faces_each_keep_their_cloak(scrubber, settings):
    """Two faces whose working regions overlap: the second face's patch must not write the first
    face's original pixels back (it did: the central face stayed recognisable)."""
    from conftest import LFW_TRAIN

    facenet = load_recognizer("facenet", settings.recognition)
    detector = FaceDetector(settings.detection)
    data = (LFW_TRAIN / "Ali_Abbas" / "Ali_Abbas_0001.jpg").read_bytes()
    original = decode_image(data, settings.images)[0]
    faces = detector.detect(original)
    assert len(faces) == 2
    regions = [scrubber.mode.working_region(face, original.shape) for face in faces]
    overlap = (min(regions[0].x1, regions[1].x1) - max(regions[0].x0, regions[1].x0),
               min(regions[0].y1, regions[1].y1) - max(regions[0].y0, regions[1].y0))
    assert min(overlap) > 0, "the photo no longer tests overlapping regions"
    row = scrubber.scrub("x", "x.jpg", data, None)
    published = jpeg_round_trip(decode_encoded(row["deidentified_image"]))
    for face in faces:
        again = min(detector.detect(published), key=lambda f: np.abs(f.landmarks - face.landmarks).sum())
        assert not facenet.same_person(facenet.embed(original, face), facenet.embed(published, again))
