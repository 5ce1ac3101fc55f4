"""The protected region contains the whole face: a masked face (nose and mouth landmarks are
guesses) is covered whole; landmarks that would leave part of the box out are refitted."""

import numpy as np
import pytest
from conftest import SHARED

from encryptface.evaluation.coverage import read_voc, records_coverage
from encryptface.faces.alignment import Aligner
from encryptface.faces.cover import COVER_SHARE, covering_face, mask_share
from encryptface.faces.detection import Face
from encryptface.pipeline.scrubber import Scrubber

FACEBENCH = SHARED / "data" / "facebench"


@pytest.fixture(scope="module")
def scrubber(settings):
    return Scrubber(settings, "seal")


@pytest.mark.parametrize("name", ["maksssksksss4", "maksssksksss8"])
def test_a_masked_face_is_covered_whole(scrubber, settings, master_key, name):
    data = (FACEBENCH / "images" / f"{name}.jpg").read_bytes()
    boxes = [b for b in read_voc(FACEBENCH / "annotations" / f"{name}.xml") if b.label == "with_mask"]
    row = scrubber.scrub(name, name, data, master_key)
    judged, _ = records_coverage([row], {name: boxes}, lambda _uri: data, settings.images)
    assert judged[0].found == [True] * len(boxes)
    # >= 90 % of the annotated box (mask, chin and all) changed in the published photo
    assert min(judged[0].changed) >= 0.9, judged[0].changed


def test_landmarks_that_miss_part_of_the_box_are_refitted(settings):
    aligner = Aligner(settings.alignment)
    eyes = np.array([[130.0, 140.0], [170.0, 140.0]])
    # nose and mouth guessed far too high (as on a masked face): a small crop around the eyes
    guessed = np.vstack([eyes, [[150.0, 147.0], [136.0, 155.0], [164.0, 155.0]]]).astype(np.float32)
    face = Face((100.0, 100.0, 100.0, 130.0), guessed, 0.9, "yunet_n x1")
    assert mask_share(aligner, face.landmarks, face.bbox) < COVER_SHARE
    covered = covering_face(face, aligner)
    assert mask_share(aligner, covered.landmarks, covered.bbox) >= COVER_SHARE
    assert covered.found_by == "yunet_n x1, landmarks fitted to the box"
    # the eyes stay level: the roll is the detected one
    assert covered.landmarks[0, 1] == pytest.approx(covered.landmarks[1, 1], abs=0.5)
    # landmarks that already cover the box are kept as they are
    assert covering_face(covered, aligner) is covered
