"""What the model sees and what comes out of it: the render-size resize (against PIL), the normalised L
fed to the model, the colour scale applied to its ab, and the row bands of a photo."""

from itertools import pairwise

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from tests.helpers import ConstantColour
from vidcolor.worker import BAND_PIXELS, Colorizer, resize, row_bands


class _RecordInput(nn.Module):
    """Predicts no colour and keeps the normalised L it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        self.seen.append(l_norm.clone())
        return torch.zeros(l_norm.shape[0], 2, *l_norm.shape[-2:])


@pytest.mark.parametrize(("source", "target"), [((24, 40), (8, 10)), ((24, 40), (24, 10)), ((24, 10), (6, 40)),
                                                 ((6, 10), (13, 17))])
def test_resize_matches_pils_bilinear_filter(source, target):
    """Aliased shrinking (moire in the model's input) or corner-aligned enlarging (colour shifted half a pixel)."""
    image = np.random.default_rng(sum(source + target)).random(source).astype(np.float32) * 100
    expected = np.asarray(Image.fromarray(image, mode="F").resize(target[::-1], Image.BILINEAR))
    ours = resize(torch.from_numpy(image)[None, None], target)[0, 0].numpy()
    assert np.abs(ours - expected).max() < 1e-3


def test_the_model_is_given_l_over_50_minus_1():
    """A model fed L on another scale than it was trained on colours every frame wrongly."""
    model = _RecordInput()
    colorizer = Colorizer(model, device="cpu", render_size=32)
    lightness = torch.tensor([0.0, 75.0, 100.0]).view(3, 1, 1, 1).expand(3, 1, 32, 32)
    colorizer.predict_ab(lightness)
    seen = torch.cat(model.seen)
    assert torch.allclose(seen.amin(dim=(1, 2, 3)), torch.tensor([-1.0, 0.5, 1.0]))
    assert torch.allclose(seen.amax(dim=(1, 2, 3)), torch.tensor([-1.0, 0.5, 1.0]))


def test_predicted_ab_is_scaled_by_calibration_times_saturation():
    """Dropping the model's calibrated colour scale (or the user's saturation) gives washed-out or garish colour."""
    colorizer = Colorizer(ConstantColour(0.2, -0.1), device="cpu", render_size=32, saturation=0.5, calibration=3.0)
    ab = colorizer.predict_ab(torch.full((1, 1, 20, 30), 50.0))
    assert ab.shape == (1, 2, 32, 32)
    assert torch.allclose(ab[:, 0], torch.tensor(0.2 * 110 * 1.5)) and torch.allclose(ab[:, 1], torch.tensor(-0.1 * 110 * 1.5))


@pytest.mark.parametrize(("height", "width"), [(4000, 6000), (6000, 4000), (10, 300_000), (5, 1)])
def test_row_bands_cover_the_photo_in_bands_of_about_band_pixels(height, width):
    """Bands sized by the wrong side hold more pixels than planned: a big scan's peak memory grows with them."""
    bands = row_bands(height, width)
    assert bands[0].start == 0 and bands[-1].stop == height
    assert all(before.stop == after.start for before, after in pairwise(bands))
    rows = [band.stop - band.start for band in bands]
    assert max(rows) == max(1, min(height, BAND_PIXELS // width))
