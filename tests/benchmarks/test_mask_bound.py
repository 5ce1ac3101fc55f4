"""The mask bound's attribute-matched donors: real faces chosen as the generator matches its people."""

from __future__ import annotations

import numpy as np
from conftest import lfw_people

from benchmarks.mask_bound import alike_donors
from encryptface.config import resolve_weight
from encryptface.faces.alignment import Aligner
from encryptface.faces.detection import nearest_centre
from encryptface.imaging.codecs import decode_image, encode_image
from encryptface.models.stylegan_generator import StyleGANGenerator


def test_alike_donors_are_the_nearest_by_attributes_and_faceless_donors_are_dropped(settings, tmp_path):
    generator = StyleGANGenerator(resolve_weight(settings.stylegan.model), settings.stylegan,
                                  settings.detection, 2)

    def read(path):
        return decode_image(path.read_bytes(), settings.images)[0]

    people = lfw_people(count=4)
    query = people[0][0]
    wall = tmp_path / "wall.png"
    wall.write_bytes(encode_image(np.full((200, 200, 3), 128, np.uint8), "png"))
    pool = [wall] + [photos[0] for photos in people[1:]] + [query]
    choose = alike_donors(generator, Aligner(settings.alignment), generator.detector, pool, read)
    photo = read(query)
    face = nearest_centre(generator.detector.detect(photo), photo.shape)
    first, second = choose(photo, face)
    # The photo itself is the nearest donor (distance 0); the second is another person's face.
    assert first == query and second in pool[1:-1]
