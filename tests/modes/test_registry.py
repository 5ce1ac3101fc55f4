"""The mode registry: one place that says which mode is which class and what it can do."""

import dataclasses

import pytest

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


def test_only_encrypt_restores_from_pixels_and_only_stylegan_renders_decoys():
    assert [n for n in MODE_NAMES if mode_class(n).restores_from_pixels] == ["encrypt"]
    assert mode_class("encrypt", "stylegan").renders_decoys and not mode_class("encrypt").renders_decoys


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
