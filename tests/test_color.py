"""RGB <-> Lab on torch tensors must match scikit-image (the reference) to well under 0.5 ΔE."""

import numpy as np
import pytest
import torch
from skimage.color import deltaE_cie76, lab2rgb, rgb2lab

from vidcolor.color import (
    denormalize_ab,
    denormalize_l,
    grey_to_lightness,
    lab_to_rgb,
    normalize_ab,
    normalize_l,
    rgb_to_lab,
)


def _edge_colours() -> np.ndarray:
    """Black, white, primaries, secondaries, near-threshold darks and every 0/0.5/1 corner."""
    levels = [0.0, 0.002, 0.04045, 0.5, 1.0]
    grid = np.array(np.meshgrid(levels, levels, levels)).reshape(3, -1).T
    return grid.astype(np.float64)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rgb_to_lab_matches_skimage(dtype):
    rng = np.random.default_rng(0)
    rgb = np.concatenate([rng.random((4000, 3)), _edge_colours()])
    expected = rgb2lab(rgb[None])[0]
    ours = rgb_to_lab(torch.tensor(rgb.T[:, :, None], dtype=dtype)).double().numpy()[:, :, 0].T
    assert deltaE_cie76(expected, ours).max() < 0.5
    assert deltaE_cie76(expected, ours).mean() < 0.05


def test_lab_to_rgb_matches_skimage_including_out_of_gamut():
    rng = np.random.default_rng(1)
    lab = np.stack([rng.uniform(0, 100, 4000), rng.uniform(-110, 110, 4000), rng.uniform(-110, 110, 4000)], 1)
    with pytest.warns(UserWarning):  # skimage warns about negative Z for some of these
        expected = lab2rgb(lab[None])[0]
    ours = lab_to_rgb(torch.tensor(lab.T[:, :, None], dtype=torch.float32)).double().numpy()[:, :, 0].T
    assert deltaE_cie76(rgb2lab(expected[None])[0], rgb2lab(ours[None])[0]).max() < 0.5


def test_batched_round_trip_and_shapes():
    rgb = torch.rand(3, 3, 17, 9)
    lab = rgb_to_lab(rgb)
    assert lab.shape == rgb.shape
    assert torch.allclose(lab_to_rgb(lab), rgb, atol=1e-4)
    assert lab[:, 0].min() >= 0 and lab[:, 0].max() <= 100


def test_grey_lightness_equals_full_conversion_of_neutral_grey():
    grey = torch.linspace(0, 1, 256)
    neutral = grey.view(1, 1, -1).expand(3, 1, -1)
    assert torch.allclose(grey_to_lightness(grey), rgb_to_lab(neutral)[0, 0], atol=1e-3)
    assert rgb_to_lab(neutral)[1:].abs().max() < 0.01  # neutral grey has (almost) no colour


def test_normalisation_follows_the_design():
    lightness = torch.tensor([0.0, 50.0, 100.0])
    assert torch.allclose(normalize_l(lightness), torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.allclose(denormalize_l(normalize_l(lightness)), lightness)
    ab = torch.tensor([-110.0, 0.0, 55.0])
    assert torch.allclose(normalize_ab(ab), torch.tensor([-1.0, 0.0, 0.5]))
    assert torch.allclose(denormalize_ab(normalize_ab(ab)), ab)


@pytest.mark.requires_cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    rgb = torch.rand(2, 3, 32, 32)
    assert torch.allclose(rgb_to_lab(rgb.cuda()).cpu(), rgb_to_lab(rgb), atol=1e-3)
    lab = rgb_to_lab(rgb)
    assert torch.allclose(lab_to_rgb(lab.cuda()).cpu(), lab_to_rgb(lab), atol=1e-4)
