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
from typing import Any, Literal, get_args, get_origin, get_type_hints

from encryptface.generators import GeneratorName

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PACKAGE_DIR / "weights"
SAMPLES_DIR = PACKAGE_DIR / "samples"
DEFAULT_CONF = PACKAGE_DIR / "conf" / "default.toml"
ENV_PREFIX = "ENCRYPTFACE__"

# The allowed values of the enumerated settings. The code that consumes a setting reads its choices
# from here (``typing.get_args``), so a value is refused once, on the driver, when it is loaded.
OutputFormat = Literal["jpeg", "png"]
RetryMode = Literal["legacy", "standard", "adaptive"]  # botocore's retry modes
Backend = Literal["openvino", "torch"]
Precision = Literal["int8", "f32"]
Residual = Literal["permuted", "sealed"]
PerformanceHint = Literal["LATENCY", "THROUGHPUT"]
CloakMethod = Literal["pgd", "pgd-targeted", "tip-im"]
CloakNorm = Literal["l2", "linf"]
SurrogateName = Literal["facenet", "mobilefacenet", "arcface"]  # differentiable recognisers
PersonMask = Literal["off", "keep", "fill"]  # stylegan paste: what a background pixel gets
DetectorName = Literal["yunet_n", "yunet_s", "scrfd_500m"]  # encryptface.faces.detectors
LandmarkSource = Literal[DetectorName, "same"]  # "same": the landmarks of the finding network
KdfAlgorithm = Literal["scrypt"]
MatchScore = Literal["fusion", "dlib"]  # encryptface.faces.matching: dlib + ArcFace, or dlib alone
MIN_SCRYPT_N_LOG2 = 14  # below this scrypt is too cheap to slow a password guesser
# Sections and settings that were renamed (#30: the prior is named the prior): an old settings file,
# env var or --set using one is refused with the new name, never silently ignored or accepted.
RENAMED_SECTIONS = {"training": "prior_training"}
RENAMED_SETTINGS = {"encrypt.model": "encrypt.prior_model", "encrypt.stylegan_model": "stylegan.model",
                    "encrypt.stylegan_min_face": "stylegan.min_face",
                    # the stylegan scrub-time knobs moved out of the training section (#30)
                    **{f"stylegan_training.{key}": f"stylegan.{key}" for key in (
                        "truncation", "decoy_truncation", "candidates", "transplant_attributes",
                        "coarse_layers", "coarse_from_photo", "identity_layers", "pose_strength",
                        "pose_tolerance", "pose_passes", "mask_above", "mask_below", "mask_width",
                        "feather", "grain", "poisson", "keep_skin_tone", "no_added_eyewear",
                        "agreement", "match_appearance", "appearance_limit", "appearance_tolerance")}}


class SettingsError(ValueError):
    """A setting is unknown, malformed or out of its allowed values; the one-line message names
    the setting, the value, where it came from and what is allowed."""


def _bounds(minimum: float | None = None, maximum: float | None = None, *,
            above: float | None = None) -> Any:
    """A settings field with a numeric range, checked at load (``above``: an exclusive minimum)."""
    return dataclasses.field(metadata={"minimum": minimum, "maximum": maximum, "above": above})


@dataclasses.dataclass(frozen=True)
class StorageSettings:
    extensions: tuple[str, ...]
    endpoint_url: str
    region: str
    retry_mode: RetryMode
    max_attempts: int = _bounds(1)
    list_page_size: int = _bounds(1, 1000)


@dataclasses.dataclass(frozen=True)
class ImageSettings:
    max_bytes: int = _bounds(1)
    max_pixels: int = _bounds(1)
    max_seconds: float = _bounds(0)
    output_format: OutputFormat
    jpeg_quality: int = _bounds(1, 100)


