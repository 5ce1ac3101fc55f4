"""The generator's mouth reader (dlib's 68 points) on real LFW tuning photos labelled by looking."""

import csv

import numpy as np

from encryptface.config import WEIGHTS_DIR


def test_open_mouths_read_more_open_than_closed_ones(settings):
    from encryptface.faces.detection import FaceDetector, nearest_centre
    from encryptface.faces.mouth import MouthReader
    from encryptface.imaging.codecs import decode_encoded
    from encryptface.training.data import split_identities

    root, _ = split_identities(settings, "tuning")
    with (WEIGHTS_DIR / "judge" / "mouth_labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    detector, reader = FaceDetector(settings.detection), MouthReader()
    read = {"open": [], "closed": []}
    for label in read:
        for row in [row for row in rows if row["mouth"] == label][:8]:
            rgb = decode_encoded((root / row["identity"] / row["file"]).read_bytes())
            read[label].append(reader.openness(rgb, nearest_centre(detector.detect(rgb), rgb.shape)))
    assert np.median(read["open"]) > 0.12 > np.median(read["closed"])
    assert np.mean(np.array(read["open"])[:, None] > np.array(read["closed"])[None, :]) > 0.8
