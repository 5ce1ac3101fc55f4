"""The mode registry: one place that says which mode is which class and what it can do."""

import dataclasses
import json
from typing import get_args

import pytest

from encryptface.config import load_settings, resolve_weight
from encryptface.generators import GENERATORS, GeneratorName, generator_of_model
from encryptface.modes import (
    MODE_NAMES,
    create_mode,
    is_reversible,
    mode_class,
    record_settings,
    reversible_modes,
)
from encryptface.modes.base import ProtectionMode


def test_every_mode_name_is_a_protection_mode_class_named_like_it():
    for name in MODE_NAMES:
        cls = mode_class(name)
        assert issubclass(cls, ProtectionMode) and cls.name == name
    assert mode_class("encrypt", "stylegan").name == "encrypt"


def test_reversibility_comes_from_the_classes():
    assert reversible_modes() == ("encrypt", "seal")
    assert not is_reversible("cloak") and is_reversible("seal")


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="encrypt, seal, cloak"):
        mode_class("blur")
    with pytest.raises(ValueError, match="prior, stylegan"):
        mode_class("encrypt", "gan")


def test_only_encrypt_restores_from_pixels_and_only_its_generators_render_decoys():
    assert [n for n in MODE_NAMES if mode_class(n).restores_from_pixels] == ["encrypt"]
    assert all(mode_class("encrypt", g).renders_decoys for g in GENERATORS)
    assert not any(mode_class(n).renders_decoys for n in MODE_NAMES if n != "encrypt")


def test_record_settings_picks_the_generator_a_record_names(settings):
    stylegan_record = "yunet+mobilestylegan-ffhq-enc128-x/sealed"
    assert record_settings(settings, "encrypt", stylegan_record).encrypt.generator == "stylegan"
    stylegan = settings.replace(encrypt=dataclasses.replace(settings.encrypt, generator="stylegan"))
    assert record_settings(stylegan, "encrypt", "yunet+lfw-taef2-x/permuted/openvino").encrypt.generator \
        == "prior"
    assert record_settings(stylegan, "seal", "yunet+seal/pixelate-8/aes-256-gcm") is stylegan


def test_create_mode_builds_seal_without_loading_models(settings):
    mode = create_mode("seal", settings)
    assert mode.name == "seal" and mode.reversible and mode.model_id.startswith("seal/")


def test_each_generator_row_names_a_mode_class_its_settings_and_its_command():
    from jobs.cli import COMMANDS

    settings = load_settings(environ={})
    for row in GENERATORS.values():
        cls = mode_class("encrypt", row.name)
        assert issubclass(cls, ProtectionMode) and cls.name == "encrypt" and cls.generator_name == row.name
        assert row.model_folder(settings)
        assert row.min_face(settings) > 0   # faces under it are sealed by the scrubber
        assert hasattr(settings, row.training_section) and row.train_command in COMMANDS
        assert row.licence
    assert tuple(GENERATORS) == get_args(GeneratorName)  # what encrypt.generator accepts


def test_shipped_models_map_back_to_their_generator_by_id(settings):
    for row in GENERATORS.values():
        folder = resolve_weight(row.model_folder(settings))
        model_id = json.loads((folder / "config.json").read_text())["model_id"]
        assert generator_of_model(model_id) is row
    assert generator_of_model("diffusers-anything").name == "prior"  # the prior's interface


def test_only_generators_that_run_there_are_offered_on_orca():
    assert [g.name for g in GENERATORS.values() if g.runs_on_orca] == ["prior", "stylegan"]
    assert [g.name for g in GENERATORS.values() if g.non_commercial] == ["stylegan"]


def test_a_record_of_another_model_is_refused_by_the_base_check():
    class Fake(ProtectionMode):
        name, model_id = "encrypt", "x"
        generator_name, generator_model_id = "stylegan", "mobilestylegan-a"
        from_settings = protect = restore = None  # never called

    fake = object.__new__(Fake)
    fake.check_record("yunet+mobilestylegan-a/sealed")
    with pytest.raises(ValueError, match="stylegan.model"):
        fake.check_record("yunet+mobilestylegan-b/sealed")
    mode_without_model = object.__new__(mode_class("seal"))
    mode_without_model.check_record("anything")
