"""The encrypt mode with the shipped prior generator, on real photos."""

import dataclasses

import numpy as np
import pytest
from conftest import lfw_people

from encryptface.archive.schema import record_face
from encryptface.crypto.keys import DecryptionError, KdfParams, KeyRing, Password, derive_master_key
from encryptface.faces.recognition import DlibRecognizer
from encryptface.imaging.codecs import decode_encoded, decode_image
from encryptface.imaging.metrics import psnr
from encryptface.pipeline.restorer import Restorer
from encryptface.pipeline.scrubber import Scrubber


@pytest.fixture(scope="module")
def settings(settings):
    """This file tests the prior generator's family (encrypt.generator = "prior"). The beard rule is
    off: Aaron Patterson, one of the test people, has a beard over the chin and would be sealed
    (the rule is tested in tests/pipeline/test_scrubber.py)."""
    return settings.replace(encrypt=dataclasses.replace(settings.encrypt, generator="prior",
                                                        seal_bearded=False))


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


def test_right_password_restores_wrong_one_gives_another_face(scrubber, settings, photos, recognizer,
                                                               monkeypatch):
    # Fixed run and record salts: the faces a key generates are then the same on every run, so the
    # recogniser's verdicts below cannot flicker with fresh random salts.
    import hashlib
    import itertools

    from encryptface.pipeline import scrubber as scrubber_module
    counter = itertools.count()
    monkeypatch.setattr(scrubber_module, "new_record_salt",
                        lambda: hashlib.sha256(b"salt%d" % next(counter)).digest()[:16])
    password = Password(b"correct horse battery staple 7f3a")
    master_key = derive_master_key(password, KdfParams(14, 8, 1, b"fixed run salt 1"))
    restorer = Restorer(settings)
    right, wrong = KeyRing(password), KeyRing(Password(b"a wrong password"))
    verdicts = {"protected": 0, "restored": 0, "wrong": 0}
    for data, original in photos:
        row = scrubber.scrub("x", "x.jpg", data, master_key)
        assert row["status"] == "ok"
        face = row["faces"][0]
        assert face["mode"] == "encrypt"
        bbox, detected = face["bbox"], record_face(face)
        protected = decode_encoded(row["deidentified_image"])
        restored, _ = restorer.restore(row, right)
        with pytest.raises(DecryptionError):  # the key-check value refuses a wrong password
            restorer.restore(row, wrong)
        other, _ = restorer.restore(row, wrong, decoys=True)  # asked for: the wrong key's face
        reference = recognizer.embed(original, detected)
        for name, image in (("protected", protected), ("restored", restored), ("wrong", other)):
            verdicts[name] += recognizer.same_person(reference, recognizer.embed(image, detected))
        x, y, w, h = (int(v) for v in bbox)
        box = (slice(max(y, 0), y + h), slice(max(x, 0), x + w))
        assert psnr(restored[box], original[box]) > 24
        assert psnr(protected[box], original[box]) < psnr(restored[box], original[box]) - 3
    assert verdicts == {"protected": 0, "restored": len(photos), "wrong": 0}


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
    from encryptface.models.prior_generator import PriorGenerator

    crop = Scrubber(settings, "seal")
    _, original = photos[1]
    face = crop.detector.detect(original)[0]
    aligned = crop.aligner.align(original, face).crop[None]
    model = resolve_weight(settings.encrypt.prior_model)
    ov, pt = PriorGenerator(model, "openvino"), PriorGenerator(model, "torch")
    assert ov.autoencoder.backend == "openvino" and pt.autoencoder.backend == "torch"
    latents_ov, latents_pt = ov.autoencoder.encode(aligned), pt.autoencoder.encode(aligned)
    np.testing.assert_allclose(latents_ov, latents_pt, atol=1e-2)
    assert psnr(ov.autoencoder.decode(latents_pt), pt.autoencoder.decode(latents_pt)) > 40
    # THROUGHPUT runs the faces as parallel infer requests: same numbers, same order
    parallel = PriorGenerator(model, "openvino", threads=2, performance_hint="THROUGHPUT")
    crops = np.concatenate([aligned, aligned[:, ::-1], aligned[:, :, ::-1]])
    np.testing.assert_allclose(parallel.autoencoder.encode(crops), ov.autoencoder.encode(crops), atol=1e-5)


def test_int8_ir_stays_close_to_f32(settings, photos):
    """The default engine (NNCF int8 IR): its round trip of real faces loses little against f32,
    and it decodes the same latents to nearly the same face."""
    from encryptface.config import resolve_weight
    from encryptface.models.prior_generator import PriorGenerator

    crop = Scrubber(settings, "seal")
    aligned = np.stack([crop.aligner.align(image, crop.detector.detect(image)[0]).crop
                        for _, image in photos[:3]])
    model = resolve_weight(settings.encrypt.prior_model)
    f32, int8 = PriorGenerator(model, "openvino"), PriorGenerator(model, "openvino", precision="int8")
    assert (f32.precision, int8.precision) == ("f32", "int8")
    latents = f32.autoencoder.encode(aligned)
    for original, exact, quantized, same_latent in zip(
            aligned, f32.autoencoder.decode(latents),
            int8.autoencoder.decode(int8.autoencoder.encode(aligned)), int8.autoencoder.decode(latents)):
        assert psnr(original, quantized) > psnr(original, exact) - 2.0
        assert psnr(exact, same_latent) > 33


def test_restoring_with_another_generator_is_refused(settings, master_key, photos):
    data, _ = photos[3]
    row = Scrubber(settings, "encrypt").scrub("x", "x.jpg", data, master_key)
    assert "+lfw-taef2-" in row["faces"][0]["model_id"]
    other = "yunet_n_640_640+other-model/permuted/torch"
    forged = dict(row, faces=[dict(row["faces"][0], model_id=other)])
    with pytest.raises(ValueError, match="loaded generator"):
        Restorer(settings).restore(forged, KeyRing(Password(b"correct horse battery staple 7f3a")))


# A prior record's model_id as written before #30 renamed the prior's folder (weights/generator) and
# setting (encrypt.model): records name the fit by its id, never by its folder or setting.
RECORD_ID_BEFORE_THE_RENAME = ("scrfd_500m_bnkps,yunet_n_640_640+lfw-taef2-pca1024-flow64-b2a058fa/"
                               "permuted/openvino-int8")


def test_a_record_written_before_the_prior_was_renamed_still_restores(settings, session_settings,
                                                                      master_key, photos):
    data, original = photos[0]
    row = Scrubber(settings, "encrypt").scrub("x", "x.jpg", data, master_key)
    old = dict(row, faces=[dict(row["faces"][0], model_id=RECORD_ID_BEFORE_THE_RENAME)])
    # the default settings (the stylegan generator): the record's id picks the prior, no flag
    restored, (region,) = Restorer(session_settings).restore(old, KeyRing(Password(
        b"correct horse battery staple 7f3a")))
    published = decode_encoded(row["deidentified_image"])
    box = region.slices
    assert psnr(original[box], restored[box]) > psnr(original[box], published[box]) + 8
