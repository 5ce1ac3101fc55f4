"""Settings: `conf/default.toml`, overlaid by a user file, environment variables and `--set` flags.

The default file ships inside the package (``encryptface/conf/default.toml`` links to the
repository's ``conf/default.toml``; a wheel holds the file itself), so a plain ``pip install .``
needs nothing else.

The settings are frozen dataclasses so that they can be shipped to Spark executors and used as cache
keys for the models a worker loads once.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, get_type_hints

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PACKAGE_DIR / "weights"
SAMPLES_DIR = PACKAGE_DIR / "samples"
DEFAULT_CONF = PACKAGE_DIR / "conf" / "default.toml"
ENV_PREFIX = "ENCRYPTFACE__"


@dataclasses.dataclass(frozen=True)
class StorageSettings:
    extensions: tuple[str, ...]
    endpoint_url: str
    region: str
    retry_mode: str
    max_attempts: int
    list_page_size: int


@dataclasses.dataclass(frozen=True)
class ImageSettings:
    max_bytes: int
    max_pixels: int
    max_seconds: float
    output_format: str
    jpeg_quality: int


@dataclasses.dataclass(frozen=True)
class DetectionSettings:
    model: str
    score_threshold: float
    nms_threshold: float
    max_side: int
    min_face: int


@dataclasses.dataclass(frozen=True)
class AlignmentSettings:
    crop_size: int
    face_scale: float
    feather: float


@dataclasses.dataclass(frozen=True)
class SealSettings:
    pixel_blocks: int


@dataclasses.dataclass(frozen=True)
class EncryptSettings:
    generator: str
    stylegan_model: str
    stylegan_min_face: float
    decoys: bool
    model: str
    backend: str
    precision: str
    residual: str
    performance_hint: str


@dataclasses.dataclass(frozen=True)
class CloakSettings:
    method: str
    surrogates: tuple[str, ...]
    norm: str
    epsilon: float
    step_size: float
    steps: int
    stop_margin: float
    momentum: float
    random_start: bool
    target_weight: float
    targets: int
    naturalness: float
    texture: float
    jitter: float
    resize_min: float
    blur: float
    views: int
    jpeg_quality: int
    work_size: int
    seed: int


@dataclasses.dataclass(frozen=True)
class KdfSettings:
    algorithm: str
    n_log2: int
    r: int
    p: int


@dataclasses.dataclass(frozen=True)
class RecognitionSettings:
    match_threshold: float
    facenet_threshold: float
    facenet_face_scale: float
    arcface_threshold: float
    mobilefacenet_threshold: float


@dataclasses.dataclass(frozen=True)
class VerifySettings:
    seal_embeddings: bool


@dataclasses.dataclass(frozen=True)
class SparkSettings:
    master: str
    app_name: str
    images_per_partition: int
    batch_size: int
    threads_per_task: int
    task_cpus: int
    max_records_per_file: int


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    data: str
    autoencoder: str
    output: str
    validation_fraction: float
    early_stopping_fraction: float
    components: int
    flow_dim: int
    flow_layers: int
    flow_hidden: int
    steps: int
    batch_size: int
    learning_rate: float
    quantize_faces: int
    seed: int


@dataclasses.dataclass(frozen=True)
class StyleGANTrainingSettings:
    output: str
    cache: str
    samples: int
    chunk: int
    seed: int
    bank_truncation: float
    truncation: float
    decoy_truncation: float
    components: int
    encoder_alpha: float
    pose_alpha: float
    attributes: int
    candidates: int
    transplant_attributes: bool
    coarse_layers: int
    coarse_from_photo: float
    identity_layers: int
    pose_strength: float
    pose_tolerance: float
    pose_passes: int
    mask_above: float
    mask_below: float
    mask_width: float
    feather: float
    grain: float
    poisson: bool
    keep_skin_tone: bool
    no_added_eyewear: bool


@dataclasses.dataclass(frozen=True)
class Settings:
    storage: StorageSettings
    images: ImageSettings
    detection: DetectionSettings
    alignment: AlignmentSettings
    seal: SealSettings
    encrypt: EncryptSettings
    cloak: CloakSettings
    kdf: KdfSettings
    recognition: RecognitionSettings
    verify: VerifySettings
    spark: SparkSettings
    training: TrainingSettings
    stylegan_training: StyleGANTrainingSettings

    def replace(self, **sections: Any) -> Settings:
        """Return a copy with whole sections replaced (e.g. ``kdf=...``)."""
        return dataclasses.replace(self, **sections)


def default_conf_path() -> Path:
    """The default settings file: ``ENCRYPTFACE_CONF``, else the one shipped in the package."""
    env = os.environ.get("ENCRYPTFACE_CONF")
    return Path(env) if env else DEFAULT_CONF


def load_settings(conf_file: str | os.PathLike[str] | None = None,
                  overrides: Iterable[str] = (),
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Load the default file, then ``conf_file``, then ``ENCRYPTFACE__SECTION__KEY`` env vars,
    then ``section.key=value`` overrides (values parsed as TOML, falling back to a plain string)."""
    with open(default_conf_path(), "rb") as fh:
        data = tomllib.load(fh)
    if conf_file:
        with open(conf_file, "rb") as fh:
            _merge(data, tomllib.load(fh), str(conf_file))
    environ = os.environ if environ is None else environ
    env_pairs = [(k[len(ENV_PREFIX):].lower().replace("__", "."), v)
                 for k, v in environ.items() if k.startswith(ENV_PREFIX)]
    flag_pairs = [_split_override(item) for item in overrides]
    for dotted, raw in env_pairs + flag_pairs:
        section, _, key = dotted.partition(".")
        _merge(data, {section: {key: _parse_value(raw)}}, dotted)
    return _build(Settings, data, "")


def resolve_repo_path(path: str) -> Path:
    """Resolve a data path from the settings: absolute as is, relative to the repository root."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else PACKAGE_DIR.parent / candidate


def resolve_weight(path: str) -> Path:
    """Resolve a model path from the settings: absolute as is, relative inside the package."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else WEIGHTS_DIR / candidate


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def parse_bool(value: Any, name: str) -> bool:
    """A setting's truth value: a bool, 0/1, or true/false/yes/no/on/off/1/0 in any case; anything
    else is an error (``bool("False")`` would be True)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"setting {name} must be true or false, not {value!r}")


def _split_override(item: str) -> tuple[str, str]:
    dotted, sep, raw = item.partition("=")
    if not sep or "." not in dotted:
        raise ValueError(f"override must look like section.key=value, got {dotted!r}")
    return dotted.strip(), raw.strip()


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _merge(base: dict[str, Any], extra: Mapping[str, Any], origin: str) -> None:
    for section, values in extra.items():
        if section not in base or not isinstance(values, Mapping):
            raise ValueError(f"unknown settings section {section!r} (from {origin})")
        for key, value in values.items():
            if key not in base[section]:
                raise ValueError(f"unknown setting {section}.{key} (from {origin})")
            base[section][key] = value


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    hints = get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            raise ValueError(f"missing setting {where}{field.name}")
        value, hint = data[field.name], hints[field.name]
        if dataclasses.is_dataclass(hint):
            value = _build(hint, value, f"{where}{field.name}.")
        elif hint is float:
            value = float(value)
        elif hint is bool:
            value = parse_bool(value, f"{where}{field.name}")
        elif hint is int:
            value = int(value)
        elif hint is str:
            value = str(value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[field.name] = value
    return cls(**kwargs)