@dataclasses.dataclass(frozen=True)
class DetectionSettings:
    detectors: tuple[DetectorName, ...]
    score_threshold: float = _bounds(0, 1)
    uncertain_threshold: float = _bounds(0, 1)
    large_face: float = _bounds(0)
    large_face_threshold: float = _bounds(0, 1)
    large_face_confirm: float = _bounds(0, 1)
    nms_threshold: float = _bounds(0, 1)
    merge_iou: float = _bounds(0, 1)
    max_side: int = _bounds(64)
    tile_overlap: int = _bounds(0)
    upscale: float = _bounds(1, 4)
    upscale_max_megapixels: float = _bounds(0)
    min_face: int = _bounds(0)
    cover_margin: tuple[float, ...] = _bounds(0, 1)
    landmarks: LandmarkSource

    def __post_init__(self) -> None:
        if not self.detectors:
            raise SettingsError("setting detection.detectors names no detector")
        if self.uncertain_threshold > self.score_threshold:
            raise SettingsError("setting detection.uncertain_threshold must be at most "
                                "detection.score_threshold")
        if self.large_face_threshold > self.score_threshold:
            raise SettingsError("setting detection.large_face_threshold must be at most "
                                "detection.score_threshold")
        if len(self.cover_margin) != 4:
            raise SettingsError("setting detection.cover_margin must be 4 numbers: left, top, "
                                "right, bottom")


@dataclasses.dataclass(frozen=True)
class AlignmentSettings:
    crop_size: int = _bounds(8)
    face_scale: float = _bounds(maximum=1, above=0)
    feather: float = _bounds(0, 0.5)


@dataclasses.dataclass(frozen=True)
class SealSettings:
    pixel_blocks: int = _bounds(1)
    block_shift: float = _bounds(0, 127)


@dataclasses.dataclass(frozen=True)
class EncryptSettings:
    generator: GeneratorName
    decoys: bool
    prior_model: str
    prior_min_face: float = _bounds(0)
    seal_masked: bool
    masked_probability: float = _bounds(0, 1)
    seal_bearded: bool
    bearded_probability: float = _bounds(0, 1)
    backend: Backend
    precision: Precision
    residual: Residual
    performance_hint: PerformanceHint


@dataclasses.dataclass(frozen=True)
class CloakSettings:
    method: CloakMethod
    surrogates: tuple[SurrogateName, ...]
    norm: CloakNorm
    epsilon: float = _bounds(above=0)
    step_size: float = _bounds(above=0)
    steps: int = _bounds(0)
    stop_margin: float
    momentum: float = _bounds(0, 1)
    random_start: bool
    target_weight: float = _bounds(0)
    targets: int = _bounds(0)
    naturalness: float = _bounds(0)
    texture: float = _bounds(0)
    jitter: float = _bounds(0)
    resize_min: float = _bounds(maximum=1, above=0)
    blur: float = _bounds(0)
    views: int = _bounds(1)
    jpeg_quality: int = _bounds(0, 100)
    work_size: int = _bounds(16)
    seed: int


@dataclasses.dataclass(frozen=True)
class KdfSettings:
    algorithm: KdfAlgorithm
    n_log2: int = _bounds(MIN_SCRYPT_N_LOG2)
    r: int = _bounds(1)
    p: int = _bounds(1)


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
    score: MatchScore
    far: float = _bounds(0, 1, above=0)
    far_one_to_one: float = _bounds(0, 1, above=0)


@dataclasses.dataclass(frozen=True)
class SparkSettings:
    master: str
    app_name: str
    images_per_partition: int = _bounds(1)
    batch_size: int = _bounds(1)
    threads_per_task: int = _bounds(0)
    task_cpus: int = _bounds(0)
    max_records_per_file: int = _bounds(0)


@dataclasses.dataclass(frozen=True)
class PriorTrainingSettings:
    data: str
    autoencoder: str
    output: str
    validation_fraction: float = _bounds(0, 1)
    early_stopping_fraction: float = _bounds(0, 1)
    components: int = _bounds(1)
    flow_dim: int = _bounds(1)
    flow_layers: int = _bounds(1)
    flow_hidden: int = _bounds(1)
    steps: int = _bounds(1)
    batch_size: int = _bounds(1)
    learning_rate: float = _bounds(above=0)
    quantize_faces: int = _bounds(0)
    seed: int


