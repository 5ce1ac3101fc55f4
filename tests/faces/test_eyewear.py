"""The eyewear test on real aligned face crops, with frames and dark lenses drawn on them."""

import numpy as np
import pytest
from conftest import lfw_people
from drawn_glasses import draw_glasses

from encryptface.faces.alignment import Aligner
from encryptface.faces.detection import FaceDetector, nearest_centre
from encryptface.faces.eyewear import eyewear_features, eyewear_reference, wears_eyewear
from encryptface.imaging.codecs import decode_image


@pytest.fixture(scope="module")
def crops(settings):
    detector, aligner = FaceDetector(settings.detection), Aligner(settings.alignment)
    rows = []
    for photos in lfw_people(min_images=1, count=40):
        rgb = decode_image(photos[0].read_bytes(), settings.images)[0]
        face = nearest_centre(detector.detect(rgb), rgb.shape)
        if face is not None:
            rows.append(aligner.align(rgb, face).crop)
    return np.stack(rows), aligner.template


def test_frames_and_dark_lenses_drawn_on_bare_faces_are_found(crops, settings):
    """With the shipped stylegan model's calibration (rendered faces), on real photos."""
    from encryptface.config import resolve_weight
    from encryptface.models.stylegan_encoder import EyewearEdit
    from encryptface.models.stylegan_generator import EYEWEAR_FILE

    faces, template = crops
    reference = EyewearEdit.load(resolve_weight(settings.stylegan.model) / EYEWEAR_FILE).reference
    bare = faces[~wears_eyewear(eyewear_features(faces, template), reference)]
    assert len(bare) >= 0.7 * len(faces)  # most people in these photos wear no glasses
    for lens in (False, True):
        drawn = np.stack([draw_glasses(crop, template[:2], lens) for crop in bare[:20]])
        found = wears_eyewear(eyewear_features(drawn, template), reference)
        assert found.mean() >= 0.8, (lens, found)


def test_the_reference_is_each_features_median_and_spread(crops):
    faces, template = crops
    features = eyewear_features(faces, template)
    reference = eyewear_reference(features)
    np.testing.assert_allclose(reference[0], np.median(features, axis=0), rtol=1e-5)
    assert (reference[1] > 0).all()
    # a face exactly at the medians is bare; one far above on any feature wears eyewear
    assert not wears_eyewear(reference[:1], reference)[0]
    assert wears_eyewear(reference[:1] + np.array([[0, 3, 0]]) * reference[1], reference)[0]
