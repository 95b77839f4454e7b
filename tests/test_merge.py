"""Luma to Lab lightness, and the chroma merge against the Y'CbCr equations and FFmpeg's swscale."""

import av
import numpy as np
import pytest
import torch
from skimage.color import deltaE_ciede2000, rgb2lab

from tests.media import _fill_plane
from vidcolor.color import lab_to_rgb
from vidcolor.io.colour_matrices import KNOWN, assumed_matrix
from vidcolor.io.decode import stated_matrix
from vidcolor.merge import YuvFormat, chroma_planes, luma_to_lightness

# AVCOL_SPC codes whose Kr/Kb swscale knows, at heights on both sides of the SD/HD guess
_SWSCALE_CODES = [(code, height) for code in (1, 4, 5, 6, 7, 9) for height in (576, 1080)]


@pytest.mark.parametrize("yuv", [YuvFormat(), YuvFormat(kr=0.299, kb=0.114)])
def test_8bit_table_matches_the_formula_for_every_code(yuv):
    codes = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).repeat(2, 1, 1, 1)
    looked_up = luma_to_lightness(codes, yuv)
    computed = luma_to_lightness(codes.float(), yuv)
    assert looked_up.dtype == torch.float32 and looked_up.shape == codes.shape
    assert torch.equal(looked_up, computed)
    assert looked_up.min() == 0.0 and looked_up.max() == pytest.approx(100.0, abs=1e-3)


def _swscale_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, colorspace: int) -> np.ndarray:
    """Limited-range 4:2:0 planes tagged ``colorspace`` as swscale turns them into RGB in [0, 1]."""
    frame = av.VideoFrame(y.shape[1], y.shape[0], "yuv420p")
    for plane, values in zip(frame.planes, (y, cb, cr)):
        _fill_plane(plane, values)
    frame.colorspace, frame.color_range = colorspace, 1
    return frame.to_ndarray(format="rgb24").astype(np.float64) / 255


def _luma_codes(rgb: torch.Tensor, yuv: YuvFormat) -> np.ndarray:
    """8-bit limited-range Y' ``(H, W)`` of RGB ``(1, 3, H, W)`` in ``yuv``'s matrix."""
    red, green, blue = rgb[0].double()
    luma = yuv.kr * red + (1.0 - yuv.kr - yuv.kb) * green + yuv.kb * blue
    return (16.0 + 219.0 * luma).round().to(torch.uint8).numpy()


def _block_colours(count: int, seed: int) -> torch.Tensor:
    """``count`` random RGB colours in [0, 1] as 2x2 blocks side by side ``(1, 3, 2, 2 * count)``."""
    colours = torch.from_numpy(np.random.default_rng(seed).random((3, 1, count))).float()
    return colours.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)[None]


@pytest.mark.parametrize(("colorspace", "height"), _SWSCALE_CODES)
def test_chroma_decodes_through_swscale_to_its_rgb(colorspace, height):
    """SMPTE 240M (7) was made with BT.601 below 720 lines and BT.709 above, FCC (4) with BT.601's Kr/Kb:
    players decoding the tagged matrix showed colours off by up to 32 code values (10 ΔE2000)."""
    rgb = _block_colours(500, seed=colorspace)
    yuv = YuvFormat.for_video(colorspace, height)
    cb, cr = yuv.rgb_to_chroma(rgb[..., ::2, ::2])
    shown = _swscale_rgb(_luma_codes(rgb, yuv), cb[0].numpy(), cr[0].numpy(), colorspace)
    error = np.abs(shown - rgb[0].permute(1, 2, 0).numpy()) * 255  # 8-bit rounding alone: max 3.7, mean 1.2
    assert error.max() < 4.5 and error.mean() < 1.4


def test_ycgco_chroma_follows_h273():
    """YCgCo (8) was made with BT.601 or BT.709 by height, while the output stays tagged YCgCo."""
    rgb = _block_colours(200, seed=8)[..., ::2, ::2]
    cg, co = YuvFormat.for_video(8, 1080).rgb_to_chroma(rgb)
    red, green, blue = rgb[0].double()
    assert torch.equal(cg[0], (128 + 224 * (0.5 * green - 0.25 * (red + blue))).round().to(torch.uint8))
    assert torch.equal(co[0], (128 + 224 * 0.5 * (red - blue)).round().to(torch.uint8))


