"""The settings sweep's grid: plain settings and the stylegan model's own config.json."""

from __future__ import annotations

import json

import pytest

from benchmarks.sweep import grid_settings
from encryptface.config import resolve_weight


def test_a_stylegan_axis_gets_its_own_model_copy_and_plain_axes_change_the_settings(settings, tmp_path):
    combos = grid_settings(settings, ["stylegan.mask_width=1.7,1.9", "cloak.steps=3",
                                      "stylegan.poisson=false"], tmp_path)
    assert [combo for combo, _ in combos] == [
        {"stylegan.mask_width": "1.7", "cloak.steps": "3", "stylegan.poisson": "false"},
        {"stylegan.mask_width": "1.9", "cloak.steps": "3", "stylegan.poisson": "false"}]
    shipped = json.loads((resolve_weight(settings.encrypt.stylegan_model) / "config.json").read_text())
    for (_, current), width in zip(combos, (1.7, 1.9)):
        assert current.cloak.steps == 3 and current.encrypt.generator == "stylegan"
        config = json.loads((resolve_weight(current.encrypt.stylegan_model) / "config.json").read_text())
        assert config == {**shipped, "mask_width": width, "poisson": False}
    assert settings.encrypt.stylegan_model == "stylegan"  # the settings passed in are left alone


def test_an_unknown_stylegan_key_is_refused(settings, tmp_path):
    with pytest.raises(ValueError, match="stylegan.mask_colour"):
        grid_settings(settings, ["stylegan.mask_colour=1"], tmp_path)
