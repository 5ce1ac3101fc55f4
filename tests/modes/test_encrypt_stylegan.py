"""encrypt with the stylegan generator, on real photos, with a tiny model trained here."""

import dataclasses
import json

import numpy as np
import pytest
from conftest import LFW_TRAIN, PHOTOS, fixed_record_salts, lfw_people
from stylegan_fixtures import train_tiny_stylegan

from encryptface.crypto.keys import DecryptionError, KeyRing, Password
from encryptface.imaging.codecs import decode_encoded, decode_image
from encryptface.imaging.metrics import psnr
from encryptface.modes.encrypt_stylegan import read_record
from encryptface.pipeline.restorer import Restorer
from encryptface.pipeline.scrubber import Scrubber


@pytest.fixture(scope="module")
def tiny(settings, tmp_path_factory):
    return train_tiny_stylegan(settings, tmp_path_factory.mktemp("stylegan"))


@pytest.fixture(scope="module")
def scrubber(tiny):
    return Scrubber(tiny[0], "encrypt")


def test_training_writes_a_loadable_model_with_its_card(tiny):
    settings, metrics = tiny
    from pathlib import Path
    model = Path(settings.stylegan.model)
    written = {p.name for p in model.iterdir()}
    assert {"config.json", "styles.npz", "eyewear.npz", "samples.png", "MODEL_CARD.md"} <= written
    assert "non-commercial" in (model / "MODEL_CARD.md").read_text()
    assert metrics["samples"] >= 30  # YuNet found the face in almost every render
    assert metrics["pose_r2_held_out"] > 0  # w predicts the landmarks better than their mean


def test_round_trip_is_bit_exact_and_a_wrong_password_is_refused(scrubber, tiny, fixed_master_key, keys,
                                                                   monkeypatch):
    # fixed record salts: with random ones the tiny model's render of an occasional key had no
    # face YuNet finds, and that face fell back to the seal (a CI run failed on it)
    fixed_record_salts(monkeypatch, b"round trip")
    settings = tiny[0]
    restorer = Restorer(settings)
    for path in [PHOTOS / "two_people.jpg", lfw_people(count=1)[0][0]]:
        data = path.read_bytes()
        original = decode_image(data, settings.images)[0]
        row = scrubber.scrub("x", path.name, data, fixed_master_key)
        assert row["status"] == "ok" and row["faces"]
        published = decode_encoded(row["deidentified_image"])
        restored, regions = restorer.restore(row, keys)
        for face in row["faces"]:
            record = read_record(face["encrypted_latent"])
            region = record.region
            assert record.kind == 1, face["metrics"]  # a stand-in, not the seal fallback
            # the face was replaced, and the right password gives back every original pixel
            assert psnr(original[region.slices], published[region.slices]) < 30
            assert np.array_equal(restored[region.slices], original[region.slices])
        assert len(regions) == len(row["faces"])
        with pytest.raises(DecryptionError):
            restorer.restore(row, KeyRing(Password(b"not the password")))


def test_verify_opens_a_stylegan_record_only_with_the_right_password(scrubber, tiny, master_key, keys):
    """The person's other photo matches with the password, never with a wrong one (the record's
    key-check value refuses the key before the face is restored and compared)."""
    from encryptface.pipeline.verify import Verifier, probe_embedding, verify_row

    settings = tiny[0]
    row = scrubber.scrub("x", "obama.jpg", (PHOTOS / "obama.jpg").read_bytes(), master_key)
    verifier = Verifier.from_settings(settings, settings.verify.far_one_to_one)
    probe = probe_embedding((PHOTOS / "obama2.jpg").read_bytes(), settings, verifier.detector,
                            verifier.matcher)
    for attempt in range(3):
        assert verify_row(row, probe, KeyRing(Password(b"wrong %d" % attempt)), verifier) == []
    assert [m.face_index for m in verify_row(row, probe, keys, verifier)] == [0]


