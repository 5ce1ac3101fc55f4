"""Fitting the stylegan generator's encoder and pose model (:class:`StyleFit`) on a rendered style
bank: ridge regressions, the last 10 % of the bank held out for the reported numbers."""

from __future__ import annotations

import logging

import numpy as np

from encryptface.faces.alignment import Aligner
from encryptface.faces.demographics import CLASSES, fit_logistic, softmax, unit_rows
from encryptface.faces.eyewear import eyewear_features, eyewear_reference, wears_eyewear
from encryptface.models.stylegan_encoder import (
    AppearanceMatch,
    BeardEdit,
    DemographicMatch,
    EyewearEdit,
    MouthEdit,
    StyleFit,
    crop_face,
    crop_features,
    crop_landmarks,
)

log = logging.getLogger(__name__)


def ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(weights, bias) minimising |x W + b - y|^2 + alpha |W|^2."""
    x_mean, y_mean = x.mean(0), y.mean(0)
    xc = x - x_mean
    weights = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (y - y_mean))
    return weights.astype(np.float32), (y_mean - x_mean @ weights).astype(np.float32)


def fit_styles(bank: dict[str, np.ndarray], aligner: Aligner, components: int, encoder_alpha: float,
               pose_alpha: float, attributes: int) -> tuple[StyleFit, dict]:
    """Fit the encoder and the pose model on a bank (last 10 % held out for the reported numbers,
    then refitted on everything)."""
    features, styles, descriptors = crop_features(bank["crops"]), bank["w"], bank["descriptor"]
    landmarks = crop_landmarks(aligner, bank["landmarks"])
    held = max(1, len(styles) // 10)
    metrics = {}
    for final in (False, True):
        train = slice(None) if final else slice(None, -held)
        feature_mean = features[train].mean(0)
        _, _, vt = np.linalg.svd(features[train] - feature_mean, full_matrices=False)
        basis = vt[:components]
        coded = np.hstack([(features - feature_mean) @ basis.T, descriptors])
        code_mean, code_scale = coded[train].mean(0), coded[train].std(0) + 1e-6
        coded = (coded - code_mean) / code_scale
        enc_w, enc_b = ridge(coded[train], styles[train], encoder_alpha)
        pose_w, pose_b = ridge(styles[train], landmarks[train], pose_alpha)
        predicted = coded[train] @ enc_w + enc_b
        # Compare people only where the photo says something: the principal directions of the
        # encoder's predictions (sex, age, colouring, pose), not the 512-d norm, which would
        # always pick the most average candidate.
        _, _, directions = np.linalg.svd(predicted - predicted.mean(0), full_matrices=False)
        fit = StyleFit(bank["mean_style"].astype(np.float32), feature_mean.astype(np.float32),
                       basis.astype(np.float32), code_mean.astype(np.float32),
                       code_scale.astype(np.float32), enc_w, enc_b, pose_w, pose_b,
                       directions[:attributes].astype(np.float32))
        if not final:
            test = slice(-held, None)
            metrics = {"encoder_r2_held_out": _r2(styles[test], fit.encode(bank["crops"][test],
                                                                         descriptors[test])),
                       "pose_r2_held_out": _r2(landmarks[test], fit.pose(styles[test])),
                       "pose_error_held_out_crop_fraction": float(np.abs(
                           landmarks[test] - fit.pose(styles[test])).mean()),
                       "samples": int(len(styles))}
    log.info("style fit: %s", metrics)
    return fit, metrics


# Fewer renders than this with (or without) eyewear in the bank and the edit is left out (zero
# direction): a tiny bank cannot say which way glasses lie.
MIN_LABELLED_RENDERS = 10  # renders of each label (glasses or not, beard or not) a direction needs


def fit_eyewear(bank: dict[str, np.ndarray], aligner: Aligner, fit: StyleFit,
                truncation: float) -> tuple[EyewearEdit, dict]:
    """The glasses direction of w (the mean difference between renders the eyewear test calls
    bespectacled and the rest, orthogonal to ``fit``'s attribute directions) and the bare faces'
    cap along it, untruncated (the bank was rendered at ``truncation``)."""
    features = eyewear_features(bank["crops"], aligner.template)
    reference = eyewear_reference(features)
    worn = wears_eyewear(features, reference)
    offsets = (bank["w"] - fit.mean_style) / truncation
    direction = np.zeros(offsets.shape[1], np.float32)
    cap = np.float32(0.0)
    if min(worn.sum(), (~worn).sum()) >= MIN_LABELLED_RENDERS:
        direction = offsets[worn].mean(0) - offsets[~worn].mean(0)
        direction -= fit.attribute_basis.T @ (fit.attribute_basis @ direction)
        direction /= np.linalg.norm(direction)
        coordinates = offsets @ direction
        # halfway between the groups (capped at the bare mean, half of all people were moved onto
        # one value, which made two decoys of a photo more alike)
        cap = np.float32((coordinates[~worn].mean() + coordinates[worn].mean()) / 2)
    metrics = {"eyewear_share_of_bank": round(float(worn.mean()), 4),
               "eyewear_cap": round(float(cap), 3)}
    log.info("eyewear: %s", metrics)
    return EyewearEdit(direction.astype(np.float32), np.asarray(cap, np.float32), reference), metrics


def fit_appearance(bank: dict[str, np.ndarray], components: int,
                   alpha: float) -> tuple[AppearanceMatch, dict]:
    """The leading ``components`` principal directions of the bank's dlib descriptors and a ridge
    regression (penalty ``alpha``) from w to the coordinates along them (last 10 % held out for
    the reported R^2, then refitted on everything). See :class:`AppearanceMatch`."""
    descriptors, styles = bank["descriptor"], bank["w"]
    held = max(1, len(styles) // 10)
    metrics: dict = {}
    for final in (False, True):
        train = slice(None) if final else slice(None, -held)
        mean = descriptors[train].mean(0)
        _, _, vt = np.linalg.svd(descriptors[train] - mean, full_matrices=False)
        basis = vt[:components]
        scale = ((descriptors[train] - mean) @ basis.T).std(0) + 1e-6
        weights, bias = ridge(styles[train], (descriptors[train] - mean) @ basis.T / scale, alpha)
        match = AppearanceMatch(*(part.astype(np.float32) for part in (mean, basis, scale, weights, bias)))
        if not final:
            test = slice(-held, None)
            truth, predicted = match.coordinates(descriptors[test]), match.predict(styles[test])
            metrics = {"appearance_r2_held_out": [_r2(truth[:, k:k + 1], predicted[:, k:k + 1])
                                                  for k in range(components)]}
    log.info("appearance: %s", metrics)
    return match, metrics


def fit_demographics(bank: dict[str, np.ndarray], descriptors: np.ndarray, labels: list[dict[str, str]],
                     l2: float, folds: int = 5) -> tuple[DemographicMatch, dict]:
    """:class:`DemographicMatch`: per attribute, a class-balanced logistic regression (penalty
    ``l2``) from the labelled photos' dlib ``descriptors`` (N, 128; NaN rows: no face found) to
    their ``labels``, then one from the bank's styles to the classes the first reads in each
    render's descriptor. Reports the photo reader's accuracy over ``folds`` folds grouped by
    identity, and the style reader's on the last 10 % of the bank (fitted on the rest first)."""
    found = np.isfinite(descriptors).all(1)
    identities = np.array([row["identity"] for row in labels])
    fold_of = {name: k % folds for k, name in enumerate(sorted(set(identities)))}
    fold = np.array([fold_of[name] for name in identities])
    styles = np.asarray(bank["w"], np.float64)
    style_mean, style_scale = styles.mean(0), styles.std(0) + 1e-6
    x_styles = (styles - style_mean) / style_scale
    held = max(1, len(styles) // 10)
    photo, style, metrics = {}, {}, {}
    for name, classes in CLASSES.items():
        usable = found & np.array([row[name] in classes for row in labels])
        x = unit_rows(descriptors[usable])
        y = np.array([classes.index(labels[i][name]) for i in np.flatnonzero(usable)])
        predicted = np.zeros(len(y), int)
        for k in range(folds):
            test = fold[usable] == k
            if test.any() and (~test).any():
                w, b = fit_logistic(x[~test], y[~test], len(classes), l2)
                predicted[test] = (x[test] @ w + b).argmax(1)
        photo[name] = fit_logistic(x, y, len(classes), l2)
        bank_classes = softmax(unit_rows(bank["descriptor"]) @ photo[name][0] + photo[name][1]).argmax(1)
        w, b = fit_logistic(x_styles[:-held], bank_classes[:-held], len(classes), l2, balanced=False)
        style_held = float(np.mean((x_styles[-held:] @ w + b).argmax(1) == bank_classes[-held:]))
        style[name] = fit_logistic(x_styles, bank_classes, len(classes), l2, balanced=False)
        metrics[f"demographics_{name}"] = {
            "photo_accuracy_by_identity_folds": round(float(np.mean(predicted == y)), 3),
            "photo_recall": {label: round(float(np.mean(predicted[y == k] == k)), 3)
                             for k, label in enumerate(classes) if np.any(y == k)},
            "style_accuracy_held_out": round(style_held, 3),
            "bank_share": {label: round(float(np.mean(bank_classes == k)), 4)
                           for k, label in enumerate(classes)}}
    log.info("demographics: %s", metrics)
    def float32(readers: dict) -> dict:
        return {name: (w.astype(np.float32), b.astype(np.float32)) for name, (w, b) in readers.items()}
    match = DemographicMatch(float32(photo), float32(style), style_mean.astype(np.float32),
                             style_scale.astype(np.float32))
    return match, metrics


def fit_mouth(bank: dict[str, np.ndarray], aligner: Aligner, threshold: float,
              l2: float) -> tuple[MouthEdit, dict]:
    """:class:`MouthEdit`: the mouth's openness in each bank crop (dlib's 68 points), open above
    ``threshold``; the unit normal (in w) of a class-balanced logistic regression on standardised
    styles (penalty ``l2``), with the bank's mean and spread along it. Reports the regression's
    accuracy on the last 10 % of the bank (fitted on the rest first)."""
    from encryptface.faces.mouth import MouthReader

    reader = MouthReader()
    points = crop_landmarks(aligner, bank["landmarks"]).reshape(-1, 5, 2) * aligner.size
    openness = np.array([reader.openness(crop, crop_face(crop, p)) for crop, p in zip(bank["crops"], points,
                                                                                         strict=True)])
    is_open = (openness > threshold).astype(int)
    styles = np.asarray(bank["w"], np.float64)
    mean, scale = styles.mean(0), styles.std(0) + 1e-6
    x = (styles - mean) / scale
    held = max(1, len(styles) // 10)
    w, b = fit_logistic(x[:-held], is_open[:-held], 2, l2)
    accuracy = float(np.mean((x[-held:] @ w + b).argmax(1) == is_open[-held:]))
    w, _ = fit_logistic(x, is_open, 2, l2)
    direction = (w[:, 1] - w[:, 0]) / scale
    direction /= np.linalg.norm(direction)
    coordinates = styles @ direction
    metrics = {"mouth_open_share_of_bank": round(float(is_open.mean()), 3),
               "mouth_accuracy_held_out": round(accuracy, 3)}
    log.info("mouth: %s", metrics)
    edit = MouthEdit(direction.astype(np.float32), np.float32(coordinates.mean()),
                     np.float32(coordinates.std()), np.float32(threshold))
    return edit, metrics


def fit_beard(bank: dict[str, np.ndarray], fit: StyleFit, eyewear: EyewearEdit,
              truncation: float) -> tuple[BeardEdit | None, dict]:
    """:class:`BeardEdit`: the beard reader's probability on each bank crop; the mean difference
    (in untruncated w: the bank was rendered at ``truncation``) between renders read bearded
    (p >= 0.5) and clean-shaven (p < 0.2), orthogonal to ``fit``'s attribute directions and to the
    glasses direction (along the raw difference, bearded faces came with dark glasses), with the
    bank's mean and spread along it. None (no edit) with too few renders of either kind."""
    from encryptface.faces.readers import CropReader

    reader = CropReader.load("beard")
    crops = bank["crops"]
    probability = np.concatenate([reader.probability(crops[i:i + 200]) for i in range(0, len(crops), 200)])
    bearded, bare = probability >= 0.5, probability < 0.2
    styles = fit.mean_style + (np.asarray(bank["w"], np.float64) - fit.mean_style) / truncation
    metrics = {"beard_share_of_bank": round(float(bearded.mean()), 4)}
    if min(bearded.sum(), bare.sum()) < MIN_LABELLED_RENDERS:  # a tiny bank: no edit, faces sealed
        return None, metrics
    direction = styles[bearded].mean(0) - styles[bare].mean(0)
    kept_apart = np.vstack([fit.attribute_basis, eyewear.direction[None]])
    basis = np.linalg.qr(kept_apart.T.astype(np.float64))[0].T   # orthonormal rows
    direction -= basis.T @ (basis @ direction)
    direction /= np.linalg.norm(direction)
    coordinates = styles @ direction
    metrics["beard_gap_in_spreads"] = round(float((coordinates[bearded].mean() - coordinates[bare].mean())
                                                  / coordinates.std()), 3)
    log.info("beard: %s", metrics)
    return BeardEdit(direction.astype(np.float32), np.float32(coordinates.mean()),
                     np.float32(coordinates.std())), metrics


def _r2(truth: np.ndarray, predicted: np.ndarray) -> float:
    residual = ((truth - predicted) ** 2).sum()
    return round(float(1.0 - residual / ((truth - truth.mean(0)) ** 2).sum()), 4)
