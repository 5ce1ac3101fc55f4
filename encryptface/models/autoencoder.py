"""The TAEF2 autoencoder as an engine: OpenVINO IR by default (f32, or NNCF int8), torch as fallback,
and the export/quantisation that makes the IR at training time."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import get_args

import numpy as np
import torch

from encryptface.config import Backend
from encryptface.models.base import CONFIG_FILE
from encryptface.models.taef2 import DOWNSCALE, LATENT_CHANNELS, load_taef2
from encryptface.runtime import openvino_options

log = logging.getLogger(__name__)
BACKENDS = get_args(Backend)
# OpenVINO IR file names per precision: f32 as exported, int8 as NNCF quantized it.
IR_FILES = {"f32": ("encoder.xml", "decoder.xml"), "int8": ("encoder_int8.xml", "decoder_int8.xml")}


class Autoencoder:
    """Encode RGB uint8 crops to latents and back, on OpenVINO or torch (same weights)."""

    def __init__(self, model_dir: Path, crop_size: int, backend: str = "openvino",
                 threads: int = 0, performance_hint: str = "LATENCY", precision: str = "f32") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")
        if precision not in IR_FILES:
            raise ValueError(f"unknown precision {precision!r}; choose from {tuple(IR_FILES)}")
        self.crop_size = crop_size
        self.latent_shape = (LATENT_CHANNELS, crop_size // DOWNSCALE, crop_size // DOWNSCALE)
        config = json.loads((model_dir / CONFIG_FILE).read_text())
        self.backend = backend
        encoder_ir, decoder_ir = IR_FILES[precision]
        self.precision = precision if backend == "openvino" else "f32"
        if backend == "openvino" and (model_dir / encoder_ir).is_file():
            import openvino as ov

            core = ov.Core()
            # f32: keys must decode to the same face on every executor
            options = openvino_options(threads, performance_hint)
            self._encoder = core.compile_model(str(model_dir / encoder_ir), "CPU", options)
            self._decoder = core.compile_model(str(model_dir / decoder_ir), "CPU", options)
            # THROUGHPUT (many cores per task, e.g. a Xeon executor with spark.task.cpus > 1): the
            # faces of a photo run as parallel infer requests instead of one after another.
            self._parallel = performance_hint == "THROUGHPUT"
        else:
            if backend == "openvino":
                log.warning("no OpenVINO %s IR in %s: running the autoencoder on torch", precision,
                            model_dir)
                self.backend, self.precision = "torch", "f32"
            self._torch = load_taef2((model_dir / config["autoencoder"]).resolve())

    def encode(self, crops: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 -> (N, 32, S/8, S/8) float32."""
        images = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
        return self._run(images, encoder=True)

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """(N, 32, S/8, S/8) -> (N, S, S, 3) uint8."""
        images = self._run(latents.reshape((-1,) + self.latent_shape).astype(np.float32), encoder=False)
        return (np.clip(images, 0.0, 1.0).transpose(0, 2, 3, 1) * 255.0 + 0.5).astype(np.uint8)

    def _run(self, batch: np.ndarray, encoder: bool) -> np.ndarray:
        if self.backend == "openvino":
            model = self._encoder if encoder else self._decoder
            if not len(batch):
                return batch
            if self._parallel and len(batch) > 1:
                return _infer_parallel(model, batch)
            # IR is exported with batch 1 (static shapes): run face by face.
            return np.concatenate([model(item[None])[0] for item in batch])
        module = self._torch[0] if encoder else self._torch[1]
        with torch.no_grad():
            return module(torch.from_numpy(batch)).numpy()


def _infer_parallel(model, batch: np.ndarray) -> np.ndarray:  # noqa: ANN001 - ov.CompiledModel
    """Batch-1 requests for every item of ``batch`` in flight at once (OpenVINO picks how many)."""
    import openvino as ov

    results: list[np.ndarray | None] = [None] * len(batch)

    def done(request, index: int) -> None:  # noqa: ANN001 - ov.InferRequest
        results[index] = request.get_output_tensor(0).data.copy()

    queue = ov.AsyncInferQueue(model, 0)
    queue.set_callback(done)
    for index, item in enumerate(batch):
        queue.start_async({0: item[None]}, index)
    queue.wait_all()
    return np.concatenate(results)


def export_openvino(model_dir: str | Path, crop_size: int) -> None:
    """Convert the TAEF2 encoder/decoder to OpenVINO IR (fp32, static batch-1 shapes) in
    ``model_dir``."""
    import openvino as ov

    model_dir = Path(model_dir)
    config = json.loads((model_dir / CONFIG_FILE).read_text())
    encoder, decoder = load_taef2((model_dir / config["autoencoder"]).resolve())
    side = crop_size // DOWNSCALE
    for module, name, example in ((encoder, "encoder", torch.zeros(1, 3, crop_size, crop_size)),
                                  (decoder, "decoder", torch.zeros(1, LATENT_CHANNELS, side, side))):
        model = ov.convert_model(module, example_input=example, input=[tuple(example.shape)])
        ov.save_model(model, str(model_dir / f"{name}.xml"), compress_to_fp16=False)


def quantize_openvino(model_dir: str | Path, crops: np.ndarray, latents: np.ndarray) -> None:
    """Post-training int8 quantization (NNCF) of the f32 IR in ``model_dir``, calibrated on aligned
    ``crops`` (N, S, S, 3) uint8 for the encoder and on ``latents`` (N, 32, S/8, S/8) -- the kind the
    decoder gets in ``encrypt``: real faces' and keyed ones -- for the decoder."""
    import nncf  # training-time only: the int8 IR runs on plain OpenVINO
    import openvino as ov

    model_dir = Path(model_dir)
    images = [np.ascontiguousarray(c.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0 for c in crops]
    codes = [z[None].astype(np.float32) for z in latents]
    for f32_ir, int8_ir, samples in zip(IR_FILES["f32"], IR_FILES["int8"], (images, codes), strict=True):
        model = ov.Core().read_model(str(model_dir / f32_ir))
        quantized = nncf.quantize(model, nncf.Dataset(samples), subset_size=len(samples))
        ov.save_model(quantized, str(model_dir / int8_ir), compress_to_fp16=False)