def test_decoys_are_other_faces_in_the_same_place(scrubber, tiny, master_key, keys):
    settings = tiny[0]
    path = lfw_people(count=1)[0][0]
    data = path.read_bytes()
    row = scrubber.scrub("x", path.name, data, master_key)
    published = decode_encoded(row["deidentified_image"])
    region = read_record(row["faces"][0]["encrypted_latent"]).region
    restorer = Restorer(settings)
    decoys = [restorer.restore(row, KeyRing(Password(p)), decoys=True)[0]
              for p in (b"wrong one", b"wrong two")]
    for decoy in decoys:
        assert psnr(decoy[region.slices], published[region.slices]) < 35  # another face was rendered
        outside = np.ones(published.shape[:2], bool)
        outside[region.slices] = False
        assert np.array_equal(decoy[outside], published[outside])  # ... only inside the face region
    assert not np.array_equal(decoys[0], decoys[1])


def test_the_record_keeps_the_stand_ins_styles_but_not_the_photos_encoding(tiny, master_key):
    """The fine style a stand-in is rendered with is the photo's encoding, a linear function of the
    original's dlib descriptor: it must not be in the Parquet, where no password guards it."""
    from encryptface.faces.alignment import Aligner
    from encryptface.modes import create_mode

    settings = tiny[0]
    mode = create_mode("encrypt", settings)
    path = lfw_people(count=1)[0][0]
    data = path.read_bytes()
    row = Scrubber(settings, "encrypt").scrub("x", path.name, data, master_key)
    record = read_record(row["faces"][0]["encrypted_latent"])
    photo = decode_image(data, settings.images)[0]
    face = mode.generator.detector.detect(photo)[0]
    aligned = Aligner(settings.alignment).align(photo, face)
    encoding = mode.generator.styles_for(aligned, face.landmarks, b"any key at all, 32 bytes long!!")[2]
    assert record.styles.shape == (2, 512)
    assert not any(np.allclose(style, encoding.astype(np.float16), atol=1e-2) for style in record.styles)
    assert encoding.astype(np.float16).tobytes()[:64] not in row["faces"][0]["encrypted_latent"]


def test_different_keys_pick_different_people(tiny):
    from encryptface.modes import create_mode

    generator = create_mode("encrypt", tiny[0]).generator
    style = generator.fit.mean_style
    def person(key: bytes) -> np.ndarray:
        return generator.nearest_identity(style, generator.candidates(key, 1.0, {}), transplant=True)

    people = [person(bytes([k]) * 32) for k in range(4)]
    assert all(not np.allclose(a, b) for i, a in enumerate(people) for b in people[i + 1:])
    assert np.array_equal(people[0], person(bytes([0]) * 32))


def test_a_face_too_small_for_the_generator_is_sealed_with_a_reason(tiny, master_key, keys):
    settings = tiny[0]
    strict = settings.replace(stylegan=dataclasses.replace(settings.stylegan, min_face=10_000))
    path = lfw_people(count=1)[0][0]
    data = path.read_bytes()
    row = Scrubber(strict, "encrypt").scrub("x", path.name, data, master_key)
    face = row["faces"][0]
    # the scrubber seals it (the rule every generator's min_face_setting follows); record mode seal
    assert face["mode"] == "seal"
    assert "too small for the stylegan generator" in json.loads(face["metrics"])["detection"]["sealed"]
    original = decode_image(data, settings.images)[0]
    restored, (region,) = Restorer(strict).restore(row, keys)
    assert np.array_equal(restored[region.slices], original[region.slices])


