"""Person / background segmentation: where in an image a person (head, hair, body) is.

MediaPipe's selfie segmentation (``selfie_segmentation.tflite`` of the Apache-2.0 npm package
``@mediapipe/selfie_segmentation``, unpacked by ``make install``; 250 KB, 256x256 RGB in [0, 1],
one person probability per pixel). OpenVINO reads the tflite file directly except for MediaPipe's
one custom operation, ``Convolution2DTransposeBias`` (the last 2x upsampling), which
:func:`_transpose_conv_bias` translates. About 3 ms per image on one core.

The stylegan paste uses it so that a render's own background never lands on the photo's hair, and
the photo's background is never painted over (``stylegan.person_mask``).
"""

from __future__ import annotations

import cv2
import numpy as np

from encryptface.faces.recognition import npm_package_file
from encryptface.runtime import openvino_opset, openvino_options

PACKAGE = "@mediapipe/selfie_segmentation"
MODEL_FILE = "selfie_segmentation.tflite"
INPUT_SIDE = 256


def _transpose_conv_bias(node: object) -> list:
    """OpenVINO conversion of MediaPipe's custom ``Convolution2DTransposeBias``: NHWC input, OHWI
    weights, one bias per output channel. Its stride sits in custom options the frontend does not
    expose; in this model it is the kernel's size (2: 128 -> 256 px, no padding)."""
    ops = openvino_opset()
    data, weights, bias = (node.get_input(i) for i in range(3))  # type: ignore[attr-defined]
    shape = weights.get_partial_shape()
    stride = [int(shape[axis].get_length()) for axis in (1, 2)]

    def order(*axes: int) -> object:
        return ops.constant(np.array(axes, np.int64))

    upsampled = ops.convolution_backprop_data(
        ops.transpose(data, order(0, 3, 1, 2)), ops.transpose(weights, order(3, 0, 1, 2)),
        strides=stride, pads_begin=[0, 0], pads_end=[0, 0], dilations=[1, 1])
    biased = ops.add(upsampled, ops.reshape(bias, order(1, -1, 1, 1), False))
    return [ops.transpose(biased, order(0, 2, 3, 1)).output(0)]


class PersonSegmenter:
    """Person probability maps of RGB images (the model compiled once per instance)."""

    def __init__(self, threads: int = 0) -> None:
        import openvino as ov
        from openvino.frontend import ConversionExtension

        core = ov.Core()
        core.add_extension(ConversionExtension("Convolution2DTransposeBias", _transpose_conv_bias))
        model = core.read_model(str(npm_package_file(PACKAGE, MODEL_FILE)))
        self._model = core.compile_model(model, "CPU", openvino_options(threads))

    def person(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W) float32 probability in [0, 1] that each pixel of an RGB uint8 image shows a person
        (the image is squeezed to the model's square input and the answer stretched back)."""
        height, width = rgb.shape[:2]
        square = cv2.resize(np.ascontiguousarray(rgb[:, :, :3]), (INPUT_SIDE, INPUT_SIDE),
                            interpolation=cv2.INTER_AREA if min(height, width) > INPUT_SIDE
                            else cv2.INTER_LINEAR)
        blob = (square.astype(np.float32) / 255.0)[None]
        probability = np.asarray(self._model(blob)[0], np.float32)[0, :, :, 0]
        return np.clip(cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
