"""The settings sweep's grid: every axis is a plain setting (the stylegan knobs too, conf's [stylegan])."""

from __future__ import annotations

import pytest

from benchmarks.sweep import grid_settings


def test_each_combination_changes_only_the_named_settings(settings):
    combos = grid_settings(settings, ["stylegan.mask_width=1.7,1.9", "cloak.steps=3",
                                      "stylegan.poisson=false"])
    assert [combo for combo, _ in combos] == [
        {"stylegan.mask_width": "1.7", "cloak.steps": "3", "stylegan.poisson": "false"},
        {"stylegan.mask_width": "1.9", "cloak.steps": "3", "stylegan.poisson": "false"}]
    for (_, current), width in zip(combos, (1.7, 1.9), strict=True):
        assert current.cloak.steps == 3 and current.stylegan.mask_width == width
        assert current.stylegan.poisson is False and current.stylegan.model == settings.stylegan.model
    assert settings.stylegan.poisson is True  # the settings passed in are left alone


def test_an_unknown_setting_is_refused(settings):
    with pytest.raises(ValueError, match="stylegan.mask_colour"):
        grid_settings(settings, ["stylegan.mask_colour=1"])