def test_a_render_that_misses_the_photos_pose_is_rendered_again_closer(settings):
    """The shipped model on a real photo, its coarse style spoiled so the head turns away: with
    correction passes the blended render's landmarks come closer to the photo's."""
    from encryptface.config import resolve_weight
    from encryptface.faces.alignment import Aligner
    from encryptface.faces.detection import nearest_centre
    from encryptface.models.stylegan_generator import StyleGANGenerator, pose_miss

    generator = StyleGANGenerator(resolve_weight(settings.stylegan.model), settings.stylegan,
                                  settings.detection, 2)
    photo = decode_image(lfw_people(count=1)[0][0].read_bytes(), settings.images)[0]
    face = nearest_centre(generator.detector.detect(photo), photo.shape)
    styles = generator.styles_for(Aligner(settings.alignment).align(photo, face), face.landmarks, b"k" * 32)
    turned = generator.fit.pose(styles[:1])[0].reshape(5, 2)
    turned[2, 0] += 0.08  # the nose a tenth of the crop to the side: a head turned away
    styles[0] = generator.fit.match_pose(styles[0], turned.ravel())
    target = generator.aligned_pose(face.landmarks)

    def miss(config_changes: dict) -> tuple[float, np.ndarray]:
        generator.settings = dataclasses.replace(generator.settings, **config_changes)
        stand_in = generator.stand_in(photo, face.landmarks, styles)
        image = generator.render(stand_in.styles)
        found = nearest_centre(generator.detector.detect(image), image.shape)
        return pose_miss(generator.aligned_pose(found.landmarks), target), stand_in.styles

    once, kept = miss({"pose_passes": 0})
    corrected, rendered = miss({"pose_passes": 2, "pose_tolerance": 0.0})
    assert np.array_equal(kept, styles) and not np.array_equal(rendered, styles)
    assert corrected < once


def test_transplanted_people_take_the_targets_attributes_and_stay_different(tiny):
    from encryptface.modes import create_mode

    generator = create_mode("encrypt", tiny[0]).generator
    generator.settings = dataclasses.replace(generator.settings, candidates=1)
    fit = generator.fit
    target = fit.mean_style + 3.0 * fit.attribute_basis[0]
    people = [generator.nearest_identity(target, generator.identities(bytes([k]) * 32, 1.0, 1),
                                         transplant=True) for k in range(3)]
    for person in people:
        np.testing.assert_allclose(fit.attributes(person[None]), fit.attributes(target[None]), atol=1e-3)
    assert all(np.linalg.norm(a - b) > 1.0 for i, a in enumerate(people) for b in people[i + 1:])



def test_the_stand_in_keeps_the_photos_skin_tone_when_the_mask_border_is_dark(settings):
    """The shipped model on a real photo whose head sits on a black background: the Poisson step
    takes its values from the mask's border and darkens the face; keep_skin_tone sets it back."""
    import cv2

    from encryptface.config import resolve_weight
    from encryptface.evaluation.measure import skin_patch
    from encryptface.faces.alignment import Aligner
    from encryptface.faces.detection import nearest_centre
    from encryptface.imaging.metrics import mean_colour_difference
    from encryptface.models.stylegan_generator import StyleGANGenerator

    generator = StyleGANGenerator(resolve_weight(settings.stylegan.model), settings.stylegan,
                                  settings.detection, 2)
    photo = decode_image(lfw_people(count=1)[0][0].read_bytes(), settings.images)[0]
    face = nearest_centre(generator.detector.detect(photo), photo.shape)
    ocular = float(np.linalg.norm(face.landmarks[1] - face.landmarks[0]))
    head = np.zeros(photo.shape[:2], np.uint8)
    centre = tuple(int(v) for v in face.landmarks[:5].mean(0))
    cv2.ellipse(head, centre, (int(1.3 * ocular), int(1.8 * ocular)), 0, 0, 360, 1, -1)
    photo = np.where(head[:, :, None] > 0, photo, 10).astype(np.uint8)
    styles = generator.styles_for(Aligner(settings.alignment).align(photo, face), face.landmarks, b"k" * 32)
    patch = skin_patch(face, photo.shape)

    def tone_error(keep: bool) -> float:
        generator.settings = dataclasses.replace(generator.settings, keep_skin_tone=keep, poisson=True,
                                                 person_mask="off")  # the black border reaches Poisson
        stand_in = generator.stand_in(photo, face.landmarks, styles)
        published = photo.copy()
        published[stand_in.region.slices] = stand_in.pixels
        return mean_colour_difference(photo[patch], published[patch])

    loose, kept = tone_error(False), tone_error(True)
    assert kept < 0.5 * loose and kept < 10.0, (loose, kept)


