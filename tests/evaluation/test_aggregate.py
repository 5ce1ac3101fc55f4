"""Aggregation of per-face measurements against hand-computed cases."""

import numpy as np
import pytest

from encryptface.evaluation.aggregate import aggregate, read_pairs


def _face(identity, original, reference, published, restored=None, wrong=(), from_pixels=None,
          sharpness=0.5):
    face = {"identity": identity, "seconds": 0.5, "redetected": published is not None,
            "psnr_face": 30.0, "ssim_face": 0.9, "psnr_photo": 40.0, "sharpness_ratio": sharpness,
            "embeddings": {"dlib": {"original": original, "reference": reference, "published": published,
                                    "restored": restored, "from_pixels": from_pixels,
                                    "wrong": list(wrong)}}}
    if restored is not None:
        face.update(restored_psnr_face=30.0, restored_ssim_face=0.9)
        if from_pixels is not None:
            face["from_pixels_psnr_face"] = 20.0
    return face


def test_protection_and_recovery_by_hand():
    # originals on a line: impostor distances between the 4 people are 1, 2, 3, 1, 2, 1 (dlib: Euclid)
    faces = [
        _face("a", [0.0], [0.1], [5.0], restored=[0.0], wrong=[[7.0], [9.0]],  # protected, recovered
              from_pixels=[0.5], sharpness=1.0),
        _face("b", [1.0], [1.1], [1.05], restored=[1.0], from_pixels=[3.5]),     # protection failed
        _face("c", [2.0], [2.2], None, restored=[2.0]),                          # not re-detected
        _face("d", [3.0], None, [8.0]),                                          # no other photo
    ]
    metrics = aggregate(faces, fars=(0.5,))
    entry = metrics["recognizers"]["dlib"]
    # sorted impostors 1,1,1,2,2,3: the threshold accepting half of them is the 4th smallest = 2
    assert entry["thresholds"] == {"0.5": 2.0}
    at = entry["far"]["0.5"]
    assert metrics["faces"] == 4 and metrics["faces_with_reference_photo"] == 3
    assert at["baseline_matched"] == 1.0                     # 0.1, 0.1, 0.2 all < 2
    # a (4.9 away) and c (no face) are protected, b (0.05 away) is not
    assert at["protection_success"] == pytest.approx(2 / 3, abs=1e-4)
    assert at["restored_matched"] == 1.0
    assert at["wrong_password_matched_to_same_photo"] == 0.0   # 7 and 9 away
    assert at["wrong_password_pairs_same_identity"] == 0.0     # |7 - 9| = 2 is not < 2
    assert metrics["quality"]["redetected_after_jpeg90"] == 0.75
    assert metrics["quality"]["sharpness_ratio_mean"] == pytest.approx(0.625)
    # from the published pixels: a is 0.5 from its original (< 2), b 2.5 (not)
    assert at["restored_from_published_pixels_matched_to_same_photo"] == 0.5
    assert metrics["recovery"]["from_published_pixels_psnr_face_db_mean"] == 20.0
    assert metrics["cost"]["photos_per_second_per_core"] == 2.0


def test_thresholds_from_a_pairs_file():
    faces = [_face("a", [0.0], [0.1], [5.0]), _face("b", [1.0], [1.1], [1.05])]
    pairs = {"dlib": [(0.3, True), (0.5, True), (4.0, False), (6.0, False)]}
    entry = aggregate(faces, fars=(0.5,), pair_distances=pairs)["recognizers"]["dlib"]
    assert entry["thresholds"] == {"0.5": 6.0} and entry["thresholds_from"] == "pairs file"
    assert entry["pairs_true_accept"] == {"0.5": 1.0}


def test_read_lfw_pairs():
    text = "1\t2\nAaron_Peirsol\t1\t2\nAJ_Cook\t1\tMarsha_Thomason\t10\n\n"
    assert read_pairs(text) == [
        ("Aaron_Peirsol/Aaron_Peirsol_0001.jpg", "Aaron_Peirsol/Aaron_Peirsol_0002.jpg", True),
        ("AJ_Cook/AJ_Cook_0001.jpg", "Marsha_Thomason/Marsha_Thomason_0010.jpg", False)]


def test_an_archive_without_identities_still_gets_the_label_free_metrics():
    # every photo at the top level (identity ""): no impostor pairs, so no thresholds
    faces = [_face("", [0.0], None, [5.0], restored=[0.0]), _face("", [1.0], None, [1.5], restored=[1.0])]
    for face, tone in zip(faces, (2.0, 12.0)):
        face.update(landmark_error_iod=0.02, detection_score_ratio=0.95, skin_tone_delta_e=tone)
    metrics = aggregate(faces, fars=(0.5,))
    assert metrics["quality"]["skin_tone_delta_e_median"] == 7.0
    assert metrics["quality"]["skin_tone_delta_e_p90"] == 11.0
    assert "identity folders" in metrics["recognizers"]["dlib"]["missing"]
    assert metrics["quality"]["psnr_face_db_mean"] == 30.0 and metrics["recovery"]["psnr_face_db_min"] == 30.0
    assert metrics["realism"]["landmark_error_iod_median"] == 0.02
    assert metrics["realism"]["classifier_auc_original_vs_published"] is None  # under 10 photos


def test_decoys_get_their_own_realism_test_and_faces_without_decoys_are_left_out_of_it():
    rng = np.random.default_rng(0)
    faces = []
    for index in range(24):
        face = _face(str(index), [0.0], None, [5.0])
        original = rng.normal(size=6)
        published = original + 0.01 * rng.normal(size=6)
        features = {"original": original.tolist(), "published": published.tolist()}
        if index < 12:  # decoys far from every original; the other faces have none
            features["decoy"] = (original + 5.0).tolist()
        face["realism_features"] = features
        faces.append(face)
    realism = aggregate(faces, fars=(0.5,))["realism"]
    assert realism["classifier_auc_original_vs_decoy"] > 0.95
    assert realism["classifier_auc_original_vs_published"] < realism["classifier_auc_original_vs_decoy"]


def test_the_stand_ins_realism_leaves_the_pixelated_and_sealed_faces_out():
    rng = np.random.default_rng(1)
    faces = []
    for index in range(30):
        face = _face(str(index), [0.0], None, [5.0])
        original = rng.normal(size=6)
        sealed = index % 3 == 0   # a pixelated face is told apart at once; a stand-in is not
        published = original + (8.0 if sealed else 0.01 * rng.normal(size=6))
        face.update(sealed=sealed,
                    realism_features={"original": original.tolist(), "published": published.tolist()})
        faces.append(face)
    realism = aggregate(faces, fars=(0.5,))["realism"]
    assert realism["sealed_share"] == round(10 / 30, 4)
    # a third of the faces told apart at once: about 0.5 + 1/3 * 0.5 over all faces
    assert realism["classifier_auc_original_vs_published"] > 0.64
    stand_ins = realism["classifier_auc_original_vs_stand_ins"]
    assert stand_ins < realism["classifier_auc_original_vs_published"] - 0.1
