"""The safety net: a detection below the confident threshold but above the uncertain one is sealed
(reversible with the password), never skipped, and its record says so -- in encrypt mode too."""

import dataclasses
import json

import numpy as np
import pytest

from encryptface.archive.schema import to_batch
from encryptface.config import resolve_repo_path
from encryptface.imaging.codecs import decode_encoded, decode_image
from encryptface.pipeline.restorer import Restorer
from encryptface.pipeline.scrubber import Scrubber

SAMPLES = resolve_repo_path("encryptface/samples")


@pytest.fixture(scope="module")
def doubtful(settings):
    """Settings under which no real face is confident: every detection is an uncertain one."""
    return settings.replace(detection=dataclasses.replace(
        settings.detection, score_threshold=0.999, uncertain_threshold=0.5))


def test_an_uncertain_face_is_sealed_in_encrypt_mode(doubtful, master_key, keys):
    data = (SAMPLES / "two_people.jpg").read_bytes()
    row = Scrubber(doubtful, "encrypt").scrub("p", "two_people.jpg", data, master_key)
    to_batch([row])
    assert len(row["faces"]) == 2   # found, and not skipped
    original = decode_image(data, doubtful.images)[0]
    protected = decode_encoded(row["deidentified_image"])
    for face in row["faces"]:
        assert face["mode"] == "seal" and "seal" in face["model_id"]
        note = json.loads(face["metrics"])["detection"]
        assert note["confident"] is False and "uncertain detection" in note["sealed"]
        assert note["found_by"].startswith(doubtful.detection.detectors[0])
        x, y, w, h = (int(v) for v in face["bbox"])
        box = (slice(y, y + h), slice(x, x + w))
        assert np.abs(protected[box].astype(int) - original[box]).mean() > 10   # pixelated
    restored, regions = Restorer(doubtful).restore(row, keys)
    assert len(regions) == 2
    for region in regions:
        assert np.array_equal(restored[region.slices], original[region.slices])


def test_a_confident_face_gets_the_chosen_mode(settings, master_key):
    row = Scrubber(settings, "seal").scrub("p", "obama2.jpg", (SAMPLES / "obama2.jpg").read_bytes(),
                                           master_key)
    note = json.loads(row["faces"][0]["metrics"])["detection"]
    assert note["confident"] is True and "sealed" not in note