def test_decoy_truncation_spreads_the_decoys_people_only_and_old_models_still_load(tiny, tmp_path):
    import json
    import shutil

    from encryptface.models.stylegan_generator import (
        APPEARANCE_FILE,
        CONFIG_FILE,
        EYEWEAR_FILE,
        StyleGANConfig,
        StyleGANGenerator,
    )
    from encryptface.modes import create_mode

    generator = create_mode("encrypt", tiny[0]).generator
    fit = generator.fit
    published = np.stack([fit.mean_style, fit.mean_style + 2.0 * fit.attribute_basis[0]])

    def decoy_identity(decoy_truncation: float) -> np.ndarray:
        generator.settings = dataclasses.replace(generator.settings, decoy_truncation=decoy_truncation,
                                                 decoy_transplant_attributes=True)
        return generator.decoy_styles(published, b"w" * 32)[1]

    near, far = decoy_identity(1.0), decoy_identity(1.5)
    # the same person's appearance (transplanted), further from the average person elsewhere
    assert generator.appearance is not None
    np.testing.assert_allclose(generator.appearance.predict(near[None]),
                               generator.appearance.predict(far[None]), atol=0.1)
    assert np.linalg.norm(far - fit.mean_style) > 1.2 * np.linalg.norm(near - fit.mean_style)

    model = tmp_path / "model"
    shutil.copytree(generator.model_dir, model)
    config = json.loads((model / CONFIG_FILE).read_text())
    # a model written before the knobs moved to conf's [stylegan] carries them: ignored
    (model / CONFIG_FILE).write_text(json.dumps({**config, "truncation": 0.9, "candidates": 1}))
    (model / EYEWEAR_FILE).unlink()
    (model / APPEARANCE_FILE).unlink()
    old = StyleGANGenerator(model, tiny[0].stylegan, tiny[0].detection)
    assert old.config == StyleGANConfig(**config) and old.settings.truncation == 1.0
    # written before eyewear.npz and appearance.npz: no eyewear edit, matched as before
    assert old.eyewear is None and old.appearance is None


def test_a_bare_face_gets_no_glasses_from_a_key_whose_person_wears_them(settings):
    """The shipped model on real bare faces. Each key's person is moved far along the fitted
    glasses direction (a person likely to wear glasses): with the eyewear cap (the shipped
    setting) at most two of the published faces wear glasses."""
    import hashlib

    from encryptface.config import resolve_weight
    from encryptface.faces.alignment import Aligner
    from encryptface.faces.detection import nearest_centre
    from encryptface.models.stylegan_generator import StyleGANGenerator

    generator = StyleGANGenerator(resolve_weight(settings.stylegan.model), settings.stylegan,
                                  settings.detection, 2)
    assert generator.settings.no_added_eyewear and generator.eyewear is not None
    aligner, eyewear, mean = Aligner(settings.alignment), generator.eyewear, generator.fit.mean_style
    # whichever way the key's person is matched (the shipped settings decide)
    choose = "matched_identity" if generator.appearance is not None else "nearest_identity"
    drawn = getattr(generator, choose)

    def bespectacled(target, candidates, transplant):
        person = drawn(target, candidates, transplant)
        return person + (5.0 - eyewear.coordinate(person, mean)) * eyewear.direction

    setattr(generator, choose, bespectacled)

    def wears(image):
        face = nearest_centre(generator.detector.detect(image), image.shape)
        return generator.has_eyewear(aligner.align(image, face).crop), face

    outcomes = {False: [], True: []}
    for index, photos in enumerate(lfw_people(min_images=1, count=10)):
        photo = decode_image(photos[0].read_bytes(), settings.images)[0]
        had, face = wears(photo)
        if had:
            continue
        key = hashlib.sha256(f"eyewear {index}".encode()).digest()
        for cap in (False, True):
            generator.settings = dataclasses.replace(generator.settings, no_added_eyewear=cap)
            styles = generator.styles_for(aligner.align(photo, face), face.landmarks, key)
            stand_in = generator.stand_in(photo, face.landmarks, styles)
            published = photo.copy()
            published[stand_in.region.slices] = stand_in.pixels
            outcomes[cap].append(wears(published)[0])
    assert len(outcomes[True]) >= 6
    # the direction is a loose handle on glasses (pushed far along it, a third to a half of the
    # renders wear them); the cap must take off most of those
    # With the appearance match and the agreement mask the far-moved people wear visible glasses
    # far less often even without the cap (1 of 8 here, was 4-5), and the cap no longer halves
    # them measurably on 8 faces; the bound is what a person would accept on bare faces.
    assert sum(outcomes[True]) <= 2, outcomes


