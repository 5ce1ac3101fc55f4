"""Run a (small, convolutional) OpenVINO model graph with torch operations, so it is differentiable.

OpenVINO reads ONNX and TensorFlow frozen graphs without their frameworks; this module replays the
converted graph node by node with torch functions, which gives gradients through third-party face
recognisers (the cloak's surrogates) without onnx2torch (it needs torchvision, which does not
import beside torch 2.13 here) or TensorFlow. Only the operations those recognisers use are
implemented; anything else raises ``NotImplementedError`` when the graph is loaded. The
stylegan synthesis graph (two inputs, split and transposed-convolution wavelet steps) replays too,
which makes a render differentiable with respect to its per-layer styles.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional


def _pads(attrs: dict, x: torch.Tensor, kernel: list[int], strides: list[int],
          dilations: list[int]) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) padding for explicit, valid or same_* auto_pad."""
    mode = attrs.get("auto_pad", "explicit")
    if mode == "valid":
        return 0, 0, 0, 0
    if mode in ("same_upper", "same_lower"):
        pads = []
        for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations, strict=True):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, large = total // 2, total - total // 2
            pads.append((small, large) if mode == "same_upper" else (large, small))
        (top, bottom), (left, right) = pads
        return left, right, top, bottom
    begin, end = attrs["pads_begin"], attrs["pads_end"]
    return begin[1], end[1], begin[0], end[0]


def _conv(x: torch.Tensor, weight: torch.Tensor, attrs: dict, groups: int = 1) -> torch.Tensor:
    kernel = list(weight.shape[-2:])
    left, right, top, bottom = _pads(attrs, x, kernel, attrs["strides"], attrs["dilations"])
    if left == right and top == bottom:  # symmetric: let the convolution pad (no copy)
        return functional.conv2d(x, weight, stride=attrs["strides"], padding=(top, left),
                        dilation=attrs["dilations"], groups=groups)
    return functional.conv2d(functional.pad(x, (left, right, top, bottom)), weight, stride=attrs["strides"],
                    dilation=attrs["dilations"], groups=groups)


def _group_conv(x: torch.Tensor, weight: torch.Tensor, attrs: dict) -> torch.Tensor:
    groups = weight.shape[0]  # OpenVINO layout: [groups, out/groups, in/groups, kh, kw]
    return _conv(x, weight.flatten(0, 1), attrs, groups)


def _pool(x: torch.Tensor, attrs: dict, average: bool) -> torch.Tensor:
    kernel, strides = attrs["kernel"], attrs["strides"]
    left, right, top, bottom = _pads(attrs, x, kernel, strides, [1, 1])
    ceil = attrs.get("rounding_type", "floor") == "ceil"
    if average:
        if left or right or top or bottom:
            if not attrs.get("exclude-pad", True):
                x = functional.pad(x, (left, right, top, bottom))
            else:
                raise NotImplementedError("AvgPool with padding that excludes pads")
        return functional.avg_pool2d(x, kernel, strides, ceil_mode=ceil)
    padded = functional.pad(x, (left, right, top, bottom), value=float("-inf"))
    return functional.max_pool2d(padded, kernel, strides, ceil_mode=ceil)


def _reshape(x: torch.Tensor, shape: torch.Tensor, attrs: dict) -> torch.Tensor:
    target = [int(v) for v in shape.tolist()]
    if attrs.get("special_zero"):
        target = [x.shape[i] if v == 0 else v for i, v in enumerate(target)]
    # Converted graphs often fix the batch (at 1, or MobileFaceNet's tflite at 2); keep the real
    # batch in front when the fixed one does not fit.
    if target and target[0] > 0 and x.shape[0] != target[0] and int(np.prod(target)) != x.numel():
        target[0] = x.shape[0]
    return x.reshape(target)


def _matmul(a: torch.Tensor, b: torch.Tensor, attrs: dict) -> torch.Tensor:
    if attrs.get("transpose_a"):
        a = a.transpose(-1, -2)
    if attrs.get("transpose_b"):
        b = b.transpose(-1, -2)
    return a @ b


def _group_conv_transpose(x: torch.Tensor, weight: torch.Tensor, attrs: dict) -> torch.Tensor:
    if any(attrs.get("output_padding", [0, 0])) or attrs.get("auto_pad", "explicit") != "explicit" \
            or any(attrs["pads_begin"]) or any(attrs["pads_end"]):
        raise NotImplementedError("GroupConvolutionBackpropData with padding")
    groups = weight.shape[0]  # OpenVINO layout: [groups, in/groups, out/groups, kh, kw]
    return functional.conv_transpose2d(x, weight.flatten(0, 1), stride=attrs["strides"],
                                       dilation=attrs["dilations"], groups=groups)


def _gather(x: torch.Tensor, indices: torch.Tensor, axis: torch.Tensor, attrs: dict) -> torch.Tensor:
    if attrs.get("batch_dims", 0):
        raise NotImplementedError("Gather with batch_dims")
    dim = int(axis) % x.dim()
    if indices.dim() == 0:
        return x.select(dim, int(indices))
    picked = x.index_select(dim, indices.reshape(-1))
    return picked.reshape(*x.shape[:dim], *indices.shape, *x.shape[dim + 1:])


