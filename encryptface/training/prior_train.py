"""Train the prior generator on LFW train identities (seeded, minutes on 2 CPU cores):
``encryptface train-prior``.

Writes a model directory: config.json, prior.npz + flow.pt, OpenVINO IR of the TAEF2 autoencoder
(f32 as exported, and int8 quantized by NNCF on fit faces), samples.png (a grid of generated
faces), loss.png, history.json and MODEL_CARD.md.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from encryptface.config import PriorTrainingSettings, Settings, resolve_repo_path
from encryptface.crypto.keyed import KeyedShuffle
from encryptface.faces.detection import FaceDetector
from encryptface.imaging.metrics import sharpness
from encryptface.imaging.plots import image_grid, line_chart, save_png
from encryptface.models.autoencoder import Autoencoder, export_openvino, quantize_openvino
from encryptface.models.base import CONFIG_FILE
from encryptface.models.prior import FacePrior
from encryptface.models.prior_generator import PriorGenerator
from encryptface.training.data import (
    central_face_crops,
    identities,
    identity_images,
    identity_split,
)
from encryptface.training.prior import fit_prior

log = logging.getLogger(__name__)


def train_prior(settings: Settings, output: Path) -> dict:
    """Run the whole training; returns the metrics written to the model card."""
    training = settings.prior_training
    torch.manual_seed(training.seed)
    started = time.perf_counter()
    data = resolve_repo_path(training.data)
    fit_ids, _evaluation_ids = identity_split(identities(data), training.validation_fraction)
    fit_ids, stop_ids = identity_split(fit_ids, training.early_stopping_fraction,
                                       salt="encryptface-early-stop-v1")
    output.mkdir(parents=True, exist_ok=True)
    autoencoder_dir = output / "taef2"
    if not autoencoder_dir.exists():  # the model directory is self-contained
        shutil.copytree(resolve_repo_path(training.autoencoder), autoencoder_dir)
    config = {"model_id": f"lfw-taef2-pca{training.components}-flow{training.flow_dim}",
              "autoencoder": "taef2", "crop_size": settings.alignment.crop_size,
              "face_scale": settings.alignment.face_scale}
    (output / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    export_openvino(output, settings.alignment.crop_size)
    log.info("exported OpenVINO IR (%.0fs)", time.perf_counter() - started)

    encoder = Autoencoder(output, settings.alignment.crop_size, "openvino")
    latents = {}
    for name, ids in (("fit", fit_ids), ("early_stop", stop_ids)):
        crops, _ = central_face_crops(identity_images(data, ids), settings)
        latents[name] = np.concatenate([encoder.encode(crops[i:i + 64]) for i in range(0, len(crops), 64)])
        log.info("%s: %d identities, %d faces encoded (%.0fs)", name, len(ids), len(crops),
                 time.perf_counter() - started)
        if name == "fit":
            real_crops = crops[:64]
            rng = np.random.default_rng(training.seed)
            calibration = crops[rng.permutation(len(crops))[:training.quantize_faces]]
    prior, history = fit_prior(latents["fit"], latents["early_stop"], training)
    prior.save(output)
    config["model_id"] += f"-{FacePrior.load(output).fingerprint()}"  # records name the exact fit
    (output / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    (output / "history.json").write_text(json.dumps(history))
    save_png(output / "loss.png", line_chart(history["step"], {"train NLL": history["train_nll"],
                                                               "early-stop NLL": history["val_nll"]},
                                             "flow negative log-likelihood per dimension (nats)"))
    if training.quantize_faces:
        generated = generated_latents(PriorGenerator(output, "torch"), latents["fit"], len(calibration),
                                      np.random.default_rng(training.seed + 1))
        quantize_openvino(output, calibration, np.concatenate([encoder.encode(calibration), generated]))
        log.info("int8 IR calibrated on %d faces (%.0fs)", len(calibration), time.perf_counter() - started)
    metrics = sample_metrics(settings, output, latents["fit"], real_crops, training.seed)
    metrics.update(fit_identities=len(fit_ids), fit_faces=len(latents["fit"]),
                   early_stop_identities=len(stop_ids), best_early_stop_nll=min(history["val_nll"]),
                   training_seconds=round(time.perf_counter() - started, 1))
    write_model_card(output, config, training, metrics)
    return metrics


def generated_latents(generator: PriorGenerator, fit_latents: np.ndarray, count: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Autoencoder latents of ``count`` faces the way `encrypt` generates them: z ~ N(0, I) and a
    keyed shuffle of a training face's residual."""
    z = rng.standard_normal((count, generator.prior.latent_dim)).astype(np.float32)
    _, residuals = generator.prior.to_gaussian(
        fit_latents[rng.choice(len(fit_latents), count, replace=len(fit_latents) < count)].reshape(count, -1))
    shuffled = np.concatenate([KeyedShuffle(rng.bytes(16), residuals.shape[1]).apply(r[None])
                               for r in residuals])
    latents = generator.prior.from_gaussian(z, generator.prior.outside_subspace(shuffled))
    return latents.reshape((count,) + generator.autoencoder.latent_shape)


