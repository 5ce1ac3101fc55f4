"""MobileStyleGAN (FFHQ) from the ``random-face`` package, run by OpenVINO with one style per layer.

The package ships two OpenVINO IRs (``random_face/data``): a mapping network z [1,512] -> w [1,512]
and a synthesis network w [1,512] -> RGB [1,3,1024,1024] in [-1, 1]. This module reads them from the
installed package (nothing is downloaded) and edits the synthesis graph twice:

- every one of its 23 style modulations (in forward order, coarse to fine) reads its own row of a
  ``styles`` [1,23,512] input, so coarse layers (pose, face shape), middle layers (identity) and
  fine layers (colour, light) can come from different vectors (style mixing);
- the graph ends at its internal 512x512 wavelet low band (= 2 x the image downscaled to 512 px),
  which skips the last inverse wavelet step and its 1024x1024 work;
- the learned 4x4 input of the first layer enters as a second graph input (see
  :func:`_learned_input_as_input`), so that OpenVINO 2023.3 (the Orca environment) compiles the
  graph too and renders the same bits as 2025.3.

Licence: package code Apache-2.0; the weights are distilled from NVIDIA's StyleGAN2-FFHQ, which is
licensed for non-commercial use only (NVIDIA Source Code License-NC), trained on FFHQ (CC BY-NC-SA 4.0
as a collection).
"""

from __future__ import annotations

import importlib.util
import logging
import re
from pathlib import Path
from typing import TypeVar

import numpy as np

from encryptface.generators import GENERATORS
from encryptface.runtime import openvino_opset, openvino_options

log = logging.getLogger(__name__)

PACKAGE = "random_face"
STYLE_DIM = 512
LAYERS = 23
RENDER_SIZE = 512
LICENCE = GENERATORS["stylegan"].licence  # the one statement of it: encryptface.generators
_LOW_BAND = "Slice_764/Split"   # the 12-channel 512^2 wavelet output, split into low band + details
# The first layer: Mul_20 = Mul_19 (= modulation Reshape_17 x scale Constant_18) x the learned input
# m.input.input ([1, 512, 4, 4], tiled to the batch), then convolved.
_FIRST_MODULATED = "Mul_20"
_LEARNED_INPUT = "m.input.input"
_INPUT_NAME = "learned_input"  # ... the name of the graph input that takes it (times its scale)
_GEMM = re.compile(r"Gemm_(\d+)")
ArrayLike = TypeVar("ArrayLike")  # a numpy array or a torch tensor


