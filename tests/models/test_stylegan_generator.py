"""The stylegan generator's blend steps on synthetic arrays (no model needed)."""

import numpy as np


def test_grain_makes_up_the_detail_a_smooth_render_lacks():
    import cv2

    from encryptface.models.stylegan_generator import _detail, _match_detail

    rng = np.random.default_rng(1)
    photo = np.clip(128 + 12 * rng.standard_normal((80, 80, 3)), 0, 255).astype(np.float32)
    smooth = cv2.GaussianBlur(photo, (0, 0), 3.0)
    alpha = np.ones((80, 80), np.float32)
    weights = alpha / alpha.sum()
    wanted, before = _detail(photo, weights), _detail(smooth, weights)
    assert np.array_equal(_match_detail(smooth, photo, alpha, 0.0), smooth)
    after = _detail(_match_detail(smooth, photo, alpha, 1.0), weights)
    assert before < 0.5 * wanted and abs(after - wanted) < 0.1 * wanted
    half = _detail(_match_detail(smooth, photo, alpha, 0.5), weights)
    assert before < half < after


def test_grain_is_the_stand_ins_own():
    """Same stand-in, same grain (a key always renders the same face); two stand-ins of one photo
    get different grain (a shared pattern makes two decoys look alike to recognisers)."""
    from encryptface.models.stylegan_generator import _match_detail

    rng = np.random.default_rng(2)
    photo = np.clip(128 + 12 * rng.standard_normal((60, 60, 3)), 0, 255).astype(np.float32)
    alpha = np.ones((60, 60), np.float32)
    one, two = np.full((60, 60, 3), 120.0, np.float32), np.full((60, 60, 3), 121.0, np.float32)
    grain_one = _match_detail(one, photo, alpha, 1.0) - one
    assert np.array_equal(grain_one, _match_detail(one, photo, alpha, 1.0) - one)
    grain_two = _match_detail(two, photo, alpha, 1.0) - two
    assert abs(np.corrcoef(grain_one[:, :, 0].ravel(), grain_two[:, :, 0].ravel())[0, 1]) < 0.1


def test_the_blend_mask_fades_out_before_the_renders_edge(settings):
    """A render's face fills its frame: the mask's chin side reaches past the bottom edge in about
    half of the renders, and cut off there it pasted as a straight seam. It must fall to zero
    smoothly, with no step to the outside, and still cover the face."""
    from encryptface.models.stylegan_generator import face_mask

    landmarks = np.array([[200, 300], [330, 300], [265, 350], [215, 420], [315, 420]], np.float32)
    mask = face_mask((512, 512), landmarks, settings.stylegan)
    steps = [np.abs(np.diff(np.pad(mask, 1), axis=axis)).max() for axis in (0, 1)]
    assert max(steps) < 0.1, steps
    assert mask[-1].max() < 0.01 and mask[360, 265] > 0.99


def test_the_seam_check_sees_a_changed_ring_not_a_changed_face(settings):
    """A new face inside the blend ellipse is what a stand-in is; a changed band at its edge (a
    blue render background over the photo's wall) is the seam."""
    from encryptface.faces.alignment import Region
    from encryptface.models.stylegan_generator import SEAM_BAND, _ellipse, seam_change

    landmarks = np.array([[200, 300], [330, 300], [265, 350], [215, 420], [315, 420]], np.float64)
    photo = np.full((700, 600, 3), 120, np.uint8)
    region = Region(0, 0, 600, 700)
    assert seam_change(photo, photo, landmarks, region, settings.stylegan) == 0.0
    st = settings.stylegan
    inner = _ellipse((700, 600), landmarks, 0.9 * SEAM_BAND * st.mask_above, 0.9 * SEAM_BAND * st.mask_below,
                     0.9 * SEAM_BAND * st.mask_width, 0.05) > 0.5
    new_face, ring = photo.copy(), photo.copy()
    new_face[inner] = (200, 150, 120)
    ring[~inner] = (30, 40, 200)
    assert seam_change(photo, new_face, landmarks, region, st) < 1.0
    assert seam_change(photo, ring, landmarks, region, st) > st.max_seam


def test_the_eyewear_edit_caps_only_the_glasses_coordinate():
    from encryptface.models.stylegan_encoder import EyewearEdit

    rng = np.random.default_rng(3)
    direction = rng.standard_normal(512).astype(np.float32)
    direction /= np.linalg.norm(direction)
    edit = EyewearEdit(direction, np.asarray(0.8, np.float32), np.zeros((2, 3), np.float32))
    mean = rng.standard_normal(512).astype(np.float32)
    person = mean + rng.standard_normal(512).astype(np.float32)
    person += (3.0 - edit.coordinate(person, mean)) * direction  # far along: glasses
    assert edit.worn_by(person, mean)
    bare = edit.without_glasses(person, mean)
    assert abs(edit.coordinate(bare, mean) - 0.8) < 1e-4 and not edit.worn_by(bare, mean)
    rest = (bare - person) - ((bare - person) @ direction) * direction  # nothing else changes
    assert np.abs(rest).max() < 1e-4
    below = bare - 2.0 * direction  # a person already under the cap is left as they are
    np.testing.assert_allclose(edit.without_glasses(below, mean), below, atol=1e-5)