@pytest.mark.parametrize("name", ["maksssksksss4", "maksssksksss8"])
def test_a_masked_face_is_covered_whole(settings, master_key, name):
    """facebench photos of a masked face, the shipped model: by default the face is sealed for its
    mask (encrypt.seal_masked) and >= 90 % of the annotated box changes. With the mask rule off and
    ``stylegan.cover_box`` on (both off their defaults), the stand-in itself (not the seal fallback)
    changes >= 90 % of it -- the chin and the lower part of the mask too, which the blend ellipse
    alone left as they were (69-84 % changed)."""
    from conftest import SHARED

    from encryptface.evaluation.coverage import read_voc, records_coverage

    facebench = SHARED / "data" / "facebench"
    data = (facebench / "images" / f"{name}.jpg").read_bytes()
    boxes = [b for b in read_voc(facebench / "annotations" / f"{name}.xml") if b.label == "with_mask"]
    row = Scrubber(settings, "encrypt").scrub(name, name, data, master_key)
    assert all(face["mode"] == "seal" and "face mask" in json.loads(face["metrics"])["detection"]["sealed"]
               for face in row["faces"])
    judged, _ = records_coverage([row], {name: boxes}, lambda _uri: data, settings.images)
    assert judged[0].found == [True] * len(boxes) and min(judged[0].changed) >= 0.9, judged[0].changed
    covering = dataclasses.replace(settings, stylegan=dataclasses.replace(settings.stylegan, cover_box=True),
                                   encrypt=dataclasses.replace(settings.encrypt, seal_masked=False))
    row = Scrubber(covering, "encrypt").scrub(name, name, data, master_key)
    kinds = [read_record(face["encrypted_latent"]).kind for face in row["faces"] if face["mode"] == "encrypt"]
    assert kinds and set(kinds) == {1}, kinds  # stand-ins, not the seal fallback
    judged, _ = records_coverage([row], {name: boxes}, lambda _uri: data, settings.images)
    assert judged[0].found == [True] * len(boxes)
    assert min(judged[0].changed) >= 0.9, judged[0].changed


def test_a_stand_in_that_misses_the_face_is_sealed_instead(settings, master_key, keys):
    """facebench photo 564, the shipped model: the frontal render reaches only part of a profile
    face's box. By default that face is sealed (a fallback record saying why), its annotated box is
    covered, and the password restores it bit for bit; with ``stylegan.min_covered = 0`` the same
    stand-in is published and leaves a third of the face as it was."""
    from conftest import SHARED

    from encryptface.evaluation.coverage import match, read_voc, records_coverage

    facebench = SHARED / "data" / "facebench"
    name = "maksssksksss564"
    data = (facebench / "images" / f"{name}.jpg").read_bytes()
    boxes = read_voc(facebench / "annotations" / f"{name}.xml")
    original = decode_image(data, settings.images)[0]

    def scrub(min_covered: float) -> tuple[dict, dict[int, float]]:
        """The row, and the changed share of each annotated box by the index of its face."""
        changed = dataclasses.replace(settings, stylegan=dataclasses.replace(settings.stylegan,
                                                                             min_covered=min_covered))
        row = Scrubber(changed, "encrypt").scrub(name, name, data, master_key)
        judged, _ = records_coverage([row], {name: boxes}, lambda _uri: data, settings.images)
        matched, _ = match(boxes, [face["bbox"] for face in row["faces"]])
        return row, {index: share for index, share in zip(matched, judged[0].changed, strict=True)
                     if index is not None}

    row, covered = scrub(settings.stylegan.min_covered)
    reasons = [json.loads(face["metrics"]).get("reason", "") for face in row["faces"]]
    missed = [i for i, reason in enumerate(reasons) if "stylegan.min_covered" in reason]
    assert missed and all(i in covered for i in missed), reasons
    assert all(read_record(row["faces"][i]["encrypted_latent"]).kind == 2 for i in missed)
    assert all(covered[i] >= 0.9 for i in missed), covered
    restored, regions = Restorer(settings).restore(row, keys)
    assert len(regions) == len(row["faces"])
    for i in missed:
        assert np.array_equal(restored[regions[i].slices], original[regions[i].slices])

    row, covered = scrub(0.0)
    assert all(read_record(row["faces"][i]["encrypted_latent"]).kind == 1 for i in missed)
    assert min(covered[i] for i in missed) < 0.9, covered


