import numpy as np
import pytest

from encryptface.config import SAMPLES_DIR
from encryptface.faces.alignment import Aligner, canonical_template, similarity_transform
from encryptface.faces.detection import FaceDetector
from encryptface.imaging.codecs import decode_image


@pytest.fixture(scope="module")
def detector(settings):
    return FaceDetector(settings.detection)


def _photo(name, settings):
    return decode_image((SAMPLES_DIR / name).read_bytes(), settings.images)[0]


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = similarity_transform(src, src @ rot.T + shift)
    np.testing.assert_allclose(matrix[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-9)


def test_alignment_puts_landmarks_on_the_template(detector, settings):
    rgb = _photo("obama2.jpg", settings)
    face = detector.detect(rgb)[0]
    aligner = Aligner(settings.alignment)
    aligned = aligner.align(rgb, face)
    mapped = face.landmarks @ aligned.matrix[:, :2].T + aligned.matrix[:, 2]
    template = canonical_template(settings.alignment.crop_size, settings.alignment.face_scale)
    assert aligned.crop.shape == (settings.alignment.crop_size,) * 2 + (3,)
    assert np.abs(mapped - template).max() < 0.08 * settings.alignment.crop_size


def test_paste_changes_only_the_paste_region(detector, settings):
    rgb = _photo("two_people.jpg", settings)
    aligner = Aligner(settings.alignment)
    out = rgb.copy()
    for face in detector.detect(rgb):
        aligned = aligner.align(rgb, face)
        region = aligner.paste(out, aligned, np.zeros_like(aligned.crop))
        x, y, w, h = face.bbox
        assert region.x0 <= x + w / 2 <= region.x1 and region.y0 <= y + h / 2 <= region.y1
        # the face centre is now dark, the region border is untouched
        cy, cx = int(y + h / 2), int(x + w / 2)
        assert out[cy, cx].max() < 10
    changed = (out != rgb).any(axis=2)
    regions_mask = np.zeros(rgb.shape[:2], bool)
    for face in detector.detect(rgb):
        regions_mask[aligner.paste_region(aligner.align(rgb, face), rgb.shape).slices] = True
    assert changed.any() and not (changed & ~regions_mask).any()


def test_region_intersection():
    from encryptface.faces.alignment import Region

    assert Region(0, 0, 10, 10).intersection(Region(5, 2, 20, 8)) == Region(5, 2, 10, 8)
    assert Region(0, 0, 10, 10).intersection(Region(10, 0, 20, 10)) is None  # touching edges only
