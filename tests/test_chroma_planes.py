"""The chroma merge's details against hand-built references: the Y'CbCr coefficients by H.273 code, the
half-resolution lightness and ab it colours with, and frames of a batch kept apart."""

import numpy as np
import pytest
import torch
from skimage.color import lab2rgb

from vidcolor.merge import YuvFormat, chroma_planes

# H.273 MatrixCoefficients (Kr, Kb); BT.2020 constant luminance (10) is made as non-constant (9)
_H273 = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 5: (0.299, 0.114), 6: (0.299, 0.114), 7: (0.212, 0.087),
         9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}


def _expected_codes(lab: tuple[float, float, float], kr: float, kb: float) -> tuple[int, int]:
    """Limited-range 8-bit Cb, Cr of one Lab colour: skimage's sRGB and the textbook Y'CbCr equations."""
    red, green, blue = lab2rgb(np.array([[lab]], dtype=np.float64))[0, 0]
    luma = kr * red + (1 - kr - kb) * green + kb * blue
    return round(128 + 224 * 0.5 * (blue - luma) / (1 - kb)), round(128 + 224 * 0.5 * (red - luma) / (1 - kr))


@pytest.mark.parametrize("code", sorted(_H273))
def test_each_matrix_code_has_its_h273_coefficients(code):
    """A wrong Kr/Kb for a tagged matrix makes every player show the colours shifted."""
    yuv = YuvFormat.for_video(code, 1080)
    assert (yuv.kr, yuv.kb) == _H273[code] and not yuv.ycgco


def test_chroma_is_made_from_the_mean_lightness_of_each_2x2_block():
    """Chroma taken from one pixel of each 2x2 block instead of their mean gives wrong colours along edges."""
    yuv = YuvFormat()
    lightness = torch.tensor([[20.0, 80.0], [20.0, 80.0]]).view(1, 1, 2, 2)
    ab = torch.tensor([30.0, -20.0]).view(1, 2, 1, 1)
    cb, cr = chroma_planes(lightness, ab, yuv)
    expected = _expected_codes((50.0, 30.0, -20.0), yuv.kr, yuv.kb)
    assert abs(int(cb) - expected[0]) <= 1 and abs(int(cr) - expected[1]) <= 1
    assert expected != _expected_codes((20.0, 30.0, -20.0), yuv.kr, yuv.kb)  # the top-left pixel's colour differs


def test_ab_is_upsampled_bilinearly_onto_the_chroma_grid():
    """Blocky (nearest) ab upsampling would show stair-stepped colour edges."""
    yuv = YuvFormat()
    lightness = torch.full((1, 1, 2, 8), 60.0)
    ab = torch.tensor([[-40.0, 40.0], [0.0, 0.0]]).view(1, 2, 1, 2)  # a from -40 to 40 over 4 chroma columns
    cb, cr = chroma_planes(lightness, ab, yuv)
    for column, a in enumerate([-40.0, -20.0, 20.0, 40.0]):  # align_corners=False: at 1/4 and 3/4 of the way
        expected = _expected_codes((60.0, a, 0.0), yuv.kr, yuv.kb)
        assert abs(int(cb[0, 0, column]) - expected[0]) <= 1 and abs(int(cr[0, 0, column]) - expected[1]) <= 1


def test_each_frame_of_a_batch_gets_its_own_colour():
    """On the CPU frames are merged one at a time: every frame must use its own ab, not another frame's."""
    yuv = YuvFormat(kr=0.299, kb=0.114)
    lightness = torch.full((2, 1, 4, 4), 50.0)
    ab = torch.tensor([[40.0, 10.0], [-30.0, -25.0]]).view(2, 2, 1, 1).expand(2, 2, 4, 4)
    cb, cr = chroma_planes(lightness, ab, yuv)
    for frame, (a, b) in enumerate([(40.0, 10.0), (-30.0, -25.0)]):
        expected = _expected_codes((50.0, a, b), yuv.kr, yuv.kb)
        assert (cb[frame].int() - expected[0]).abs().max() <= 1 and (cr[frame].int() - expected[1]).abs().max() <= 1