@pytest.mark.parametrize("colorspace", [0, 1, 2, 4, 5, 6, 7, 8, 9, 10])
def test_chroma_to_rgb_inverts_rgb_to_chroma(colorspace):
    rgb = _block_colours(300, seed=colorspace)[..., ::2, ::2].double()
    yuv = YuvFormat.for_video(colorspace, 576)
    cb, cr = yuv.rgb_to_chroma(rgb)
    red, green, blue = rgb.unbind(dim=1)
    luma = yuv.kr * red + (1.0 - yuv.kr - yuv.kb) * green + yuv.kb * blue
    centred = [(plane.double() - 128) / 224 for plane in (cb, cr)]
    back = torch.stack(yuv.chroma_to_rgb(luma, *centred), dim=1)
    assert (back - rgb).abs().max() < 2.5 / 224
    from_numpy = np.stack(yuv.chroma_to_rgb(luma.numpy(), *(plane.numpy() for plane in centred)), axis=1)
    assert np.allclose(from_numpy, back.numpy())


@pytest.mark.parametrize("colorspace", range(15))
@pytest.mark.parametrize(("height", "width"), [(576, 34), (720, 32), (7, 9)])
def test_grey_gives_neutral_chroma_for_every_luma_code(colorspace, height, width):
    yuv = YuvFormat.for_video(colorspace, height)
    luma = torch.arange(height * width, dtype=torch.int64).remainder(256).to(torch.uint8).view(1, 1, height, width)
    cb, cr = chroma_planes(luma_to_lightness(luma, yuv), torch.zeros(1, 2, 5, 5), yuv)
    assert cb.shape == cr.shape == (1, (height + 1) // 2, (width + 1) // 2)
    assert (cb == 128).all() and (cr == 128).all()


@pytest.mark.parametrize(("colorspace", "height"), [(1, 1080), (6, 480), (7, 480), (9, 2160)])
def test_merged_chroma_shows_the_predicted_colour(colorspace, height):
    """Flat 2x2 blocks of L and ab through the whole merge, then swscale: the colour shown is the Lab
    prediction (luma set to the prediction's own, so only the chroma is judged)."""
    rng = np.random.default_rng(colorspace)
    lab = torch.from_numpy(np.stack([rng.uniform(20, 90, 400), rng.uniform(-40, 40, 400), rng.uniform(-40, 40, 400)]))
    lab = lab.float().view(1, 3, 1, 400).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    yuv = YuvFormat.for_video(colorspace, height)
    cb, cr = chroma_planes(lab[:, :1], lab[:, 1:, ::2, ::2], yuv)
    meant = lab_to_rgb(lab)
    shown = _swscale_rgb(_luma_codes(meant, yuv), cb[0].numpy(), cr[0].numpy(), colorspace)
    difference = deltaE_ciede2000(rgb2lab(meant[0].permute(1, 2, 0).double().numpy()), rgb2lab(shown))
    assert difference.max() < 2.5 and difference.mean() < 0.8


@pytest.mark.parametrize("colorspace", range(-1, 20))
@pytest.mark.parametrize("height", [480, 719, 720, 1080])
def test_chroma_is_made_in_the_matrix_the_output_is_tagged_with(colorspace, height):
    """The decoder tags the output with the stream's matrix code (or the one players assume for the height)
    and the merge makes the chroma with its own table of matrices: where the two disagreed, players decoded
    the colour with another matrix than it was made in. Every code the decoder keeps has coefficients of
    its own, whatever the height, and every other code is made as the assumed matrix it is tagged with."""
    tagged = stated_matrix(colorspace, height)
    assert YuvFormat.for_video(colorspace, height) == YuvFormat.for_video(tagged, height)
    if colorspace in KNOWN:
        assert tagged == colorspace
        assert YuvFormat.for_video(colorspace, 480) == YuvFormat.for_video(colorspace, 1080)
    else:
        assert tagged == assumed_matrix(height) == (1 if height >= 720 else 6)
