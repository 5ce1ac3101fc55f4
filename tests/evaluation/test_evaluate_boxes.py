"""``evaluate --boxes``: the Spark scrub of facebench photos judged against their Pascal VOC boxes
and the same boxes in the WIDER FACE format."""

import json

import pytest
from conftest import FAST, SHARED

from encryptface.evaluation.coverage import read_voc
from jobs import evaluate, scrub

FACEBENCH = SHARED / "data" / "facebench"
NAMES = ["maksssksksss4", "maksssksksss8", "maksssksksss12"]
FLAGS = [f"--set={item}" for item in FAST]


@pytest.fixture(scope="module")
def scrubbed(spark, tmp_path_factory, password_file):  # noqa: ARG001 - one Spark session for both
    root = tmp_path_factory.mktemp("facebench")
    (root / "images").mkdir()
    for name in NAMES:
        (root / "images" / f"{name}.jpg").symlink_to(FACEBENCH / "images" / f"{name}.jpg")
    assert scrub.main(["--input", str(root / "images"), "--output", str(root / "scrubbed"),
                       "--mode=seal", "--password-file", str(password_file), *FLAGS]) == 0
    return root


def _coverage(root, boxes, output):
    assert evaluate.main(["--originals", str(root / "images"), "--scrubbed", str(root / "scrubbed"),
                          "--boxes", str(boxes), "--output", str(output), *FLAGS]) == 0
    return json.loads((output / "coverage.json").read_text())


def test_voc_and_wider_annotations_give_the_same_coverage(scrubbed, tmp_path):
    voc = tmp_path / "voc"
    voc.mkdir()
    for name in NAMES:
        (voc / f"{name}.xml").symlink_to(FACEBENCH / "annotations" / f"{name}.xml")
    wider = tmp_path / "wider.txt"
    lines = []
    for name in NAMES:
        boxes = read_voc(FACEBENCH / "annotations" / f"{name}.xml")
        lines += [f"images/{name}.jpg", str(len(boxes))]
        lines += [f"{b.x0:g} {b.y0:g} {b.x1 - b.x0:g} {b.y1 - b.y0:g} 0 0 0 0 0 0" for b in boxes]
    wider.write_text("\n".join(lines) + "\n")
    by_voc = _coverage(scrubbed, voc, tmp_path / "eval-voc")
    by_wider = _coverage(scrubbed, wider, tmp_path / "eval-wider")
    assert by_voc["summary"]["judged"] == 3 and by_voc["summary"]["faces"] == sum(
        len(read_voc(FACEBENCH / "annotations" / f"{n}.xml")) for n in NAMES)
    assert by_voc["photos"] == by_wider["photos"]
    # the large faces of these photos are found and covered (>= 90 % of the box changed)
    large = by_voc["summary"]["buckets"][">=64"]
    assert large["faces"] >= 2 and large["covered"] == large["faces"] == large["found"]


def test_bad_annotations_are_one_line_errors(scrubbed, tmp_path, capsys):
    (tmp_path / "bad.txt").write_text("photo.jpg\nmany\n")
    assert evaluate.main(["--originals", str(scrubbed / "images"), "--scrubbed",
                          str(scrubbed / "scrubbed"), "--boxes", str(tmp_path / "bad.txt"),
                          "--output", str(tmp_path / "out"), *FLAGS]) == 2
    assert capsys.readouterr().err.strip() == \
        "error: bad.txt: not a WIDER FACE annotation file (near line 1)"