def test_a_clean_shaven_face_gets_no_beard(settings, monkeypatch):
    """LFW's Anzori Kikalishvili (no beard): with these fixed salts the key's first person of his
    classes renders with a full beard. With stylegan.no_added_beard (the shipped setting) the next
    person is used and the published face does not read as bearded; without it, it does."""
    import hashlib
    import itertools

    from encryptface.crypto.keys import KdfParams, derive_master_key
    from encryptface.faces.alignment import Aligner
    from encryptface.faces.detection import Face
    from encryptface.faces.readers import CropReader
    from encryptface.pipeline import scrubber as scrubber_module

    path = LFW_TRAIN / "Anzori_Kikalishvili" / "Anzori_Kikalishvili_0001.jpg"
    master_key = derive_master_key(Password(b"correct horse battery staple 7f3a"),
                                   KdfParams(14, 8, 1, b"fixed run salt 1"))
    reader, aligner = CropReader.load("beard"), Aligner(settings.alignment)
    assert settings.stylegan.no_added_beard

    def beard_probability(no_added_beard: bool) -> float:
        counter = itertools.count()
        monkeypatch.setattr(scrubber_module, "new_record_salt",
                            lambda: hashlib.sha256(b"salt%d" % next(counter)).digest()[:16])
        # pasted over the whole blend ellipse: with the person mask this person's beard reads weaker
        stylegan = dataclasses.replace(settings.stylegan, no_added_beard=no_added_beard, person_mask="off")
        chosen = settings.replace(stylegan=stylegan)
        row = Scrubber(chosen, "encrypt").scrub("p", path.name, path.read_bytes(), master_key)
        face = row["faces"][0]
        assert face["mode"] == "encrypt"
        found = Face(tuple(face["bbox"]), np.asarray(face["landmarks"], np.float32).reshape(5, 2), 1.0)
        published = decode_encoded(row["deidentified_image"])
        return float(reader.probability(aligner.align(published, found).crop[None])[0])

    assert beard_probability(False) >= 0.5
    assert beard_probability(True) < 0.5


def test_a_bare_face_gets_no_glasses(settings):
    """make demo's Biden (no glasses): with this key the key's first person still wears glasses
    through the capped glasses direction. With the read-back (the shipped stand_in_tries) the
    next person is used and the published face does not read as wearing any; with one try, it
    does. (The seam check is off here: it ranks before glasses, and with this key the third
    person's render has a ring, 42.8, while the second misses an earlier check.)"""
    import hashlib

    from encryptface.config import SAMPLES_DIR, resolve_weight
    from encryptface.faces.detection import nearest_centre
    from encryptface.models.stylegan_generator import StyleGANGenerator

    photo = decode_image((SAMPLES_DIR / "biden.jpg").read_bytes(), settings.images)[0]
    key = hashlib.sha256(b"glasses 28").digest()
    assert settings.stylegan.no_added_eyewear and settings.stylegan.stand_in_tries > 1

    def wears_glasses(tries: int) -> bool:
        stylegan = dataclasses.replace(settings.stylegan, stand_in_tries=tries, max_seam=0.0)
        generator = StyleGANGenerator(resolve_weight(stylegan.model), stylegan, settings.detection, 1)
        face = nearest_centre(generator.detector.detect(photo), photo.shape)
        assert not generator.has_eyewear(generator.align(photo, face.landmarks).crop)
        stand_in = generator.keyed_stand_in(photo, generator.align(photo, face.landmarks), face.landmarks,
                                            key, face.bbox)
        published = generator.published_photo(photo, stand_in)
        return generator.has_eyewear(generator.align(published, face.landmarks).crop)

    assert wears_glasses(1)
    assert not wears_glasses(settings.stylegan.stand_in_tries)


