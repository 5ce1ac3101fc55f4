"""The crop readers (face mask, beard): the shipped models on real faces, and their files."""

import cv2
import numpy as np
import pytest
from conftest import LFW_TRAIN, SHARED

from encryptface.evaluation.coverage import load_annotations, match
from encryptface.faces.alignment import Aligner
from encryptface.faces.detection import FaceDetector, nearest_centre
from encryptface.faces.readers import READERS, CropReader

FACEBENCH = SHARED / "data" / "facebench"


def _aligned_faces(settings, labels: set[str], photos: list[str]) -> list[np.ndarray]:
    """Aligned crops of the annotated faces of ``labels`` that the detector finds (eyes >= 12 px)."""
    detector, aligner = FaceDetector(settings.detection), Aligner(settings.alignment)
    annotations = load_annotations(FACEBENCH / "annotations")
    crops = []
    for stem in photos:
        rgb = cv2.cvtColor(cv2.imread(str(FACEBENCH / "images" / f"{stem}.jpg")), cv2.COLOR_BGR2RGB)
        faces = detector.detect(rgb)
        for box, index in zip(annotations[stem], match(annotations[stem], [f.bbox for f in faces])[0],
                              strict=True):
            if index is None:
                continue
            eyes = np.linalg.norm(faces[index].landmarks[1] - faces[index].landmarks[0])
            if box.label in labels and eyes >= 12:
                crops.append(aligner.align(rgb, faces[index]).crop)
    return crops


def test_the_shipped_reader_tells_masked_faces_from_bare_ones(settings):
    masked = _aligned_faces(settings, {"with_mask"}, [f"maksssksksss{n}" for n in (28, 56, 392, 412)])
    detector, aligner = FaceDetector(settings.detection), Aligner(settings.alignment)
    bare = []
    for path in sorted(LFW_TRAIN.glob("*/*.jpg"))[:12]:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        face = nearest_centre(detector.detect(rgb), rgb.shape)
        bare.append(aligner.align(rgb, face).crop)
    reader = CropReader.load("mask")
    assert len(masked) >= 4
    assert np.mean(reader.probability(np.stack(masked)) >= 0.5) >= 0.75
    assert np.mean(reader.probability(np.stack(bare)) < 0.5) >= 0.9


@pytest.mark.parametrize("kind", sorted(READERS))
def test_a_reader_saves_and_loads_and_reads_any_crop_size(tmp_path, kind):
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (3, 128, 128, 3), dtype=np.uint8)
    features = READERS[kind].features(crops)
    smaller = np.stack([cv2.resize(c, (96, 96), interpolation=cv2.INTER_AREA) for c in crops])
    assert features.shape[0] == 3 and READERS[kind].features(smaller).shape == features.shape
    reader = CropReader(kind, features.mean(0), features.std(0) + 1, rng.normal(size=features.shape[1]), 0.5)
    reader.save(tmp_path / "r.npz")
    again = CropReader.load(kind, tmp_path / "r.npz")
    assert np.allclose(again.probability(crops), reader.probability(crops), atol=1e-5)
    assert READERS[kind].features(crops[:0]).shape == (0, features.shape[1])
    assert CropReader.load(kind).mean.shape == features.shape[1:]   # the shipped weights read this view


def test_the_shipped_beard_reader_tells_a_full_beard_from_clean_shaven_faces(settings):
    """The bearded man of facebench's selfies (photos of the check half, which the reader was not
    fitted on) against clean-shaven LFW faces."""
    bearded = _aligned_faces(settings, {"without_mask"}, [f"maksssksksss{n}" for n in (154, 530, 618)])
    detector, aligner = FaceDetector(settings.detection), Aligner(settings.alignment)
    shaven = []
    for name in ("Colin_Powell", "George_W_Bush", "Tony_Blair"):
        for path in sorted((LFW_TRAIN / name).glob("*.jpg"))[:4]:
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            shaven.append(aligner.align(rgb, nearest_centre(detector.detect(rgb), rgb.shape)).crop)
    reader = CropReader.load("beard")
    assert len(bearded) == 3
    assert np.all(reader.probability(np.stack(bearded)) >= 0.5)
    assert np.mean(reader.probability(np.stack(shaven)) < 0.5) >= 0.9
