import cv2
import numpy as np
import pytest

from encryptface.config import SAMPLES_DIR
from encryptface.faces.detection import FaceDetector
from encryptface.imaging.codecs import decode_image


@pytest.fixture(scope="module")
def detector(settings):
    return FaceDetector(settings.detection)


def _photo(name, settings):
    return decode_image((SAMPLES_DIR / name).read_bytes(), settings.images)[0]


def test_detects_both_faces_of_a_two_person_photo(detector, settings):
    faces = detector.detect(_photo("two_people.jpg", settings))
    assert len(faces) == 2
    for face in faces:
        x, y, w, h = face.bbox
        # landmarks lie inside their box, left eye left of right eye, mouth below the eyes
        assert (face.landmarks[:, 0] > x).all() and (face.landmarks[:, 0] < x + w).all()
        assert face.landmarks[0, 0] < face.landmarks[1, 0]
        assert face.landmarks[3, 1] > face.landmarks[0, 1]


def test_detection_on_a_downscaled_copy_maps_back_to_full_resolution(detector, settings):
    rgb = _photo("obama2.jpg", settings)
    big = cv2.resize(rgb, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    small_faces, big_faces = detector.detect(rgb), detector.detect(big)
    assert big.shape[1] > settings.detection.max_side
    assert len(small_faces) == len(big_faces) == 1
    # same points up to detector noise: within 6% of the face width
    tolerance = 0.06 * small_faces[0].bbox[2]
    assert np.abs(big_faces[0].landmarks / 4 - small_faces[0].landmarks).max() < tolerance


def test_a_photo_without_people_has_no_face(detector, settings):
    rgb = _photo("biden.jpg", settings)
    assert detector.detect(rgb[rgb.shape[0] * 2 // 3:]) == []
