"""The generator factory and the contract its products follow."""

import pytest

from encryptface.models import load_generator
from encryptface.models.base import LatentGenerator


def test_the_default_generator_follows_the_contract_and_round_trips(settings):
    import numpy as np

    generator = load_generator(settings.encrypt.prior_model, "openvino")
    assert isinstance(generator, LatentGenerator)
    assert (generator.crop_size, generator.face_scale) == (settings.alignment.crop_size,
                                                          settings.alignment.face_scale)
    crops = np.random.default_rng(0).integers(0, 255, (1, generator.crop_size, generator.crop_size, 3),
                                              dtype=np.uint8)
    z, residual = generator.face_to_gaussian(crops)
    assert z.shape == (1, generator.latent_dim) and residual.shape == (1, generator.residual_dim)
    assert generator.gaussian_to_face(z, residual).shape == crops.shape


def test_a_missing_model_folder_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_generator(str(tmp_path / "nowhere"))
