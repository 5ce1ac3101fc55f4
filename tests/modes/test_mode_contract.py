"""The contract every protection mode keeps, run for each mode and each encrypt generator on a real
sample photo: protect -> a record that fits the Parquet contract -> restore with the password ->
a wrong password never gives the original back. A new mode (``encryptface.modes``) or generator
(``encryptface.generators``) is picked up here without editing this file."""

import dataclasses

import numpy as np
import pytest

from encryptface.archive.schema import RECORD_SCHEMA, generator_of, to_batch
from encryptface.config import SAMPLES_DIR
from encryptface.crypto.keys import DecryptionError, KeyRing, Password
from encryptface.generators import GENERATORS, generator_of_model
from encryptface.imaging.codecs import decode_encoded, decode_image
from encryptface.imaging.metrics import psnr
from encryptface.modes import MODE_NAMES, mode_class
from encryptface.pipeline.restorer import Restorer
from encryptface.pipeline.scrubber import Scrubber

PHOTO = SAMPLES_DIR / "obama2.jpg"  # one face, shipped with the package
CASES = [(name, generator) for name in MODE_NAMES
         for generator in (GENERATORS if name == "encrypt" else [None])]
WRONG = KeyRing(Password(b"not the password at all"))


def _id(case: tuple[str, str | None]) -> str:
    return "-".join(filter(None, case))


@pytest.fixture(scope="module", params=CASES, ids=_id)
def case(request, settings, master_key):
    """(mode name, settings, original photo, its record) for one mode / generator."""
    name, generator = request.param
    encrypt = dataclasses.replace(settings.encrypt, generator=generator or settings.encrypt.generator)
    # the contract, not the cloak's strength: two optimisation steps are enough to change pixels
    cloak = dataclasses.replace(settings.cloak, steps=2)
    case_settings = settings.replace(encrypt=encrypt, cloak=cloak)
    scrubber = Scrubber(case_settings, name)
    data = PHOTO.read_bytes()
    key = master_key if scrubber.mode.reversible else None
    row = scrubber.scrub(str(PHOTO), PHOTO.name, data, key)
    return name, case_settings, decode_image(data, case_settings.images)[0], row


def _face_box(row: dict) -> tuple[slice, slice]:
    """The first face's detection box (x, y, w, h), as array slices."""
    x, y, w, h = (max(0, int(v)) for v in row["faces"][0]["bbox"])
    return slice(y, y + h), slice(x, x + w)


def test_the_cases_cover_every_mode_and_generator(settings):
    assert {name for name, _ in CASES} == set(MODE_NAMES)
    assert {generator for _, generator in CASES} - {None} == set(GENERATORS)
    # the default encrypt generator, as a scrub without --generator runs it, is one of the cases
    assert ("encrypt", settings.encrypt.generator) in CASES


def test_protect_gives_a_contract_record_that_changes_the_face(case):
    name, settings, original, row = case
    assert row["status"] == "ok" and len(row["faces"]) == 1, row["error"]
    assert to_batch([row]).schema == RECORD_SCHEMA  # fits the Parquet contract
    published = decode_encoded(row["deidentified_image"])
    assert published.shape == original.shape
    face = row["faces"][0]
    assert face["mode"] == name and face["model_id"]
    if name == "encrypt":  # the record names the generator that made it, so restore needs no flag
        made_by = generator_of_model(generator_of(face["model_id"])).name
        assert made_by == settings.encrypt.generator
    box = _face_box(row)
    assert not np.array_equal(published[box], original[box])


def test_the_password_restores_the_face_and_a_wrong_one_never_does(case, keys):
    name, settings, original, row = case
    restorer = Restorer(settings)
    published = decode_encoded(row["deidentified_image"])
    box = _face_box(row)
    if not mode_class(name, settings.encrypt.generator).reversible:
        # nothing to restore and no key: the published photo is the only copy
        assert row["faces"][0]["encrypted_latent"] is None and row["faces"][0]["salt"] is None
        photo, regions = restorer.restore(row, keys)
        assert regions == [] and np.array_equal(photo, published)
        return
    restored, regions = restorer.restore(row, keys)
    assert len(regions) == 1
    restored_psnr = psnr(original[box], restored[box])
    # (the prior is lossy: about 23 dB over the whole box here; seal and stylegan are bit-exact)
    assert restored_psnr > psnr(original[box], published[box]) + 8 and restored_psnr > 20
    try:
        wrong, _ = restorer.restore(row, WRONG, decoys=False)
    except DecryptionError:
        pass  # refused
    else:  # a mode without a password check decodes another face: never the original
        assert psnr(original[box], wrong[box]) < restored_psnr - 5
    if restorer.mode_for(row["faces"][0]).renders_decoys:
        decoy, _ = restorer.restore(row, WRONG, decoys=True)
        assert psnr(original[box], decoy[box]) < restored_psnr - 5
