"""The diffusers plug-in with a tiny UNet saved by the test (untrained: checks the plumbing)."""

import dataclasses
import json

import numpy as np
import pytest

from encryptface.config import SAMPLES_DIR
from encryptface.crypto.keys import KeyRing, Password
from encryptface.imaging.codecs import decode_encoded
from encryptface.pipeline.restorer import Restorer
from encryptface.pipeline.scrubber import Scrubber


@pytest.fixture(scope="module")
def settings(settings):
    """This file tests the prior generator's family (encrypt.generator = "prior")."""
    return settings.replace(encrypt=dataclasses.replace(settings.encrypt, generator="prior"))


@pytest.fixture(scope="module")
def tiny_diffusers_model(tmp_path_factory, settings):
    import torch
    from diffusers import DDIMScheduler, UNet2DModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("diffusers-model")
    UNet2DModel(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(16, 32),
                layers_per_block=1, norm_num_groups=8,
                down_block_types=("DownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "UpBlock2D")).save_pretrained(folder / "unet")
    DDIMScheduler(num_train_timesteps=1000).save_pretrained(folder / "scheduler")
    (folder / "config.json").write_text(json.dumps({
        "model_id": "tiny-test-unet", "crop_size": settings.alignment.crop_size,
        "face_scale": settings.alignment.face_scale, "steps": 4, "space": "pixel"}))
    return folder


def test_encrypt_mode_runs_through_a_local_diffusers_model(tiny_diffusers_model, settings, master_key):
    import dataclasses

    plugged = settings.replace(encrypt=dataclasses.replace(
        settings.encrypt, prior_model=f"diffusers:{tiny_diffusers_model}"))
    scrubber = Scrubber(plugged, "encrypt")
    assert scrubber.mode.generator.latent_dim == 3 * 32 * 32
    row = scrubber.scrub("x", "x.jpg", (SAMPLES_DIR / "obama2.jpg").read_bytes(), master_key)
    assert row["status"] == "ok"
    assert row["faces"][0]["model_id"].endswith("diffusers-tiny-test-unet/permuted/torch")
    # the stored latent is x_T rotated under the key: 3072 float16 values after the header
    assert len(row["faces"][0]["encrypted_latent"]) > 3072 * 2
    right, _ = Restorer(plugged).restore(row, KeyRing(Password(b"correct horse battery staple 7f3a")))
    wrong, _ = Restorer(plugged).restore(row, KeyRing(Password(b"not it")), decoys=True)
    protected = decode_encoded(row["deidentified_image"])
    x, y, w, h = (int(v) for v in row["faces"][0]["bbox"])
    box = (slice(y, y + h), slice(x, x + w))
    # the keyed sampler produced a face region different from both the right and a wrong restore
    assert np.abs(right[box].astype(int) - wrong[box].astype(int)).mean() > 1.0
    assert np.abs(right[box].astype(int) - protected[box].astype(int)).mean() > 1.0
