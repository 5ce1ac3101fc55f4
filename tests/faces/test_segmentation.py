"""Person segmentation (MediaPipe selfie segmentation through OpenVINO) on real photos and renders."""

import numpy as np

from encryptface.config import SAMPLES_DIR
from encryptface.faces.detection import FaceDetector, nearest_centre
from encryptface.faces.segmentation import PersonSegmenter
from encryptface.imaging.codecs import decode_image


def test_the_person_is_found_and_the_room_behind_is_not(settings):
    """biden.jpg: his face and the curtained room's top corners."""
    photo = decode_image((SAMPLES_DIR / "biden.jpg").read_bytes(), settings.images)[0]
    face = nearest_centre(FaceDetector(settings.detection).detect(photo), photo.shape)
    person = PersonSegmenter(1).person(photo)
    assert person.shape == photo.shape[:2] and person.dtype == np.float32
    x, y, w, h = (int(v) for v in face.bbox)
    assert np.median(person[y:y + h, x:x + w]) > 0.9
    corner = photo.shape[0] // 10
    assert person[:corner, :corner].mean() < 0.1 and person[:corner, -corner:].mean() < 0.1


def test_a_rendered_head_is_a_person_and_its_background_is_not():
    """A stylegan render (the shipped model's mean face): the face centre is a person, the top
    corners of its studio background are not."""
    from encryptface.models.stylegan import StyleGAN

    network = StyleGAN(1)
    render = network.render(network.mean_style(256))
    person = PersonSegmenter(1).person(render)
    side = render.shape[0]
    assert person[side // 2 - 20:side // 2 + 20, side // 2 - 20:side // 2 + 20].min() > 0.9
    assert person[:side // 10, :side // 10].mean() < 0.2 and person[:side // 10, -side // 10:].mean() < 0.2