def package_data_dir() -> Path:
    """The installed ``random_face/data`` folder (raises with an install hint when missing)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the stylegan generator needs the `random-face` package: "
                                "pip install --no-deps random-face==2021.7.21.1 (make install does)")
    return Path(spec.origin).parent / "data"


def _per_layer_synthesis(core: object, path: Path) -> tuple[object, np.ndarray]:
    """The synthesis graph with a [1, LAYERS, 512] style input and the 512^2 image as output, and
    the value its second input, the scaled learned input, always takes."""
    import openvino as ov

    ops = openvino_opset()

    model = core.read_model(str(path))
    style = model.get_parameters()[0]
    consumers = [target.get_node() for target in style.output(0).get_target_inputs()]
    # The ONNX export numbered nodes in forward order: Gemm_11 modulates the first (4x4) layer.
    modulations = sorted((n for n in consumers if n.get_type_name() == "MatMul"),
                         key=lambda n: int(_GEMM.search(n.get_friendly_name()).group(1)))
    if len(modulations) != LAYERS:
        raise ValueError(f"unexpected synthesis graph: {len(modulations)} style modulations")
    styles = ops.parameter([1, LAYERS, STYLE_DIM], np.float32, name="styles")
    axis = ops.constant(np.array(1, np.int64))
    rows = [ops.gather(styles, ops.constant(np.array(i, np.int64)), axis) for i in range(LAYERS)]
    for layer, node in enumerate(modulations):
        for port in node.inputs():
            if port.get_source_output().get_node() is style or \
                    port.get_source_output().get_node().get_friendly_name() == style.get_friendly_name():
                port.replace_source_output(rows[layer].output(0))
    for target in list(style.output(0).get_target_inputs()):  # e.g. ShapeOf: any row has the shape
        target.replace_source_output(rows[0].output(0))
    nodes = {op.get_friendly_name(): op for op in model.get_ordered_ops()}
    learned_input, value = _learned_input_as_input(nodes, ops)
    return (ov.Model([nodes[_LOW_BAND].output(0)], [styles, learned_input], "mobilestylegan_per_layer_512"),
            value)


def _learned_input_as_input(nodes: dict, ops: object) -> tuple[object, np.ndarray]:
    """Rewire the first layer to read ``scale x learned input`` from a new graph input; that input
    and its value.

    OpenVINO 2023.3's CPU plugin folds the (tiled) learned input into a [1, 512, 4, 4] constant and
    then fuses ``modulation x that constant`` into the convolution's weights as if it were a
    per-channel scale, which fails ("Argument shapes are inconsistent"); 2025.3 skips that fusion
    and folds the modulation's scalar scale into the constant instead: (m x s) x c -> m x (s x c).
    With ``s x c`` (float32, as 2025.3 folds it) as an input, neither runtime has a constant to
    fuse, and both compute what 2025.3 computes from the unedited graph, bit for bit (measured).
    """
    first = nodes[_FIRST_MODULATED]
    scaled = first.input_value(0).get_node()  # modulation x scale
    constant = nodes[_LEARNED_INPUT]
    if scaled.get_type_name() != "Multiply" or \
            list(first.get_output_partial_shape(0).to_shape()) != list(constant.get_output_shape(0)):
        raise ValueError("unexpected synthesis graph: its first layer is not modulation x input")
    scale = scaled.input_value(1).get_node()
    value = np.asarray(scale.get_data(), np.float32) * np.asarray(constant.get_data(), np.float32)
    parameter = ops.parameter(list(constant.get_output_shape(0)), np.float32, name=_INPUT_NAME)
    first.input(0).replace_source_output(scaled.input_value(0))
    first.input(1).replace_source_output(parameter.output(0))
    return parameter, np.ascontiguousarray(value, np.float32)


def low_band_pixels(low_band: ArrayLike) -> ArrayLike:
    """The synthesis output (numpy or torch) as pixel values in about [0, 255]: the Haar low band
    is twice the downscaled image, which lies in [-1, 1]."""
    return (low_band * 0.5 + 1.0) * 127.5


class StyleGAN:
    """Mapping z -> w and per-layer synthesis styles (LAYERS x 512) -> RGB uint8 512x512x3."""

    def __init__(self, threads: int = 0) -> None:
        import openvino as ov

        data = package_data_dir()
        core = ov.Core()
        options = openvino_options(threads)   # f32: a face key renders the same face everywhere
        mapping = core.read_model(str(data / "MappingNetwork.xml"))
        mapping.reshape({mapping.inputs[0]: [-1, STYLE_DIM]})
        self._mapping = core.compile_model(mapping, "CPU", options)
        synthesis, self._learned_input = _per_layer_synthesis(core, data / "SynthesisNetwork.xml")
        self._synthesis = core.compile_model(synthesis, "CPU", options)

    def map(self, z: np.ndarray) -> np.ndarray:
        """(N, 512) Gaussian codes -> (N, 512) styles w."""
        return np.asarray(self._mapping(np.ascontiguousarray(z, np.float32))[0], np.float32)

    def render(self, styles: np.ndarray) -> np.ndarray:
        """One face from per-layer styles (LAYERS, 512) or one style (512,) used by every layer."""
        styles = np.asarray(styles, np.float32)
        if styles.ndim == 1:
            styles = np.repeat(styles[None], LAYERS, 0)
        low_band = self._synthesis({"styles": np.ascontiguousarray(styles[None]),
                                    _INPUT_NAME: self._learned_input})[0][0]
        image = low_band_pixels(low_band.transpose(1, 2, 0))
        return np.clip(image + 0.5, 0, 255).astype(np.uint8)

    def differentiable(self) -> tuple[object, np.ndarray]:
        """The per-layer synthesis replayed with torch operations (a
        :class:`~encryptface.faces.ov_graph.OpenVINOGraph`: ``graph(styles [1, LAYERS, 512],
        learned_input)`` -> the 512 px low band, which :func:`low_band_pixels` turns into pixels),
        and the learned input to give it; renders what OpenVINO
        renders to about 1e-4, with gradients with respect to the styles."""
        import openvino as ov

        from encryptface.faces.ov_graph import OpenVINOGraph, folded

        model, learned_input = _per_layer_synthesis(ov.Core(), package_data_dir() / "SynthesisNetwork.xml")
        return OpenVINOGraph(folded(model)).eval(), learned_input

    def mean_style(self, samples: int = 4096, seed: int = 0) -> np.ndarray:
        """The average w of ``samples`` seeded codes (the centre that truncation pulls towards)."""
        return self.seeded_styles(samples, seed).mean(axis=0)

    def seeded_styles(self, samples: int, seed: int) -> np.ndarray:
        """The styles w (samples, 512) of ``samples`` Gaussian codes drawn with ``seed``."""
        return self.map(np.random.default_rng(seed).standard_normal((samples, STYLE_DIM)).astype(np.float32))
