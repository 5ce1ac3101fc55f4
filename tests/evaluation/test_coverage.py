"""Coverage measurement: VOC and WIDER FACE parsers, matching, changed share, buckets."""

import numpy as np
import pytest
from conftest import SHARED

from encryptface.evaluation.coverage import (
    AnnotationError,
    Box,
    changed_shares,
    load_annotations,
    match,
    photo_coverage,
    read_voc,
    read_wider,
    size_bucket,
    summarise,
)

FACEBENCH = SHARED / "data" / "facebench"


def test_voc_boxes_of_a_facebench_photo():
    boxes = read_voc(FACEBENCH / "annotations" / "maksssksksss4.xml")
    assert boxes == [Box(70, 185, 176, 321, "with_mask")]
    annotations = load_annotations(FACEBENCH / "annotations")
    assert len(annotations) == 427 and sum(len(b) for b in annotations.values()) == 2065


def test_wider_face_format(tmp_path):
    text = ("0--Parade/0_Parade_marchingband_1_5.jpg\n2\n"
            "10 20 30 40 0 0 0 0 0 0 \n100 100 8 9 2 0 0 1 0 0 \n"
            "1--Handshaking/1_Handshaking_1_2.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n"
            "2--Demo/a.jpg\n1\n5 5 20 20 0 0 0 0 0 0\n")
    (tmp_path / "wider_face_val_bbx_gt.txt").write_text(text)
    photos = read_wider(tmp_path / "wider_face_val_bbx_gt.txt")
    # the second box is flagged invalid; the empty photo keeps no box
    assert photos == {"0_Parade_marchingband_1_5": [Box(10, 20, 40, 60)],
                      "1_Handshaking_1_2": [], "a": [Box(5, 5, 25, 25)]}
    assert load_annotations(tmp_path) == photos


def test_bad_annotations_give_one_line_errors(tmp_path):
    (tmp_path / "x.xml").write_text("<annotation><object><bndbox><xmin>5</xmin></bndbox>")
    with pytest.raises(AnnotationError, match="x.xml: not a Pascal VOC annotation"):
        load_annotations(tmp_path)
    (tmp_path / "x.xml").unlink()
    (tmp_path / "w.txt").write_text("a.jpg\ntwo\n")
    with pytest.raises(AnnotationError, match="w.txt: not a WIDER FACE annotation"):
        load_annotations(tmp_path)
    with pytest.raises(AnnotationError, match="not found"):
        load_annotations(tmp_path / "missing")


def test_matching_is_one_to_one_and_counts_unmatched_detections():
    boxes = [Box(0, 0, 20, 20), Box(100, 100, 110, 110)]
    detections = [(1, 1, 20, 20), (0, 0, 19, 21), (300, 300, 30, 30)]
    matched, unmatched = match(boxes, detections)
    assert matched == [1, None] and unmatched == [0, 2]   # the best IoU wins


def test_changed_share_and_buckets():
    original = np.zeros((100, 100, 3), np.uint8)
    published = original.copy()
    published[0:50, 0:100] = 50
    published[60:100, 0:10] = 2   # within the codec tolerance: not a change
    boxes = [Box(0, 0, 10, 10), Box(0, 40, 10, 60), Box(0, 60, 10, 100)]
    assert changed_shares(original, published, boxes) == [1.0, 0.5, 0.0]
    result = photo_coverage("p", boxes, [(0, 0, 10, 10)], original, published)
    summary = summarise([result])
    assert [size_bucket(s) for s in result.sizes] == ["<16", "<16", "16-32"]
    assert summary["buckets"]["<16"] == {"faces": 2, "found": 1, "covered": 1, "compared": 2,
                                         "found_rate": 0.5, "covered_rate": 0.5}
    assert summary["unmatched"] == 0 and summary["detections"] == 1