def test_one_home_per_knob_the_model_folder_holds_only_what_was_fitted(settings):
    """config.json names the fit (model id, crop); every render and blend knob is conf's
    [stylegan] and nowhere else (#30)."""
    import dataclasses
    import json

    from encryptface.config import StyleGANSettings, StyleGANTrainingSettings, resolve_weight

    shipped = json.loads((resolve_weight(settings.stylegan.model) / "config.json").read_text())
    assert set(shipped) == {"model_id", "crop_size", "face_scale"}
    knobs = {f.name for f in dataclasses.fields(StyleGANSettings)}
    assert not knobs & {f.name for f in dataclasses.fields(StyleGANTrainingSettings)}


def test_the_appearance_match_moves_a_style_onto_the_wanted_coordinates_and_no_further():
    """fit_appearance on a synthetic bank whose descriptors are a linear image of w: the fitted
    regression reads the coordinates back, and move_to hits them with an edit inside the
    regression's row space (nothing else in w changes)."""
    from encryptface.training.stylegan_fit import fit_appearance

    rng = np.random.default_rng(3)
    w = rng.standard_normal((600, 512)).astype(np.float32)
    mixing = rng.standard_normal((512, 128)).astype(np.float32) / 20
    descriptors = w @ mixing + 0.01 * rng.standard_normal((600, 128)).astype(np.float32)
    match, metrics = fit_appearance({"w": w, "descriptor": descriptors}, components=4, alpha=1.0)
    assert min(metrics["appearance_r2_held_out"]) > 0.5
    np.testing.assert_allclose(match.coordinates(descriptors[:5]), match.predict(w[:5]), atol=0.5)
    wanted = np.array([2.0, -1.0, 0.5, 0.0], np.float32)
    moved = match.move_to(w[0], wanted)
    np.testing.assert_allclose(match.predict(moved[None])[0], wanted, atol=0.1)  # damped
    step = moved - w[0]
    row_space = np.linalg.qr(match.weights)[0]  # (512, 4)
    assert np.linalg.norm(step - row_space @ (row_space.T @ step)) < 1e-3 * np.linalg.norm(step)


def test_outside_the_inner_face_only_the_agreeing_render_is_kept():
    """The agreement weight is about 1 where the render's colours are the photo's, about 0 where a
    light render background meets dark hair (the ring at the head outline)."""
    from encryptface.models.stylegan_generator import _agreement

    photo = np.full((60, 60, 3), 40.0, np.float32)      # dark hair
    render = photo.copy()
    render[:, 30:] = 200.0                               # light background on the right half
    weight = _agreement(render, photo, 40.0, ocular=10.0)
    assert weight[30, 5] > 0.95 and weight[30, 55] < 0.05


def test_the_halo_guard_drops_only_a_render_lighter_than_the_photo():
    """One-sided: a light render background over dark hair is dropped (the ring); a render darker
    than the photo, or as dark, stays (its outline is what replaces the person's)."""
    from encryptface.models.stylegan_generator import _not_lighter

    photo = np.full((60, 90, 3), 100.0, np.float32)
    render = photo.copy()
    render[:, 30:60] = 220.0                             # much lighter: the ring
    render[:, 60:] = 10.0                                # much darker: kept
    weight = _not_lighter(render, photo, 25.0, ocular=10.0)
    assert weight[30, 5] > 0.95 and weight[30, 45] < 0.05 and weight[30, 85] > 0.95


def test_the_appearance_noise_is_the_keys_own():
    """The same key always draws the same noise (a key renders one face); another key other noise."""
    from encryptface.models.stylegan_generator import key_noise

    one, again, other = key_noise(b"a" * 32, 4), key_noise(b"a" * 32, 4), key_noise(b"b" * 32, 4)
    assert np.array_equal(one, again) and not np.allclose(one, other) and one.shape == (4,)


def test_a_renders_background_is_painted_with_its_own_nearby_colours():
    """person_mask "fill": where the person weight is 0, the nearest kept colours (a dark-haired
    head's hair, not the light studio wall); where it is 1, the render as it was."""
    from encryptface.models.stylegan_generator import _fill_background, _person_weight

    render = np.full((64, 64, 3), 230, np.uint8)         # light background
    render[:, :32] = (60, 40, 30)                        # dark hair on the left half
    probability = np.zeros((64, 64), np.float32)
    probability[:, :32] = 1.0
    weight = _person_weight(probability, 1.0)
    assert weight[32, 10] > 0.99 and weight[32, 50] < 0.01
    filled = _fill_background(render, weight)
    np.testing.assert_array_equal(filled[:, :28], render[:, :28])
    assert np.abs(filled[:, 40:].astype(int) - (60, 40, 30)).max() <= 3
