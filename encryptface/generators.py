"""The encrypt mode's face generators: one row per generator, the one place a generator is named.

Adding a generator is its mode class (beside the others in :mod:`encryptface.modes`), its row here
and its name in :data:`GeneratorName`; the settings, the command line, the restorer and the jobs
read this table. Imports nothing of the project, so that :mod:`encryptface.config` can use it.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, get_args

# The values `encrypt.generator` and `--generator` take (a typed setting: checked at load).
GeneratorName = Literal["prior", "stylegan"]


@dataclasses.dataclass(frozen=True)
class Generator:
    """What the project needs to know about one encrypt generator."""

    name: str
    mode: tuple[str, str]       # (module, class) of its ProtectionMode, imported on first use
    id_prefix: str              # its model ids begin with this; "" = every id no other row claims
    model_setting: str          # the setting ("section.key") naming its model folder (inside
    #                             encryptface/weights/)
    min_face_setting: str       # the setting ("section.key"): faces whose eyes are closer than
    #                             this many pixels are too small for it; the scrubber seals them
    training_section: str       # the settings section its training command reads
    train_command: str          # the `encryptface` command that fits it
    licence: str                # of the weights it runs
    non_commercial: bool        # whether that licence forbids commercial use
    runs_on_orca: bool          # whether the Orca backend's OpenVINO can run it

    def model_folder(self, settings: object) -> str:
        """The value of :attr:`model_setting` in ``settings`` (a :class:`encryptface.config.Settings`)."""
        return _setting(settings, self.model_setting)

    def min_face(self, settings: object) -> float:
        """The value of :attr:`min_face_setting` in ``settings``: the smallest eye distance (px)
        it is given a stand-in face for."""
        return float(_setting(settings, self.min_face_setting))


def _setting(settings: object, name: str) -> object:
    """The value of setting ``name`` ("section.key") in ``settings``."""
    section, _, key = name.partition(".")
    return getattr(getattr(settings, section), key)


GENERATORS: dict[str, Generator] = {g.name: g for g in (
    Generator(
        name="prior",
        mode=("encryptface.modes.encrypt", "EncryptMode"),
        # also models of the prior's interface: another prior folder, diffusers:<dir>
        id_prefix="",
        model_setting="encrypt.prior_model",
        min_face_setting="encrypt.prior_min_face",
        training_section="prior_training",
        train_command="train-prior",
        licence="TAEF2 autoencoder MIT (madebyollin/taesd); the prior fitted here on LFW summary "
                "statistics (see weights/prior/MODEL_CARD.md)",
        non_commercial=False,
        runs_on_orca=True,
    ),
    Generator(
        name="stylegan",
        mode=("encryptface.modes.encrypt_stylegan", "StyleGANEncryptMode"),
        id_prefix="mobilestylegan-",
        model_setting="stylegan.model",
        min_face_setting="stylegan.min_face",
        training_section="stylegan_training",
        train_command="train-stylegan",
        licence="MobileStyleGAN weights distilled from NVIDIA StyleGAN2-FFHQ: non-commercial use only "
                "(NVIDIA Source Code License-NC; FFHQ CC BY-NC-SA 4.0)",
        non_commercial=True,
        # The package's synthesis graph as shipped fails to compile on the Orca environment's
        # OpenVINO 2023.3; encryptface.models.stylegan edits it so that it compiles there and renders
        # the same bits as 2025.3.
        runs_on_orca=True,
    ),
)}
assert tuple(GENERATORS) == get_args(GeneratorName), "GeneratorName and GENERATORS must list the same"


def generator(name: str) -> Generator:
    """The row of generator ``name`` (a ``ValueError`` naming the choices for any other)."""
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; choose from {', '.join(GENERATORS)}")
    return GENERATORS[name]


def generator_of_model(model_id: str) -> Generator:
    """The generator whose models have ids like ``model_id`` (a generator's own model id, the part
    of a record's ``model_id`` that :func:`encryptface.archive.schema.generator_of` returns)."""
    for row in GENERATORS.values():
        if row.id_prefix and model_id.startswith(row.id_prefix):
            return row
    return next(row for row in GENERATORS.values() if not row.id_prefix)


def train_commands() -> dict[str, Generator]:
    """``encryptface`` training command -> the generator it fits."""
    return {row.train_command: row for row in GENERATORS.values()}


__all__ = ["GENERATORS", "Generator", "GeneratorName", "generator", "generator_of_model",
           "train_commands"]
