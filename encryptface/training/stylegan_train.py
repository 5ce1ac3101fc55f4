"""Train the stylegan generator's small parts (seeded; ~15 minutes on 2 CPU cores for 3,000 renders).

render a bank of synthetic faces -> fit encoder, pose model, eyewear and beard edits and appearance
match -> read the looked-at LFW tuning faces -> fit the demographic match -> write the model
directory: ``config.json``, ``styles.npz``, ``eyewear.npz``, ``beard.npz``, ``appearance.npz``,
``demographics.npz``, ``mouth.npz``,
``samples.png`` (stand-ins of rendered test faces) and ``MODEL_CARD.md``. The only photos of real
people used are the labelled faces, for the demographic match's photo reader; everything else is
fitted on the generator's own output.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from encryptface.config import Settings, resolve_repo_path
from encryptface.faces.alignment import Aligner
from encryptface.faces.demographics import read_labels
from encryptface.faces.detection import Face
from encryptface.faces.recognition import DlibRecognizer
from encryptface.generators import GENERATORS
from encryptface.imaging.plots import image_grid, save_png
from encryptface.models.stylegan import LICENCE
from encryptface.models.stylegan_encoder import aligned_descriptor
from encryptface.models.stylegan_generator import (
    APPEARANCE_FILE,
    BEARD_FILE,
    CONFIG_FILE,
    DEMOGRAPHICS_FILE,
    EYEWEAR_FILE,
    FIT_FILE,
    MOUTH_FILE,
    StyleGANConfig,
    StyleGANGenerator,
)
from encryptface.training.data import embed_labelled_faces
from encryptface.training.stylegan_bank import load_bank, render_bank
from encryptface.training.stylegan_fit import (
    fit_appearance,
    fit_beard,
    fit_demographics,
    fit_eyewear,
    fit_mouth,
    fit_styles,
)

log = logging.getLogger(__name__)


def bank_folder(settings: Settings) -> Path:
    """The cache folder of the rendered bank (its name carries what changes the samples)."""
    training = settings.stylegan_training
    alignment = settings.alignment
    name = (f"bank-seed{training.seed}-trunc{training.bank_truncation:g}-chunk{training.chunk}"
            f"-crop{alignment.crop_size}-scale{alignment.face_scale:g}")
    return resolve_repo_path(training.cache) / name


def train_stylegan(settings: Settings, output: Path, threads: int = 0) -> dict:
    """Render (or resume) the bank, fit, write the model directory; returns the measured numbers."""
    training = settings.stylegan_training
    started = time.perf_counter()
    folder = bank_folder(settings)
    render_bank(settings, folder, max(training.samples, training.appearance_samples), training.seed,
                training.bank_truncation, training.chunk, threads)
    # the encoder, pose model and eyewear edit on the first `samples`; the appearance match on
    # the first `appearance_samples` (the rarer groups need more renders)
    bank = load_bank(folder, training.samples, training.chunk)
    rendered = time.perf_counter() - started
    aligner = Aligner(settings.alignment)
    fit, metrics = fit_styles(bank, aligner, training.components, training.encoder_alpha,
                              training.pose_alpha, training.attributes)
    eyewear, eyewear_metrics = fit_eyewear(bank, aligner, fit, training.bank_truncation)
    metrics.update(eyewear_metrics)
    beard, beard_metrics = fit_beard(bank, fit, eyewear, training.bank_truncation)
    metrics.update(beard_metrics)
    appearance_bank = load_bank(folder, training.appearance_samples, training.chunk)
    appearance, appearance_metrics = fit_appearance(appearance_bank, training.appearance_components,
                                                    training.appearance_alpha)
    metrics.update(appearance_metrics)
    labels = labelled_faces(training.demographic_faces)
    descriptors = describe_labelled_faces(settings, aligner, labels, folder.parent)
    demographics, demographic_metrics = fit_demographics(appearance_bank, descriptors, labels,
                                                         training.demographic_l2)
    metrics.update(demographic_metrics)
    mouth, mouth_metrics = fit_mouth(appearance_bank, aligner, training.mouth_open_threshold,
                                     training.mouth_l2)
    metrics.update(mouth_metrics)
    output.mkdir(parents=True, exist_ok=True)
    fit.save(output / FIT_FILE)
    eyewear.save(output / EYEWEAR_FILE)
    if beard is not None:   # without it bearded faces are sealed
        beard.save(output / BEARD_FILE)
    appearance.save(output / APPEARANCE_FILE)
    demographics.save(output / DEMOGRAPHICS_FILE)
    mouth.save(output / MOUTH_FILE)
    digest = fit.fingerprint()
    # what was fitted; how to render is conf's [stylegan]
    config = StyleGANConfig(
        model_id=f"{GENERATORS['stylegan'].id_prefix}ffhq-enc{training.components}-{digest}",
        crop_size=settings.alignment.crop_size, face_scale=settings.alignment.face_scale)
    (output / CONFIG_FILE).write_text(json.dumps(dataclasses.asdict(config), indent=2))
    generator = StyleGANGenerator(output, settings.stylegan, settings.detection, threads)
    metrics.update(bank_faces_with_detection=f"{len(bank['w'])}/{training.samples}",
                   render_seconds=round(rendered, 1),
                   training_seconds=round(time.perf_counter() - started, 1))
    save_png(output / "samples.png", sample_sheet(generator, aligner, bank, training.seed))
    write_model_card(output, config, training, metrics)
    return metrics


def labelled_faces(count: int) -> list[dict[str, str]]:
    """The looked-at faces the demographic match learns from: all, or ``count`` spread evenly
    over the file (it is sampled in blocks: darkest faces first, then East Asian names, ...)."""
    rows = read_labels()
    if count <= 0 or count >= len(rows):
        return rows
    return [rows[int(i)] for i in np.linspace(0, len(rows) - 1, count)]


def describe_labelled_faces(settings: Settings, aligner: Aligner, rows: list[dict[str, str]],
                            cache: Path) -> np.ndarray:
    """dlib descriptors (N, 128) of the labelled photos' central faces, read as the generator
    reads a photo (NaN where no face is found); cached under ``cache``."""
    def make_describer() -> Callable[[np.ndarray, Face], np.ndarray]:
        describer = DlibRecognizer()
        return lambda rgb, face: aligned_descriptor(describer, aligner.align(rgb, face), face.landmarks)

    path = cache / (f"labelled-faces-crop{settings.alignment.crop_size}"
                    f"-scale{settings.alignment.face_scale:g}.npz")
    return embed_labelled_faces(settings, rows, path, 128, make_describer)


def sample_sheet(generator: StyleGANGenerator, aligner: Aligner, bank: dict[str, np.ndarray],
                 seed: int, count: int = 6) -> np.ndarray:
    """A picture: rendered bank faces (held out of nothing: they are synthetic) and, beside each,
    stand-ins for two keys, as `encrypt` would paste them."""
    from encryptface.faces.detection import Face

    rng = np.random.default_rng(seed)
    tiles = []
    for index in rng.choice(len(bank["w"]), min(count, len(bank["w"])), replace=False):
        photo = generator.network.render(bank["w"][index])
        landmarks = bank["landmarks"][index]
        aligned = aligner.align(photo, Face((0, 0, 0, 0), landmarks, 1.0))
        row = [photo]
        for key in (rng.bytes(32), rng.bytes(32)):
            stand_in = generator.stand_in(photo, landmarks, generator.styles_for(aligned, landmarks, key))
            out = photo.copy()
            if stand_in is not None:
                out[stand_in.region.slices] = stand_in.pixels
            row.append(out)
        tiles += [tile[::2, ::2] for tile in row]
    return image_grid(tiles, columns=3)


def write_model_card(output: Path, config: StyleGANConfig, training: object, metrics: dict) -> None:
    """MODEL_CARD.md: what the model is, its data, settings, measured numbers and licences."""
    lines = [f"# {config.model_id}", "",
             "Stand-in face generator for EncryptFace's `encrypt` mode (`encrypt.generator = "
             "\"stylegan\"`): MobileStyleGAN (FFHQ) from the `random-face` package, run by OpenVINO "
             "with one style per layer and cut at its 512 px output, plus the small parts fitted "
             "here: a ridge encoder from the 32 px aligned crop (PCA) to a style, a linear pose "
             "model (style -> landmarks in the aligned crop) and the principal directions along "
             "which the key's synthetic person is matched to the photo (sex, age range, "
             "colouring), plus a glasses direction (`eyewear.npz`: the key's person gets "
             "no glasses where the photo's face has none), a beard direction (`beard.npz`: a "
             "bearded face gets a bearded person) and the demographic match "
             "(`demographics.npz`: logistic regressions that read perceived appearance group, sex "
             "and age range from a dlib descriptor and from a style; the key's person is of the "
             "photo's classes).", "",
             "## Data", "",
             "The encoder, pose model, directions and the style readers: only faces the StyleGAN "
             "renders itself (seeded codes, truncated styles, each render detected and aligned by "
             "the project's aligner). The demographic match's photo reader: dlib descriptors of "
             "the looked-at LFW tuning-split faces of `encryptface/weights/labels/attribute_labels.csv` "
             "(one person's coarse perceived-appearance labels; LFW: research use, no licence "
             "granted). No validation-split face.", "",
             "## Settings", "", "```json", json.dumps(dataclasses.asdict(training), indent=2), "```", "",
             "## Measured (this training run)", "", "```json", json.dumps(metrics, indent=2), "```", "",
             "`samples.png`: rendered faces and the stand-ins two keys give them.", "",
             "## Licences", "",
             f"- {LICENCE}. The `random-face` package code is Apache-2.0. The fitted arrays here "
             "are derived from that generator's output and inherit its non-commercial terms.",
             "- YuNet / SCRFD (detection of the renders and labelled faces): Apache-2.0 / "
             "non-commercial (the project's detection settings decide).",
             "- dlib ResNet face descriptor (`face_recognition_models`): CC0.",
             "- LFW (the labelled faces the photo reader of `demographics.npz` learns from): "
             "research use, no licence granted.",
             "- Permissive alternative: `encrypt.generator = \"prior\"` (TAEF2, MIT).", "",
             "Reproduce: `encryptface train-stylegan` (seeded; settings in conf/default.toml "
             "[stylegan_training]).", ""]
    (output / "MODEL_CARD.md").write_text("\n".join(lines))
