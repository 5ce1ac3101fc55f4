"""The encrypt mode with the shipped generator, on real photos."""

import dataclasses

import numpy as np
import pytest
from conftest import lfw_people

from encryptface.crypto import DecryptionError, KeyRing, Password
from encryptface.images import decode_encoded, decode_image
from encryptface.metrics import psnr
from encryptface.recognition import DlibRecognizer
from encryptface.scrubber import Restorer, Scrubber


@pytest.fixture(scope="module")
def recognizer():
    return DlibRecognizer()


@pytest.fixture(scope="module")
def photos(settings):
    return [(p.read_bytes(), decode_image(p.read_bytes(), settings.images)[0])
            for person in lfw_people(min_images=1, count=4) for p in person[:1]]


@pytest.fixture(scope="module")
def scrubber(settings):
    return Scrubber(settings, "encrypt")


def _face(recognizer, rgb, bbox):
    return recognizer.embed(rgb, bbox)


def test_right_password_restores_wrong_one_gives_another_face(scrubber, settings, master_key, photos,
                                                               recognizer):
    restorer = Restorer(settings)
    wrong = KeyRing(Password(b"a wrong password"))
    for data, original in photos:
        row = scrubber.scrub("x", "x.jpg", data, master_key)
        assert row["status"] == "ok"
        face = row["faces"][0]
        assert face["mode"] == "encrypt"
        bbox = face["bbox"]
        protected = decode_encoded(row["deidentified_image"])
        restored, regions = restorer.restore(row, KeyRing(Password(b"correct horse battery staple 7f3a")))
        other, _ = restorer.restore(row, wrong)  # no error: no oracle
        reference = _face(recognizer, original, bbox)
        x, y, w, h = (int(v) for v in bbox)
        box = (slice(max(y, 0), y + h), slice(max(x, 0), x + w))
        assert not recognizer.same_person(reference, _face(recognizer, protected, bbox))
        assert recognizer.same_person(reference, _face(recognizer, restored, bbox))
        assert not recognizer.same_person(reference, _face(recognizer, other, bbox))
        assert psnr(restored[box], original[box]) > 24
        assert psnr(protected[box], original[box]) < psnr(restored[box], original[box]) - 3


def test_sealed_residual_is_bit_exact_and_detects_wrong_passwords(settings, master_key, photos):
    sealed = settings.replace(encrypt=dataclasses.replace(settings.encrypt, residual="sealed"))
    data, original = photos[0]
    row = Scrubber(sealed, "encrypt").scrub("x", "x.jpg", data, master_key)
    restored, regions = Restorer(sealed).restore(row, KeyRing(Password(b"correct horse battery staple 7f3a")))
    for region in regions:
        assert np.array_equal(restored[region.slices], original[region.slices])
    with pytest.raises(DecryptionError):
        Restorer(sealed).restore(row, KeyRing(Password(b"nope")))


def test_openvino_and_torch_backends_agree(settings, photos):
    from encryptface.config import resolve_weight
    from encryptface.models.generator import FaceGenerator

    crop = Scrubber(settings, "seal")
    _, original = photos[1]
    face = crop.detector.detect(original)[0]
    aligned = crop.aligner.align(original, face).crop[None]
    model = resolve_weight(settings.encrypt.model)
    ov, pt = FaceGenerator(model, "openvino"), FaceGenerator(model, "torch")
    assert ov.autoencoder.backend == "openvino" and pt.autoencoder.backend == "torch"
    latents_ov, latents_pt = ov.autoencoder.encode(aligned), pt.autoencoder.encode(aligned)
    np.testing.assert_allclose(latents_ov, latents_pt, atol=1e-2)
    assert psnr(ov.autoencoder.decode(latents_pt), pt.autoencoder.decode(latents_pt)) > 40

