"""Multi-scale, tiled detection: a face too small for the downscaled whole photo is found in a
tile at native resolution; passes, tiles and merging."""

import dataclasses

import cv2
import numpy as np
import pytest

from encryptface.config import resolve_repo_path
from encryptface.faces.detection import FaceDetector, merge, plan_passes, tile_grid
from encryptface.imaging.codecs import decode_image

SAMPLES = resolve_repo_path("encryptface/samples")


@pytest.fixture(scope="module")
def detector(settings):
    return FaceDetector(settings.detection)


def _sample(name, settings):
    return decode_image((SAMPLES / name).read_bytes(), settings.images)[0]


def test_a_small_face_in_a_large_photo_is_found_in_a_tile(detector, settings):
    rgb = _sample("obama2.jpg", settings)
    face = detector.detect(rgb)[0]
    x, y, w, h = (int(v) for v in face.bbox)
    # the head with some margin, shrunk so that the face is 36 px wide, pasted into a 24 MP canvas:
    # on a copy downscaled to max_side it would be under 8 px wide
    head = rgb[max(0, y - h // 2):y + h + h // 2, max(0, x - w // 2):x + w + w // 2]
    scale = 36 / w
    small = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    canvas = cv2.GaussianBlur(rng.integers(60, 200, (4000, 6000, 3), dtype=np.uint8), (0, 0), 3)
    top, left = 2900, 4100
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
    expected = np.array([left + (x - max(0, x - w // 2)) * scale, top + (y - max(0, y - h // 2)) * scale])
    assert 36 * settings.detection.max_side / 6000 < 8
    found = detector.detect(canvas, uncertain=True)
    near = [f for f in found if np.linalg.norm(np.array(f.bbox[:2]) - expected) < 12]
    assert len(near) == 1, [(f.bbox, f.found_by) for f in found]
    assert "tile" in near[0].found_by and 25 < near[0].bbox[2] < 50


def test_tiles_cover_the_photo_with_the_overlap():
    tiles = tile_grid(5000, 3000, 1280, 128)
    covered = np.zeros((3000, 5000), bool)
    for x0, y0, x1, y1 in tiles:
        assert x1 - x0 <= 1280 and y1 - y0 <= 1280
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    xs = sorted({(t[0], t[2]) for t in tiles})
    assert all(prev[1] - nxt[0] >= 128 for prev, nxt in zip(xs, xs[1:], strict=False))


def test_passes_go_from_the_whole_photo_to_the_finest_scale(settings):
    detection = dataclasses.replace(settings.detection, upscale=2.0, upscale_max_megapixels=30)
    passes = plan_passes(6000, 4000, detection)
    assert passes[0].scale == pytest.approx(detection.max_side / 6000) and len(passes[0].tiles) == 1
    assert passes[-1].scale == 2.0
    assert all(b.scale / a.scale >= 1.5 for a, b in zip(passes, passes[1:], strict=False))
    # over upscale_max_megapixels the finest pass is the native resolution
    assert plan_passes(8000, 6000, detection)[-1].scale == 1.0
    # a small photo is never searched below its native size
    assert [p.scale for p in plan_passes(400, 300, detection)] == [1.0, 2.0]


def test_merge_votes_overlapping_detections_into_one_face():
    row = np.zeros(15, np.float32)
    row[:4], row[14] = (10, 10, 40, 40), 0.9
    shifted = row.copy()
    shifted[:2], shifted[14] = (14, 10), 0.6
    apart = row.copy()
    apart[:2] = (200, 200)
    merged = merge(np.stack([row, shifted, apart]), 0.3)
    assert len(merged) == 2
    assert merged[0][1] == 0 and merged[0][0][14] == pytest.approx(0.9)
    assert 10 < merged[0][0][0] < 14   # the box is the score-weighted mean
