"""The realism two-sample test: a classifier that tells protected face crops from originals."""

import cv2
import numpy as np
from conftest import lfw_people

from encryptface.evaluation.realism import realism_features, roc_auc, two_sample_auc
from encryptface.imaging.codecs import decode_image


def test_roc_auc_is_the_rank_statistic():
    rng = np.random.default_rng(0)
    scores, labels = rng.normal(size=60), np.r_[np.zeros(30), np.ones(30)]
    scores[30:] += 0.8
    pairs = [(p > n) + 0.5 * (p == n) for p in scores[30:] for n in scores[:30]]
    assert abs(roc_auc(scores, labels) - np.mean(pairs)) < 1e-12
    assert roc_auc(np.r_[np.zeros(3), np.ones(3)], np.r_[np.zeros(3), np.ones(3)]) == 1.0


def test_blurred_faces_are_told_apart_and_the_same_faces_are_not(settings):
    crops = []
    for person in lfw_people(min_images=1, count=30):
        rgb = decode_image(person[0].read_bytes(), settings.images)[0]
        crops.append(rgb[70:180, 70:180])
    original = [realism_features(c) for c in crops]
    blurred = [realism_features(cv2.GaussianBlur(c, (0, 0), 2.0)) for c in crops]
    assert two_sample_auc(original, blurred) > 0.9
    # the same crops on both sides (shifted by one photo): nothing to tell apart
    assert two_sample_auc(original, original[1:] + original[:1]) < 0.7


def test_feature_groups_cover_the_features_and_tell_which_family_differs():
    from encryptface.evaluation.realism import feature_groups, two_sample_auc_by_group

    rng = np.random.default_rng(0)
    crops = [np.clip(120 + 25 * rng.standard_normal((80, 80, 3)), 0, 255).astype(np.uint8) for _ in range(30)]
    width = len(realism_features(crops[0]))
    assert sorted(i for part in feature_groups().values() for i in range(width)[part]) == list(range(width))
    tinted = [np.clip(c.astype(np.int16) + (40, 0, -40), 0, 255).astype(np.uint8) for c in crops]
    aucs = two_sample_auc_by_group([realism_features(c) for c in crops],
                                   [realism_features(c) for c in tinted])
    assert aucs["colour"] > 0.9 and aucs["lbp"] < aucs["colour"]
