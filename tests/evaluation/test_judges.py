"""The judges of what a stand-in keeps, on real sample photos, and their aggregation by hand."""

import numpy as np
import pytest

from encryptface.config import SAMPLES_DIR, load_settings
from encryptface.evaluation import expression
from encryptface.evaluation.aggregate import aggregate, judge_metrics
from encryptface.evaluation.attributes import clear_label
from encryptface.evaluation.expression import MOUTH_OPEN, five_points, inter_ocular, landmark_error_iod
from encryptface.evaluation.measure import Judges, central_face, judge_face
from encryptface.evaluation.report import summary_table
from encryptface.faces.detection import FaceDetector
from encryptface.imaging.codecs import decode_image


@pytest.fixture(scope="module")
def judged():
    """(judgement, dense points, detected face) of the central face of each sample photo."""
    settings = load_settings()
    detector, judges = FaceDetector(settings.detection), Judges.load(threads=1)
    result = {}
    for name in ("obama2", "biden"):
        rgb = decode_image((SAMPLES_DIR / f"{name}.jpg").read_bytes(), settings.images)[0]
        face = central_face(detector, rgb)
        result[name] = (*judge_face(judges, rgb, face), face)
    return result


def test_obama_is_judged_a_man_with_his_mouth_open(judged):
    judgement, points, _ = judged["obama2"]
    assert judgement["sex"]["male"] >= 0.8 and clear_label(judgement["sex"]) == "male"
    assert judgement["mouth_openness"] > MOUTH_OPEN     # he is speaking, lips well apart
    assert judgement["mouth_openness"] == pytest.approx(expression.mouth_openness(points), abs=1e-4)


@pytest.mark.xfail(strict=True, reason="known limitation (docs/evaluation.md): the FaceNet-based "
                   "appearance judge sees Obama's sample photos as 'other' (p(dark) 0.02-0.4); it "
                   "misses lighter-skinned Black faces")
def test_obama_is_judged_of_dark_appearance(judged):
    assert judged["obama2"][0]["group"]["dark"] >= 0.8


def test_biden_is_judged_a_man_not_of_dark_appearance_with_his_mouth_closed(judged):
    judgement = judged["biden"][0]
    assert clear_label(judgement["sex"]) == "male"
    assert judgement["group"]["dark"] < 0.5
    assert isinstance(judgement["mouth_openness"], float) and judgement["mouth_openness"] < MOUTH_OPEN


def test_dense_landmarks_land_on_the_face_the_detector_found(judged):
    for _, points, face in judged.values():
        assert points.shape == (106, 2)
        # the five points taken from the dense ones sit near the detector's own (another model)
        error = np.linalg.norm(five_points(points) - face.landmarks, axis=1) / inter_ocular(points)
        assert error.max() < 0.25
        assert landmark_error_iod(points, points) == 0.0
        assert landmark_error_iod(points, points + [0.1 * inter_ocular(points), 0.0]) == pytest.approx(0.1)


def _judged(sex, group, mouth, published=None):
    """A measurement record with the judges' view; ``published`` (sex, group, mouth) or None."""
    def view(s, g, m):
        return {"sex": {"male": s, "female": 1 - s},
                "age": {"young_adult": 0.5, "middle_aged": 0.3, "older": 0.2},
                "group": {"dark": g, "east_asian": 0.0, "other": 1 - g}, "mouth_openness": m}
    record = {"judged": {"original": view(sex, group, mouth),
                         "published": view(*published) if published else None}, "judge_seconds": 0.02}
    if published:
        record["dense_landmark_error_iod"] = 0.04
    return record


def test_judge_metrics_by_hand_and_with_missing_values():
    records = [
        _judged(0.95, 0.9, 0.3, (0.9, 0.4, 0.2)),    # dark man, mouth open: dark lost, open kept
        _judged(0.95, 0.95, 0.0, (0.6, 0.7, 0.0)),   # dark man: dark kept (most likely class)
        _judged(0.1, 0.05, 0.0, (0.3, 0.1, 0.2)),    # woman: kept; mouth closed -> open disagrees
        _judged(0.6, 0.9, 0.0, (0.2, 0.9, 0.0)),     # sex unclear: not counted for sex
        _judged(0.9, 0.9, 0.0),                      # published face not found: not counted
        {"seconds": 0.5},                            # a record from before the judges
    ]
    metrics = judge_metrics(records)
    assert metrics["faces"] == 5 and metrics["published_found"] == 4
    assert metrics["sex"] == {"kept": 1.0, "kept_count": 3, "clear_originals": 3,
                              "by_class": {"female": [1, 1], "male": [2, 2]}}
    assert metrics["group"]["by_class"]["dark"] == [2, 3] and metrics["dark_kept"] == "2 of 3"
    assert metrics["age"]["clear_originals"] == 0 and metrics["age"]["kept"] is None
    assert metrics["mouth"] == {"agreement": 0.75, "faces": 4, "open_originals": 1, "open_kept": 1.0}
    assert metrics["dense_landmark_error_iod_median"] == 0.04
    assert metrics["seconds_per_face_mean"] == 0.02


def test_metrics_without_any_judged_face_are_reported_as_missing():
    metrics = judge_metrics([{"seconds": 0.5}])
    assert metrics["faces"] == 0 and metrics["sex"]["kept"] is None and metrics["dark_kept"] == "0 of 0"
    assert metrics["mouth"]["agreement"] is None and metrics["dense_landmark_error_iod_median"] is None


def test_summary_table_shows_the_judges_and_n_a_for_older_metrics():
    face = {"identity": "a", "seconds": 0.5, "redetected": True, "psnr_face": 30.0, "ssim_face": 0.9,
            "psnr_photo": 40.0, "sharpness_ratio": 1.0,
            "embeddings": {"dlib": {"original": [0.0], "reference": None, "published": [1.0],
                                    "restored": None, "from_pixels": None, "wrong": []}}}
    metrics = aggregate([{**face, **_judged(0.95, 0.9, 0.3, (0.9, 0.4, 0.2))}])
    old = {key: value for key, value in metrics.items() if key != "judges"}
    head, rows = summary_table([{"settings": {}, "metrics": metrics}, {"settings": {}, "metrics": old}])
    cells = [dict(zip(head, row, strict=True)) for row in rows]
    assert cells[0]["dark kept"] == "0 of 1" and cells[0]["sex kept"] == "1.000"
    assert cells[1]["dark kept"] == "n/a" and cells[1]["mouth agree"] == "n/a"