def _variadic_split(x: torch.Tensor, axis: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
    dim = int(axis) % x.dim()
    sizes = [int(v) for v in lengths.tolist()]
    if -1 in sizes:
        sizes[sizes.index(-1)] = x.shape[dim] - (sum(sizes) + 1)
    return torch.split(x, sizes, dim=dim)


# An operation returns a tensor, or a tuple of them where it has several outputs.
_OPS: dict[str, Callable[..., torch.Tensor | tuple[torch.Tensor, ...]]] = {
    "Convolution": lambda a, attrs: _conv(a[0], a[1], attrs),
    "GroupConvolution": lambda a, attrs: _group_conv(a[0], a[1], attrs),
    "Add": lambda a, attrs: a[0] + a[1],
    "Subtract": lambda a, attrs: a[0] - a[1],
    "Multiply": lambda a, attrs: a[0] * a[1],
    "Divide": lambda a, attrs: a[0] / a[1],
    "Maximum": lambda a, attrs: torch.maximum(a[0], a[1]),
    "Power": lambda a, attrs: a[0] ** a[1],
    "Relu": lambda a, attrs: functional.relu(a[0]),
    "Abs": lambda a, attrs: a[0].abs(),
    "PRelu": lambda a, attrs: torch.where(a[0] >= 0, a[0], a[0] * a[1].reshape(1, -1, 1, 1)
                                          if a[1].dim() == 1 else a[0] * a[1]),
    "Concat": lambda a, attrs: torch.cat(a, dim=attrs["axis"]),
    "MaxPool": lambda a, attrs: _pool(a[0], attrs, average=False),
    "AvgPool": lambda a, attrs: _pool(a[0], attrs, average=True),
    "Transpose": lambda a, attrs: a[0].permute(*[int(v) for v in a[1].tolist()]),
    "Reshape": lambda a, attrs: _reshape(a[0], a[1], attrs),
    "MatMul": lambda a, attrs: _matmul(a[0], a[1], attrs),
    "GroupConvolutionBackpropData": lambda a, attrs: _group_conv_transpose(a[0], a[1], attrs),
    "Gather": lambda a, attrs: _gather(a[0], a[1], a[2], attrs),
    "VariadicSplit": lambda a, attrs: _variadic_split(a[0], a[1], a[2]),
    "ReduceSum": lambda a, attrs: a[0].sum(dim=[int(v) for v in a[1].reshape(-1).tolist()],
                                           keepdim=attrs.get("keep_dims", False)),
}


def read_model(path: str | Path) -> object:
    """An OpenVINO model from an ONNX or TensorFlow frozen-graph file (no framework needed), with
    its constant sub-graphs (shape arithmetic) folded away."""
    import openvino as ov

    return folded(ov.Core().read_model(str(path)))


def folded(model: object) -> object:
    """``model`` (an OpenVINO ``Model``, edited in place) with its constant sub-graphs (shape
    arithmetic) folded away, as the replay needs it."""
    from openvino._offline_transformations import apply_moc_transformations

    apply_moc_transformations(model, cf=True)
    return model


class OpenVINOGraph(nn.Module):
    """A torch module that evaluates an OpenVINO ``Model`` (its first output) op by op; ``forward``
    takes the graph's inputs in the model's order."""

    def __init__(self, model: object) -> None:
        super().__init__()
        self.model = model  # the source graph, e.g. to compile it with OpenVINO for comparison
        self._nodes: list[tuple[str, str, dict, list[str]]] = []
        self._inputs = [f"{p.get_friendly_name()}:0" for p in model.get_parameters()]  # type: ignore[attr-defined]
        self._output = ""
        constants = 0
        for op in model.get_ordered_ops():  # type: ignore[attr-defined]
            kind, name = op.get_type_name(), op.get_friendly_name()
            sources = [f"{i.get_source_output().get_node().get_friendly_name()}:"
                       f"{i.get_source_output().get_index()}" for i in op.inputs()]
            key = f"{name}:0"
            if kind == "Parameter":
                continue
            if kind == "Result":
                self._output = self._output or sources[0]
            elif kind == "Constant":
                buffer = f"c{constants}"
                constants += 1
                value = np.array(op.get_data())
                dtype = torch.float32 if value.dtype.kind == "f" else torch.int64
                self.register_buffer(buffer, torch.from_numpy(value.astype(np.float32 if dtype ==
                                                                          torch.float32 else np.int64)))
                self._nodes.append(("Constant", key, {"buffer": buffer}, []))
            elif kind in _OPS:
                self._nodes.append((kind, key, op.get_attributes(), sources))
            else:
                raise NotImplementedError(f"OpenVINO op {kind} ({name}) has no torch equivalent here")

    @classmethod
    def from_file(cls, path: str | Path) -> OpenVINOGraph:
        """Read an ONNX file or a TensorFlow frozen GraphDef (``.pb``) with OpenVINO and wrap it."""
        return cls(read_model(path))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if len(inputs) != len(self._inputs):
            raise TypeError(f"the graph takes {len(self._inputs)} inputs, got {len(inputs)}")
        values: dict[str, torch.Tensor] = dict(zip(self._inputs, inputs, strict=True))
        for kind, key, attrs, sources in self._nodes:
            if kind == "Constant":
                values[key] = getattr(self, attrs["buffer"])
                continue
            out = _OPS[kind]([values[s] for s in sources], attrs)
            if isinstance(out, tuple):  # outputs are keyed name:0, name:1, ...
                name = key.rsplit(":", 1)[0]
                values.update({f"{name}:{i}": part for i, part in enumerate(out)})
            else:
                values[key] = out
        return values[self._output]