@dataclasses.dataclass(frozen=True)
class StyleGANSettings:
    """[stylegan]: the stylegan generator's model and how it renders a stand-in (its scrub-time
    knobs: the model folder's config.json holds only what the training fitted)."""

    model: str
    min_face: float = _bounds(0)
    truncation: float = _bounds(0)
    decoy_truncation: float = _bounds(0)
    candidates: int = _bounds(1)
    transplant_attributes: bool
    decoy_transplant_attributes: bool
    coarse_layers: int = _bounds(0)
    coarse_from_photo: float = _bounds(0, 1)
    identity_layers: int = _bounds(0)
    pose_strength: float
    pose_tolerance: float = _bounds(0)
    pose_passes: int = _bounds(0)
    mask_above: float
    mask_below: float
    mask_width: float
    cover_box: bool
    min_covered: float = _bounds(0, 1)
    feather: float = _bounds(0)
    grain: float = _bounds(0)
    poisson: bool
    keep_skin_tone: bool
    no_added_eyewear: bool
    agreement: float = _bounds(0)
    halo_levels: float = _bounds(0)
    person_mask: PersonMask
    decoy_person_mask: PersonMask
    match_appearance: bool
    appearance_limit: float = _bounds(0)
    appearance_noise: float = _bounds(0)
    appearance_step: float = _bounds(0)
    appearance_tolerance: float = _bounds(0)
    match_demographics: bool
    demographic_pool: int = _bounds(1)
    demographic_certainty: float = _bounds(0.5, 1)
    photo_certainty: float = _bounds(0, 1)
    unclear_group_tolerance: float = _bounds(0, 1)
    stand_in_tries: int = _bounds(1)
    min_identity_distance: float = _bounds(0)
    max_published_landmark_error: float = _bounds(0)
    max_seam: float = _bounds(0)
    no_added_beard: bool
    beard_level: float = _bounds(0)
    mouth_level: float = _bounds(0)
    landmark_warp: float = _bounds(0, 1)
    fit_steps: int = _bounds(0)


@dataclasses.dataclass(frozen=True)
class StyleGANTrainingSettings:
    output: str
    cache: str
    samples: int = _bounds(1)
    chunk: int = _bounds(1)
    seed: int
    bank_truncation: float = _bounds(0)
    components: int = _bounds(1)
    encoder_alpha: float = _bounds(0)
    pose_alpha: float = _bounds(0)
    attributes: int = _bounds(0)
    appearance_components: int = _bounds(1)
    appearance_samples: int = _bounds(1)
    appearance_alpha: float = _bounds(0)
    demographic_faces: int = _bounds(0)
    demographic_l2: float = _bounds(0)
    mouth_open_threshold: float = _bounds(0)
    mouth_l2: float = _bounds(0)


@dataclasses.dataclass(frozen=True)
class Settings:
    storage: StorageSettings
    images: ImageSettings
    detection: DetectionSettings
    alignment: AlignmentSettings
    seal: SealSettings
    encrypt: EncryptSettings
    stylegan: StyleGANSettings
    cloak: CloakSettings
    kdf: KdfSettings
    recognition: RecognitionSettings
    verify: VerifySettings
    spark: SparkSettings
    prior_training: PriorTrainingSettings
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
    then ``section.key=value`` overrides (values parsed as TOML, falling back to a plain string).

    Every value is checked here, once: a setting that is unknown, of the wrong type, not one of its
    allowed values or out of its range raises :class:`SettingsError`."""
    default = default_conf_path()
    data = _read_toml(default)
    _refuse_renamed(data, str(default))  # ENCRYPTFACE_CONF may name a file written before a rename
    origins = {f"{section}.{key}": str(default) for section, values in data.items() for key in values}
    if conf_file:
        _merge(data, _read_toml(Path(conf_file)), str(conf_file), origins)
    environ = os.environ if environ is None else environ
    env_pairs = [(k[len(ENV_PREFIX):].lower().replace("__", "."), v, k)
                 for k, v in environ.items() if k.startswith(ENV_PREFIX)]
    flag_pairs = [(*_split_override(item), "--set") for item in overrides]
    for dotted, raw, origin in env_pairs + flag_pairs:
        section, _, key = dotted.partition(".")
        _merge(data, {section: {key: _parse_value(raw)}}, origin, origins)
    return _build(Settings, data, "", origins)


def resolve_repo_path(path: str) -> Path:
    """Resolve a data path from the settings: absolute as is, relative to the repository root."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else PACKAGE_DIR.parent / candidate


def resolve_weight(path: str) -> Path:
    """Resolve a model path from the settings: absolute as is, relative inside the package."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else WEIGHTS_DIR / candidate


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def parse_bool(value: Any, name: str, origin: str = "") -> bool:
    """A setting's truth value: a bool, 0/1, or true/false/yes/no/on/off/1/0 in any case; anything
    else is a :class:`SettingsError` (``bool("False")`` would be True)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _invalid(name, value, origin, "must be true or false")


