"""The merge's colour maths against hand-computed references: the lightness of limited-range luma codes, ab
shrunk onto a smaller chroma plane, 4:2:0 chroma sited on its own pixels in frames of odd size; and the size
and pixel shape a frame is shown at."""

from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from skimage.color import lab2rgb, rgb2lab

from vidcolor.frame_display import displayed_size, pixel_aspect, planes_to_rgb
from vidcolor.merge import YuvFormat, chroma_planes, luma_to_lightness

_BT601 = YuvFormat(kr=0.299, kb=0.114)


def _expected_codes(lab: tuple[float, float, float], yuv: YuvFormat) -> tuple[int, int]:
    """Limited-range 8-bit Cb, Cr of one Lab colour: skimage's sRGB and the textbook Y'CbCr equations."""
    red, green, blue = lab2rgb(np.array([[lab]], dtype=np.float64))[0, 0]
    luma = yuv.kr * red + (1 - yuv.kr - yuv.kb) * green + yuv.kb * blue
    return round(128 + 112 * (blue - luma) / (1 - yuv.kb)), round(128 + 112 * (red - luma) / (1 - yuv.kr))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_limited_range_luma_is_black_at_16_and_white_at_235(dtype):
    """Y' codes are limited range: 16 is black (L 0), 235 white (L 100), codes outside are clipped, and a code
    between is the Lab lightness of the grey (code - 16) / 219 (read as full range, every grey would be off)."""
    codes = torch.tensor([0, 10, 16, 60, 126, 180, 235, 240, 255], dtype=dtype).view(1, 1, 1, -1)
    lightness = luma_to_lightness(codes, _BT601)[0, 0, 0].double().numpy()
    grey = np.clip((codes[0, 0, 0].double().numpy() - 16) / 219, 0, 1)
    expected = rgb2lab(np.repeat(grey[:, None], 3, axis=1)[None])[0, :, 0]
    assert np.abs(lightness - expected).max() < 0.01
    assert lightness[:3].tolist() == [0.0, 0.0, 0.0] and lightness[-3:] == pytest.approx([100.0] * 3, abs=1e-3)


def test_colour_stripes_finer_than_the_chroma_plane_average_out_instead_of_aliasing():
    """ab predicted at a larger size than the chroma plane (a video under twice the render size) is averaged
    down: stripes of +a and -a, each 4 ab pixels wide, come out near grey, not as one of the stripes' colours
    (which sampling every 8th pixel would pick)."""
    stripes = torch.tensor([-40.0, -40.0, 40.0, 40.0, 40.0, 40.0, -40.0, -40.0]).repeat(32)  # 256 wide, mean 0
    ab = torch.stack([stripes.view(1, -1).expand(256, -1), torch.zeros(256, 256)])[None]
    cb, cr = chroma_planes(torch.full((1, 1, 64, 64), 50.0), ab, _BT601)
    grey = _expected_codes((50.0, 0.0, 0.0), _BT601)
    assert cb.shape == (1, 32, 32)
    assert (cb.int() - grey[0]).abs().max() <= 3 and (cr.int() - grey[1]).abs().max() <= 3  # 3: the left edge
    assert _expected_codes((50.0, 40.0, 0.0), _BT601)[1] - grey[1] > 15  # a stripe's own colour is far from grey


@pytest.mark.parametrize("transposed", [False, True], ids=["odd-height", "odd-width"])
def test_odd_sized_frames_colour_each_chroma_sample_from_its_own_pixels(transposed):
    """4:2:0 chroma sample i covers pixels 2i and 2i + 1 (the last, of an odd size, its one pixel): a band of
    light rows over darker ones keeps the darker rows' colour, and a light last row its own."""
    rows = [80.0, 80.0, 80.0, 80.0, 40.0, 40.0, 40.0, 40.0, 80.0]
    lightness = torch.tensor(rows).view(1, 1, 9, 1).expand(1, 1, 9, 4).contiguous()
    ab = torch.tensor([-30.0, 0.0]).view(1, 2, 1, 1).expand(1, 2, 9, 4)
    if transposed:
        lightness, ab = lightness.transpose(2, 3).contiguous(), ab.transpose(2, 3)
    cb, cr = chroma_planes(lightness, ab, _BT601)
    if transposed:
        cb, cr = cb.transpose(1, 2), cr.transpose(1, 2)
    assert cb.shape == (1, 5, 2)
    for sample, level in enumerate([80.0, 80.0, 40.0, 40.0, 80.0]):
        expected = _expected_codes((level, -30.0, 0.0), _BT601)
        assert (cb[0, sample].int() - expected[0]).abs().max() <= 1, (sample, cb[0, sample])
        assert (cr[0, sample].int() - expected[1]).abs().max() <= 1, (sample, cr[0, sample])


@pytest.mark.parametrize("transposed", [False, True], ids=["odd-width", "odd-height"])
def test_odd_sized_frames_show_each_chroma_sample_centred_on_its_two_pixels(transposed):
    """Shown, chroma sample i sits between pixels 2i and 2i + 1 (bilinear between samples), up to the last
    pixel of an odd width or height: stretching the samples over the odd size would slide the colour a pixel."""
    width = 17
    cr_row = (128 + 10 * np.arange(9)).astype(np.uint8)
    y = np.full((2, width), 126, np.uint8)
    cb, cr = np.full((1, 9), 128, np.uint8), cr_row[None]
    if transposed:
        y, cb, cr = (np.ascontiguousarray(plane.T) for plane in (y, cb, cr))
    shown = planes_to_rgb(y, cb, cr, _BT601)
    red = shown[:, 0, 0] if transposed else shown[0, :, 0]
    position = (np.arange(width) + 0.5) / 2 - 0.5
    chroma = (np.interp(position, np.arange(9), cr_row.astype(np.float64)) - 128) / 224
    expected = np.clip((126 - 16) / 219 + 1.402 * chroma, 0, 1)  # BT.601: R' = Y' + 1.402 Cr
    assert np.abs(red - expected).max() * 255 < 0.6


@pytest.mark.parametrize(("rotation", "shown"), [(0, (853, 480)), (90, (480, 853)), (180, (853, 480)),
                                                 (270, (480, 853)), (-90, (480, 853))])
def test_a_turned_frame_is_shown_with_its_sides_swapped_only_for_a_quarter_turn(rotation, shown):
    """720x480 with 32:27 pixels is 853 wide; a half turn (an upside-down phone clip) keeps it landscape."""
    assert displayed_size(720, 480, Fraction(32, 27), rotation) == shown


@pytest.mark.parametrize(("stated", "believed"), [
    (None, Fraction(1)), (Fraction(0), Fraction(1)), (Fraction(32, 27), Fraction(32, 27)),
    (Fraction(1, 4), Fraction(1, 4)), (Fraction(4), Fraction(4)), (Fraction(100), Fraction(1)),
    (Fraction(1, 5), Fraction(1)),
])
def test_a_pixel_shape_no_format_uses_is_taken_as_square(stated, believed):
    """Pixels stated wider than 4:1 or narrower than 1:4 are damaged metadata and shown square, not stretched."""
    source = SimpleNamespace(video_stream=SimpleNamespace(sample_aspect_ratio=stated))
    assert pixel_aspect(source) == believed
