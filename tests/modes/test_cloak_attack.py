"""Pieces of the cloak's optimiser against plain references."""

import cv2
import numpy as np
import torch
from torch.nn import functional

from encryptface.modes.cloak_attack import (
    _project,
    _random_blur,
    crop_grid,
    jpeg_straight_through,
    texture_weights,
)


def test_crop_grid_reads_what_warp_affine_reads():
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8), (7, 7), 2)
    angle, scale = np.deg2rad(12), 0.8
    matrix = np.array([[scale * np.cos(angle), -scale * np.sin(angle), -10.0],
                       [scale * np.sin(angle), scale * np.cos(angle), 5.0]])
    expected = cv2.warpAffine(image, matrix, (64, 64), flags=cv2.INTER_LINEAR)
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    got = functional.grid_sample(tensor, crop_grid(matrix, 64, 90, 120), mode="bilinear",
                                 padding_mode="zeros", align_corners=False)[0].permute(1, 2, 0).numpy()
    inside = expected.sum(axis=2) > 0  # warpAffine's border is zeros too; compare away from it
    inside = cv2.erode(inside.astype(np.uint8), np.ones((3, 3))) > 0
    assert inside.mean() > 0.5
    assert np.abs(got[inside] - expected[inside]).max() < 1.5


def test_l2_budget_holds_on_the_face_and_on_the_rest():
    delta = torch.randn(1, 3, 40, 40)
    face = torch.zeros(1, 1, 40, 40)
    face[..., 10:30, 10:30] = 1
    epsilon = 0.02
    projected = _project(delta, "l2", epsilon, face)
    for part in (face, torch.ones_like(face)):
        rms = float(((projected * part) ** 2).sum() / (part.sum() * 3)) ** 0.5
        assert rms <= epsilon * 1.0001
    assert float(projected.abs().max()) <= 4 * epsilon * 1.0001
    small = delta * 1e-4
    assert torch.allclose(_project(small, "l2", epsilon, face), small)  # inside: unchanged
    assert float(_project(delta, "linf", epsilon, face).abs().max()) <= epsilon


def test_jpeg_is_real_forward_and_identity_backward():
    smooth = functional.interpolate(torch.rand(1, 3, 4, 4), size=(32, 32), mode="bilinear")
    image = smooth.clone().requires_grad_(True)
    out = jpeg_straight_through(image, 50)
    assert 0 < float((out - image).detach().abs().mean()) < 0.05  # a real, lossy JPEG round trip
    out.sum().backward()
    assert torch.allclose(image.grad, torch.ones_like(image))


def test_texture_weights_favour_texture():
    flat = torch.full((1, 3, 32, 64), 0.5)
    flat[..., 32:] = torch.rand(1, 3, 32, 32)  # right half textured
    weights = texture_weights(flat, 2.0)
    assert abs(float(weights.mean()) - 1) < 1e-4
    assert float(weights[..., 40:].mean()) > 5 * float(weights[..., :24].mean())
    assert torch.allclose(texture_weights(flat, 0.0), torch.ones(1, 1, 32, 64))


def test_random_blur_is_a_gaussian_blur_on_half_the_steps():
    image = torch.rand(1, 3, 40, 48)
    rng = np.random.default_rng(0)
    outputs = [_random_blur(image, rng, 2.0) for _ in range(40)]
    kept = sum(out is image for out in outputs)
    assert 10 <= kept <= 30  # about half the steps see the image itself
    blurred = next(out for out in outputs if out is not image)
    assert blurred.shape == image.shape and float(blurred.std()) < 0.8 * float(image.std())
    # the same sigma through OpenCV (reflect border = BORDER_REFLECT_101): find it by scanning
    pixels = image[0].permute(1, 2, 0).numpy()
    errors = [np.abs(cv2.GaussianBlur(pixels, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
                     - blurred[0].permute(1, 2, 0).numpy())[8:-8, 8:-8].max()
              for sigma in np.linspace(0.5, 2.0, 61)]
    assert min(errors) < 0.01
    assert _random_blur(image, rng, 0.0) is image
