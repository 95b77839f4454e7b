"""training.data: the geometry of random and centre crops, and what counts as a grey photo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.data import centre_crops, is_grey, random_crops

SIDE, CROP, DRAWS = 40, 32, 400


def _coordinate_images() -> torch.Tensor:
    """``DRAWS`` copies of one square whose red channel is the row and green channel the column (0..255)."""
    ramp = torch.linspace(0, 255, SIDE).round().to(torch.uint8)
    image = torch.zeros(SIDE, SIDE, 3, dtype=torch.uint8)
    image[..., 0] = ramp[:, None]
    image[..., 1] = ramp[None, :]
    return image.expand(DRAWS, -1, -1, -1).contiguous()


def _crops() -> torch.Tensor:
    return random_crops(_coordinate_images(), CROP, torch.Generator().manual_seed(0))


def _spans() -> tuple[torch.Tensor, torch.Tensor]:
    """Per crop, the signed fraction of the photo's height and width it covers (negative: mirrored)."""
    crops = _crops()
    rows, cols = crops[:, 0], crops[:, 1]
    # first to last pixel centre of a crop spans (CROP - 1) / CROP of it; the ramp spans (SIDE - 1) / SIDE
    scale = (CROP / (CROP - 1)) * ((SIDE - 1) / SIDE)
    height = (rows[:, -1, :] - rows[:, 0, :]).mean(1) * scale
    width = (cols[:, :, -1] - cols[:, :, 0]).mean(1) * scale
    return height, width


def test_crops_are_flipped_left_right_half_the_time_and_never_upside_down() -> None:
    """Guards against flips that turn photos upside down (skies learnt at the bottom) or never mirror them."""
    height, width = _spans()
    assert (height > 0).all()  # every crop keeps its top at the top
    mirrored = (width < 0).float().mean().item()
    assert 0.4 < mirrored < 0.6, mirrored


def test_crops_cover_half_to_all_of_the_photo_at_an_aspect_of_three_quarters_to_four_thirds() -> None:
    """Guards against a crop-area range other than 0.5..1 (tiny crops zoom in far beyond what inference sees)."""
    height, width = _spans()
    area = height * width.abs()
    assert area.min() > 0.47 and area.max() <= 1.01, (area.min(), area.max())
    assert area.mean().item() == pytest.approx(0.75, abs=0.03)  # uniform on 0.5..1 (a little less where clamped at 1)
    aspect = width.abs() / height
    assert aspect.min() > 0.72 and aspect.max() < 1.38, (aspect.min(), aspect.max())


def test_crops_lie_inside_the_photo() -> None:
    """Guards against crops shifted past the photo's edge, whose outer rows or columns repeat the border pixels."""
    crops = _crops()
    rows, cols = crops[:, 0], crops[:, 1]
    assert (rows[:, 1:, :] - rows[:, :-1, :]).min() > 0  # every row below the last, never a repeated edge
    assert ((cols[:, :, 1:] - cols[:, :, :-1]).abs()).min() > 0


def test_centre_crops_are_the_middle_of_the_square() -> None:
    """Guards against held-out scoring on an off-centre window (a corner) instead of the centre crop."""
    crops = centre_crops(_coordinate_images()[:1], CROP) * 255
    ramp = torch.linspace(0, 255, SIDE).round()
    start = (SIDE - CROP) // 2  # 4 px of margin on every side
    assert torch.equal(crops[0, 0, :, 0], ramp[start : start + CROP])  # rows 4..35
    assert torch.equal(crops[0, 1, 0, :], ramp[start : start + CROP])  # columns 4..35


def test_a_photo_with_one_strong_colour_channel_is_not_taken_for_grey() -> None:
    """Guards against grey detection missing blue-yellow colour or wrapping around in uint8, which drops colour photos."""
    def flat(rgb: tuple[int, int, int]) -> np.ndarray:
        return np.full((8, 8, 3), rgb, np.uint8)

    assert not is_grey(flat((100, 100, 160)))  # blue: R = G, only G-B differs
    assert not is_grey(flat((0, 255, 0)))  # pure green: 255 + 255, which wraps to 0 in uint8
    assert is_grey(flat((120, 120, 120))) and is_grey(flat((120, 121, 121)))  # chroma 1 a pixel: grey
    assert not is_grey(flat((120, 121, 122)))  # chroma 2 a pixel: the limit, colour