def _invalid(name: str, value: Any, origin: str, allowed: str) -> SettingsError:
    where = f" (from {origin})" if origin else ""
    return SettingsError(f"setting {name} = {value!r}{where}: {allowed}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from None


def _split_override(item: str) -> tuple[str, str]:
    dotted, sep, raw = item.partition("=")
    if not sep or "." not in dotted:
        raise SettingsError(f"--set must look like section.key=value, got {item!r}")
    return dotted.strip(), raw.strip()


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _refuse_renamed(data: Mapping[str, Any], origin: str) -> None:
    """A :class:`SettingsError` naming the new name of the first renamed section or setting in
    ``data``."""
    for section, values in data.items():
        if section in RENAMED_SECTIONS:
            raise SettingsError(f"settings section [{section}] (from {origin}) was renamed "
                                f"[{RENAMED_SECTIONS[section]}]")
        for key in values if isinstance(values, Mapping) else ():
            if f"{section}.{key}" in RENAMED_SETTINGS:
                raise SettingsError(f"setting {section}.{key} (from {origin}) was renamed "
                                    f"{RENAMED_SETTINGS[f'{section}.{key}']}")


def _merge(base: dict[str, Any], extra: Mapping[str, Any], origin: str,
           origins: dict[str, str]) -> None:
    _refuse_renamed(extra, origin)
    for section, values in extra.items():
        if section not in base or not isinstance(values, Mapping):
            raise SettingsError(f"unknown settings section {section!r} (from {origin}); "
                                f"sections: {', '.join(base)}")
        for key, value in values.items():
            if key not in base[section]:
                raise SettingsError(f"unknown setting {section}.{key} (from {origin}); "
                                    f"{section} has: {', '.join(base[section])}")
            base[section][key] = value
            origins[f"{section}.{key}"] = origin


def _build(cls: type, data: Mapping[str, Any], where: str, origins: Mapping[str, str]) -> Any:
    hints = get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        name, hint = f"{where}{field.name}", hints[field.name]
        if field.name not in data:
            raise SettingsError(f"missing setting {name}")
        if dataclasses.is_dataclass(hint):
            if not isinstance(data[field.name], Mapping):
                raise SettingsError(f"setting {name} must be a [{name}] section")
            kwargs[field.name] = _build(hint, data[field.name], f"{name}.", origins)
        else:
            kwargs[field.name] = _convert(data[field.name], hint, field.metadata, name,
                                          origins.get(name, ""))
    return cls(**kwargs)


def _convert(value: Any, hint: Any, limits: Mapping[str, Any], name: str, origin: str) -> Any:
    """``value`` as the field's type ``hint``, or a :class:`SettingsError` saying what is allowed."""
    if hint is bool:
        return parse_bool(value, name, origin)
    if get_origin(hint) is Literal:
        choices = get_args(hint)
        if value not in choices:
            raise _invalid(name, value, origin, f"choose one of {', '.join(map(repr, choices))}")
        return value
    if get_origin(hint) is tuple:
        if not isinstance(value, list | tuple):
            raise _invalid(name, value, origin, 'must be a list, e.g. ["a", "b"]')
        item_hint = get_args(hint)[0]
        return tuple(_convert(item, item_hint, limits, name, origin) for item in value)
    if hint is str:
        if isinstance(value, list | dict):
            raise _invalid(name, value, origin, "must be a string")
        return str(value)
    if hint in (int, float):
        number = _number(value, hint, name, origin)
        _check_bounds(number, limits, name, origin)
        return number
    return value


def _number(value: Any, hint: type, name: str, origin: str) -> int | float:
    kind = "an integer" if hint is int else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _invalid(name, value, origin, f"must be {kind}")
    try:
        number = float(value) if hint is float else _integer(value)
    except ValueError:
        raise _invalid(name, value, origin, f"must be {kind}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _invalid(name, value, origin, f"must be {kind}")
    return number


def _integer(value: int | float | str) -> int:
    if isinstance(value, str):
        return int(value.strip())
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
    return int(value)


def _check_bounds(number: float, limits: Mapping[str, Any], name: str, origin: str) -> None:
    minimum, maximum, above = limits.get("minimum"), limits.get("maximum"), limits.get("above")
    low = (f"above {above:g}" if above is not None else
           f"at least {minimum:g}" if minimum is not None else "")
    allowed = " and ".join(filter(None, [low, f"at most {maximum:g}" if maximum is not None else ""]))
    if ((minimum is not None and number < minimum) or (maximum is not None and number > maximum)
            or (above is not None and number <= above)):
        raise _invalid(name, number, origin, f"must be {allowed}")
