"""The face-mask reader: the shipped model on real masked and bare faces, and its file."""

import cv2
import numpy as np
from conftest import LFW_TRAIN, SHARED

from encryptface.evaluation.coverage import load_annotations, match
from encryptface.faces.alignment import Aligner
from encryptface.faces.detection import FaceDetector, nearest_centre
from encryptface.faces.masked import FEATURES, MaskReader, mask_features
from encryptface.modes.seal import shifted_blocks

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
    reader = MaskReader.load()
    assert len(masked) >= 4
    assert np.mean(reader.probability(np.stack(masked)) >= 0.5) >= 0.75
    assert np.mean(reader.probability(np.stack(bare)) < 0.5) >= 0.9


def test_the_reader_saves_and_loads_and_reads_any_crop_size(tmp_path):
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (3, 128, 128, 3), dtype=np.uint8)
    features = mask_features(crops)
    smaller = np.stack([cv2.resize(c, (96, 96), interpolation=cv2.INTER_AREA) for c in crops])
    assert features.shape == mask_features(smaller).shape == (3, FEATURES)
    reader = MaskReader(features.mean(0), features.std(0) + 1, rng.normal(size=features.shape[1]), 0.5)
    reader.save(tmp_path / "r.npz")
    again = MaskReader.load(tmp_path / "r.npz")
    assert np.allclose(again.probability(crops), reader.probability(crops), atol=1e-5)
    assert mask_features(crops[:0]).shape[0] == 0


def test_sealed_blocks_move_towards_grey_and_the_same_blocks_move_the_same_way():
    black = np.zeros((7, 7, 3), np.uint8)
    white = np.full((7, 7, 3), 255, np.uint8)
    moved = shifted_blocks(black, 16)
    assert moved.min() >= 8 and moved.max() <= 24 and len(np.unique(moved)) > 5
    assert (moved[:, :, 0] == moved[:, :, 1]).all()          # the same shift on every channel
    assert (shifted_blocks(white, 16) <= 247).all()
    assert np.array_equal(moved, shifted_blocks(black.copy(), 16))