def test_a_stand_in_with_a_ring_at_the_head_is_replaced(settings):
    """make demo's obama2: with this key the key's first person's render has a saturated blue
    background, pasted as a blue ring around the head when the whole blend ellipse is pasted
    (stylegan.person_mask off). With the seam check (stylegan.max_seam) the next person is used
    and the ring is under the limit; without it, it is over."""
    assert settings.stylegan.max_seam > 0
    assert _obama2_seam(settings, max_seam=0.0, person_mask="off") > settings.stylegan.max_seam
    assert _obama2_seam(settings, max_seam=settings.stylegan.max_seam,
                        person_mask="off") <= settings.stylegan.max_seam


@pytest.mark.parametrize("person_mask", ["fill", "keep"])
def test_the_renders_background_is_not_pasted_over_the_photos_head(settings, person_mask):
    """The same key with no seam check: pasted with a person mask the render's blue background
    stays out (painted with its hair, or the photo's hair kept), so the ring is under the seam
    limit without the check; and of the photo's background (the flag, as the segmenter reads the
    whole photo) outside the face's box, an eighth as many pixels change as when the whole blend
    ellipse is pasted (the rest lies under the inner face and the detected box, which are always
    replaced, where the segmenter misreads the cheek's edge)."""
    from encryptface.faces.segmentation import PersonSegmenter

    assert settings.stylegan.person_mask == "fill" and settings.stylegan.decoy_person_mask == "off"
    seam, photo, masked, _ = _obama2_seam(settings, max_seam=0.0, person_mask=person_mask, full=True)
    _, _, pasted, _ = _obama2_seam(settings, max_seam=0.0, person_mask="off", full=True)
    assert seam <= settings.stylegan.max_seam
    background = PersonSegmenter(1).person(photo) < 0.1
    x, y, w, h = (int(v) for v in _detected(settings, photo).bbox)
    background[max(0, y - h // 6):y + h + h // 6, max(0, x - w // 6):x + w + w // 6] = False

    def changed(published: np.ndarray) -> int:
        return int((np.abs(published.astype(int) - photo).max(axis=2) > 2)[background].sum())

    assert changed(pasted) > 10_000 and changed(masked) < changed(pasted) / 8


def _detected(settings, photo: np.ndarray):
    from encryptface.faces.detection import FaceDetector, nearest_centre

    return nearest_centre(FaceDetector(settings.detection).detect(photo), photo.shape)


def _obama2_stand_in(settings, **stylegan: object) -> tuple:
    """make demo's obama2, its face, the shipped model's generator under ``stylegan`` changes, the
    styles of a fixed key's stand-in and their render."""
    import hashlib

    from encryptface.config import SAMPLES_DIR, resolve_weight
    from encryptface.models.stylegan_generator import StyleGANGenerator

    photo = decode_image((SAMPLES_DIR / "obama2.jpg").read_bytes(), settings.images)[0]
    face = _detected(settings, photo)
    changed = dataclasses.replace(settings.stylegan, **stylegan)
    generator = StyleGANGenerator(resolve_weight(changed.model), changed, settings.detection, 1)
    styles = generator.styles_for(generator.align(photo, face.landmarks), face.landmarks,
                                  hashlib.sha256(b"obama2.jpg 0").digest())
    return photo, face, generator, styles, generator.render(styles)


def _obama2_seam(settings, max_seam: float, person_mask: str, full: bool = False):
    """seam_change of make demo's obama2 scrubbed with a fixed key under these two settings (with
    ``full``, also the photo, the published photo and the stand-in's region)."""
    import hashlib

    from encryptface.config import SAMPLES_DIR, resolve_weight
    from encryptface.models.stylegan_generator import StyleGANGenerator, seam_change

    photo = decode_image((SAMPLES_DIR / "obama2.jpg").read_bytes(), settings.images)[0]
    key = hashlib.sha256(b"obama2.jpg 0").digest()
    stylegan = dataclasses.replace(settings.stylegan, max_seam=max_seam, person_mask=person_mask)
    generator = StyleGANGenerator(resolve_weight(stylegan.model), stylegan, settings.detection, 1)
    face = _detected(settings, photo)
    stand_in = generator.keyed_stand_in(photo, generator.align(photo, face.landmarks), face.landmarks,
                                        key, face.bbox)
    published = generator.published_photo(photo, stand_in)
    seam = seam_change(photo, published, face.landmarks, stand_in.region, stylegan)
    return (seam, photo, published, stand_in.region) if full else seam



def test_the_landmark_warp_bends_the_published_faces_features_onto_the_photos_not_a_decoys(settings):
    """The shipped model on make demo's obama2 with fixed styles: with ``landmark_warp`` the
    published face's brows, eyes, nose and lips (dlib's 68 points, read back) sit nearer the photo's
    than after the similarity warp alone; a decoy's are its own (pasted as without the warp)."""
    from encryptface.models.stylegan_generator import FOLLOWED_FEATURES

    photo, face, generator, _, image = _obama2_stand_in(settings, landmark_warp=1.0)
    warped = generator.settings

    def features(region_pixels: tuple) -> np.ndarray:
        published = photo.copy()
        published[region_pixels[0].slices] = region_pixels[1]
        box = generator.shape_box(face.landmarks)
        return generator.mouth_reader.points(published, box)[FOLLOWED_FEATURES]

    truth = generator.mouth_reader.points(photo, generator.shape_box(face.landmarks))[FOLLOWED_FEATURES]
    bent = features(generator.blend(image, photo, face.landmarks))
    as_decoy = generator.blend(image, photo, face.landmarks, decoy=True)
    generator.settings = dataclasses.replace(warped, landmark_warp=0.0)
    similarity_only = generator.blend(image, photo, face.landmarks)
    miss = np.median(np.linalg.norm(features(similarity_only) - truth, axis=1))
    assert np.median(np.linalg.norm(bent - truth, axis=1)) < 0.6 * miss
    assert np.array_equal(as_decoy[1], generator.blend(image, photo, face.landmarks, decoy=True)[1])


def test_the_photo_fit_brings_the_renders_outer_band_towards_the_photo_and_keeps_its_face(settings):
    """The shipped model on make demo's obama2 with fixed styles and a 4-step fit (``fit_steps``):
    over the blend's outer band (forehead, hair, cheeks) the new render is nearer the photo than the
    first one, its inner face stays near the first one's, and the identity style is untouched."""
    import cv2

    from encryptface.faces.alignment import similarity_transform
    from encryptface.models.stylegan_generator import face_mask, inner_face_mask

    photo, face, generator, styles, image = _obama2_stand_in(settings, fit_steps=4)
    found = _detected(settings, image)
    new_styles, new_image, _ = generator.fitted_to_photo(styles, image, found, photo, face.landmarks)
    assert np.array_equal(new_styles[1], styles[1]) and not np.array_equal(new_styles, styles)

    matrix = similarity_transform(np.asarray(face.landmarks, np.float64),
                                  np.asarray(found.landmarks, np.float64))
    target = cv2.warpAffine(photo, matrix, image.shape[1::-1]).astype(np.float32)
    inner = inner_face_mask(image.shape[:2], found.landmarks, generator.settings)
    band = face_mask(image.shape[:2], found.landmarks, generator.settings) * (1 - inner)

    def gap(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> float:
        blurred = [cv2.GaussianBlur(x.astype(np.float32), (0, 0), 8) for x in (a, b)]
        return float((np.abs(blurred[0] - blurred[1]).mean(axis=2) * weight).sum() / weight.sum())

    assert gap(new_image, target, band) < 0.95 * gap(image, target, band)
    assert gap(new_image, image, inner) < gap(image, target, inner) / 2
