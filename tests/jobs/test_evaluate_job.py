"""The evaluate job on a tiny real dataset (identity folders of LFW photos), for a reversible and
a key-less mode: metrics.json has the contract's keys and sane values, the report has a gallery."""

import json

import pytest
from conftest import FAST, lfw_people

from jobs import evaluate, scrub

FLAGS = [f"--set={item}" for item in FAST + ["spark.images_per_partition=3"]]


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """Four people, two photos each, as identity folders (symlinks to ../shared)."""
    root = tmp_path_factory.mktemp("originals")
    for photos in lfw_people(min_images=2, count=4):
        folder = root / photos[0].parent.name
        folder.mkdir()
        for photo in photos[:2]:
            (folder / photo.name).symlink_to(photo)
    return root


def _scrub_and_evaluate(originals, tmp_path, mode, password_args, extra=()):
    scrubbed, report = tmp_path / "scrubbed", tmp_path / "eval"
    assert scrub.main(["--input", str(originals), "--output", str(scrubbed), f"--mode={mode}",
                       *password_args, *FLAGS]) == 0
    assert evaluate.main(["--originals", str(originals), "--scrubbed", str(scrubbed), "--output",
                          str(report), "--recognizers", "dlib,facenet", "--wrong", "2",
                          *password_args, *extra, *FLAGS]) == 0
    return json.loads((report / "metrics.json").read_text()), (report / "report.html").read_text()


def test_seal_evaluation_measures_protection_and_exact_recovery(spark, originals, tmp_path, password_file):
    people = sorted(p.name for p in originals.iterdir())
    pairs = tmp_path / "pairs.txt"  # LFW format: two same-person and two different-person pairs
    pairs.write_text(f"2\t2\n{people[0]}\t1\t2\n{people[1]}\t1\t2\n"
                     f"{people[0]}\t1\t{people[2]}\t1\n{people[1]}\t2\t{people[3]}\t1\n")
    metrics, report = _scrub_and_evaluate(originals, tmp_path, "seal", ["--password-file", password_file],
                                          ["--pairs", str(pairs)])
    for entry in metrics["recognizers"].values():  # thresholds from the 2 different-person pairs
        assert entry["thresholds_from"] == "pairs file" and entry["pairs_true_accept"]["0.1"] is not None
    assert metrics["faces"] == 8 and metrics["faces_with_reference_photo"] == 8 and not metrics["errors"]
    assert set(metrics["recognizers"]) == {"dlib", "facenet"}
    for entry in metrics["recognizers"].values():
        assert set(entry["far"]) == {"0.1", "0.01", "0.001"}
        at = entry["far"]["0.1"]
        assert at["baseline_matched"] >= 0.75            # the same people ARE recognised unprotected
        assert at["protection_success"] >= 0.75         # and not once pixelated
        assert at["restored_matched_to_same_photo"] == 1.0
        assert "wrong_password_matched_to_same_photo" not in at  # seal refuses wrong passwords
    assert metrics["recovery"]["psnr_face_db_min"] == 99.0   # identical pixels (PNG restore)
    assert metrics["quality"]["psnr_face_db_mean"] < 25    # the pixelation is visible
    assert metrics["quality"]["redetected_after_jpeg90"] < 0.5  # YuNet does not see a face in blocks
    assert report.count("<img") >= 8 and "restored" in report


def test_cloak_evaluation_needs_no_password(spark, originals, tmp_path, monkeypatch):
    monkeypatch.delenv("ENCRYPTFACE_PASSWORD", raising=False)
    metrics, report = _scrub_and_evaluate(originals, tmp_path, "cloak", [])
    assert "recovery" not in metrics and metrics["faces"] == 8
    assert metrics["recognizers"]["facenet"]["far"]["0.01"]["protection_success"] >= 0.75  # white box
    assert metrics["quality"]["psnr_face_db_mean"] > 33 and metrics["quality"]["ssim_face_mean"] > 0.93
    assert "change x10" in report
