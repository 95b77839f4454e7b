"""Luma to Lab lightness: the 8-bit lookup table gives exactly the values of the formula."""

import pytest
import torch

from vidcolor.merge import YuvFormat, luma_to_lightness


@pytest.mark.parametrize("yuv", [YuvFormat(), YuvFormat(kr=0.299, kb=0.114)])
def test_8bit_table_matches_the_formula_for_every_code(yuv):
    codes = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).repeat(2, 1, 1, 1)
    looked_up = luma_to_lightness(codes, yuv)
    computed = luma_to_lightness(codes.float(), yuv)
    assert looked_up.dtype == torch.float32 and looked_up.shape == codes.shape
    assert torch.equal(looked_up, computed)
    assert looked_up.min() == 0.0 and looked_up.max() == pytest.approx(100.0, abs=1e-3)
