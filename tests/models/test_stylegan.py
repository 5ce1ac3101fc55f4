"""The MobileStyleGAN network from the installed `random-face` package, edited per layer."""

import cv2
import numpy as np
import pytest

from encryptface.imaging.metrics import psnr
from encryptface.models.stylegan import LAYERS, RENDER_SIZE, STYLE_DIM, StyleGAN, package_data_dir


@pytest.fixture(scope="module")
def network():
    return StyleGAN(threads=2)


def test_the_512_cut_is_the_full_graphs_image_downscaled(network):
    import openvino as ov

    style = network.map(np.random.default_rng(1).standard_normal((1, STYLE_DIM)))
    full = ov.Core().compile_model(str(package_data_dir() / "SynthesisNetwork.xml"), "CPU")(style)[0][0]
    full_rgb = np.clip((full.transpose(1, 2, 0) + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    ours = network.render(style[0])
    assert ours.shape == (RENDER_SIZE, RENDER_SIZE, 3) and ours.dtype == np.uint8
    reference = cv2.resize(full_rgb, (RENDER_SIZE, RENDER_SIZE), interpolation=cv2.INTER_AREA)
    assert psnr(reference, ours) > 38


def test_the_edited_graph_renders_the_package_graphs_bits(network):
    """Per-layer styles, the 512 cut and the learned input fed as an input (for OpenVINO 2023.3)
    change no bit of what this OpenVINO computes from the graph as shipped."""
    import openvino as ov

    from encryptface.models.stylegan import _LOW_BAND

    shipped = ov.Core().read_model(str(package_data_dir() / "SynthesisNetwork.xml"))
    low_band = next(op for op in shipped.get_ordered_ops() if op.get_friendly_name() == _LOW_BAND)
    shipped = ov.Model([low_band.output(0)], shipped.get_parameters())
    compiled = ov.Core().compile_model(shipped, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    for style in network.map(np.random.default_rng(4).standard_normal((2, STYLE_DIM))):
        image = (compiled(style[None])[0][0].transpose(1, 2, 0) * 0.5 + 1.0) * 127.5
        assert np.array_equal(network.render(style), np.clip(image + 0.5, 0, 255).astype(np.uint8))


def test_layers_take_separate_styles(network):
    a, b = network.map(np.random.default_rng(2).standard_normal((2, STYLE_DIM)))
    only_a = network.render(a)
    assert np.array_equal(only_a, network.render(np.repeat(a[None], LAYERS, 0)))
    mixed = np.repeat(a[None], LAYERS, 0)
    mixed[4:8] = b  # the middle layers carry identity: the face changes, the picture stays close
    changed = network.render(mixed)
    assert 12 < psnr(only_a, changed) < 40
    assert psnr(only_a, network.render(b)) < psnr(only_a, changed)


def test_mapping_is_deterministic_and_renders_faces(network, settings):
    from encryptface.faces.detection import FaceDetector

    z = np.random.default_rng(3).standard_normal((3, STYLE_DIM))
    assert np.array_equal(network.map(z), network.map(z))
    detector = FaceDetector(settings.detection)
    mean = network.mean_style()
    found = [len(detector.detect(network.render(mean + 0.7 * (w - mean)))) for w in network.map(z)]
    assert min(found) >= 1  # a face in every render (some show a second person at the edge)


def test_the_torch_replay_renders_what_openvino_renders_with_gradients(network):
    """The differentiable synthesis (the photo fit's) is the shipped graph: same pixels to a level,
    and gradients reach the styles of every layer."""
    import torch

    graph, learned_input = network.differentiable()
    style = network.map(np.random.default_rng(5).standard_normal((1, STYLE_DIM)))
    styles = torch.from_numpy(np.repeat(style, LAYERS, 0)[None]).requires_grad_(True)
    low_band = graph(styles, torch.from_numpy(learned_input))
    image = np.clip((low_band[0].detach().numpy().transpose(1, 2, 0) * 0.5 + 1.0) * 127.5 + 0.5, 0, 255)
    assert np.abs(image.astype(np.uint8).astype(int) - network.render(style[0]).astype(int)).max() <= 1
    low_band.mean().backward()
    assert (styles.grad[0].abs().sum(axis=1) > 0).all()
