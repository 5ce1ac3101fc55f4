"""The prior's training job (`encryptface train-prior`) end to end with tiny settings on a few
real LFW identities."""

import json

import numpy as np
from conftest import LFW_TRAIN, SHARED

from encryptface.config import load_settings
from encryptface.models.prior_generator import PriorGenerator
from encryptface.training.prior_train import train_prior


def test_tiny_training_run_writes_a_loadable_model(tmp_path):
    data = tmp_path / "lfw"
    data.mkdir()
    for folder in sorted(LFW_TRAIN.iterdir())[:40]:
        (data / folder.name).symlink_to(folder)
    settings = load_settings(overrides=[
        f"prior_training.data='{data}'", f"prior_training.autoencoder='{SHARED / 'weights' / 'taef2'}'",
        "prior_training.components=16", "prior_training.flow_dim=8", "prior_training.flow_layers=2",
        "prior_training.flow_hidden=16", "prior_training.steps=100",
        "prior_training.early_stopping_fraction=0.2", "prior_training.quantize_faces=12"])
    output = tmp_path / "model"
    metrics = train_prior(settings, output)
    for name in ("config.json", "prior.npz", "flow.pt", "encoder.xml", "decoder.xml", "encoder_int8.xml",
                 "decoder_int8.xml", "samples.png",
                 "loss.png", "MODEL_CARD.md", "taef2/taef2_decoder.pth"):
        assert (output / name).is_file(), name
    assert metrics["fit_faces"] > 20 and metrics["early_stop_identities"] > 0
    assert json.loads((output / "config.json").read_text())["crop_size"] == settings.alignment.crop_size
    generator = PriorGenerator(output, "openvino")
    assert generator.autoencoder.backend == "openvino" and generator.prior.latent_dim == 16
    assert PriorGenerator(output, "openvino", precision="int8").precision == "int8"
    face = generator.gaussian_to_face(np.zeros((1, 16), np.float32),
                                      np.zeros((1, generator.prior.mean.shape[0]), np.float32))
    assert face.shape == (1, 128, 128, 3) and face.std() > 5  # the mean face, not a blank
    assert "Measured" in (output / "MODEL_CARD.md").read_text()