def sample_metrics(settings: Settings, output: Path, fit_latents: np.ndarray, real_crops: np.ndarray,
                   seed: int, count: int = 64) -> dict:
    """Decode ``count`` prior samples the way `encrypt` shows faces (z ~ N(0, I), a shuffled
    residual of a training face) on the configured engine and measure them; saves samples.png."""
    precision = settings.encrypt.precision if settings.prior_training.quantize_faces else "f32"
    generator = PriorGenerator(output, "openvino", precision=precision)
    latents = generated_latents(generator, fit_latents, count, np.random.default_rng(seed))
    samples = generator.autoencoder.decode(latents)
    save_png(output / "samples.png", image_grid(list(samples), columns=8))
    detector = FaceDetector(settings.detection)
    detected = sum(bool(detector.detect(cv2.resize(s, (256, 256)))) for s in samples)
    generated = float(np.mean([sharpness(s) for s in samples]))
    real = float(np.mean([sharpness(c) for c in real_crops]))
    return {"samples_detected_by_yunet": f"{detected}/{count}",
            "sample_sharpness": round(generated, 1), "real_sharpness": round(real, 1),
            "sharpness_ratio": round(generated / real, 3)}


PRIOR_FIELDS = ("components", "flow_dim", "flow_layers", "flow_hidden", "steps", "batch_size",
                "learning_rate", "seed")


def write_model_card(output: Path, config: dict, prior: PriorTrainingSettings, metrics: dict) -> None:
    """MODEL_CARD.md: what the model is, its data, settings, measured samples and licences."""
    fit_settings = {name: getattr(prior, name) for name in PRIOR_FIELDS}
    lines = [f"# {config['model_id']}", "",
             "Exactly invertible face prior for EncryptFace's `encrypt` mode: TAEF2 latents of "
             f"{config['crop_size']}px aligned faces (face_scale {config['face_scale']}) -> PCA "
             f"whitening ({prior.components} components) -> RealNVP coupling flow over the first "
             f"{prior.flow_dim} coefficients; the residual outside the PCA subspace is kept exactly.",
             "", "## Data", "",
             "LFW deep-funneled, View 1 training people (`../shared/data/lfw/train`), minus an "
             "identity-disjoint evaluation split (salted hash of the name, 10%) and an early-stopping "
             "split (5% of the rest). One aligned face per photo (the face nearest the centre).",
             "", "## Settings", "", "```json", json.dumps(fit_settings, indent=2), "```",
             "", "## Measured (this training run)", "", "```json", json.dumps(metrics, indent=2), "```",
             "", "Pictures: `samples.png` (prior samples as `encrypt` renders them, on the int8 IR when "
             "there is one), `loss.png`.", "",
             "Engines: `encoder.xml`/`decoder.xml` (OpenVINO IR, f32 as converted), `encoder_int8.xml`/"
             "`decoder_int8.xml` (NNCF post-training int8, calibrated on fit faces and keyed latents), "
             "`taef2/` (torch). The int8 decoder's rounding adds fine noise, which raises the "
             "Laplacian-variance sharpness above it by itself (f32 samples: compare `encrypt.precision`).",
             "", "## Licences", "",
             "- TAEF2 autoencoder weights (`taef2/`): MIT, madebyollin/taesd (LICENSE beside them).",
             "- The fitted prior (`prior.npz`, `flow.pt`) is derived from LFW, a research benchmark of "
             "news photos with no licence granted. It holds summary statistics (mean, principal "
             "components, a small flow), not photos; review the terms that apply to you before "
             "commercial use.", "",
             "Reproduce: `encryptface train-prior` (seeded; settings in conf/default.toml "
             "[prior_training]).", ""]
    (output / "MODEL_CARD.md").write_text("\n".join(lines))
