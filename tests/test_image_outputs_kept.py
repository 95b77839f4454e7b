"""What a photo keeps on its way in and out: 16-bit depth and alpha under every TIFF name, 8-bit output where a
format has no more, size limits at their edges, grey+alpha PNGs at 16 bits, orientation stated only in a TIFF's
XMP, and the readers' safety limits left as they were."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, PngImagePlugin

from tests.image_media import icc_profile, png_chunk, srgb_encoded, with_icc_tags, with_png_chunk
from vidcolor.errors import OutputError
from vidcolor.io.gif_palette import apng_plays_option, gif_has_transparency, gif_loop_option
from vidcolor.io.images import read_image, write_image

_XMP_TURNED = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
               b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF>'
               b'</x:xmpmeta>')


def _grey_alpha_png_16(path: Path, grey: np.ndarray, alpha: np.ndarray, profile: bytes | None = None) -> Path:
    """A 16-bit grey-with-alpha PNG (colour type 4), written by hand: Pillow and OpenCV write none."""
    height, width = grey.shape
    samples = np.dstack([grey, alpha]).astype(">u2")
    rows = b"".join(b"\x00" + samples[row].tobytes() for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 4, 0, 0, 0)
    profile_chunk = png_chunk(b"iCCP", b"scanner\x00\x00" + zlib.compress(profile)) if profile else b""
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + profile_chunk
                     + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))
    return path


def test_a_tiff_output_named_tiff_keeps_16_bits_and_alpha(tmp_path: Path) -> None:
    levels = np.random.default_rng(1).integers(0, 65536, (5, 7, 4))  # not all multiples of 257: not 8-bit values
    write_image(tmp_path / "out.tiff", levels[..., :3] / 65535, levels[..., 3] / 65535, bit_depth=16)
    stored = tifffile.imread(tmp_path / "out.tiff")
    assert stored.dtype == np.uint16
    np.testing.assert_array_equal(stored, levels)


@pytest.mark.parametrize("suffix", [".webp", ".bmp"])
def test_a_16_bit_picture_is_written_at_8_bits_where_the_format_has_no_more(tmp_path: Path, suffix: str) -> None:
    rgb = np.zeros((6, 8, 3), np.float32)
    rgb[:, 4:] = 1.0
    write_image(tmp_path / f"out{suffix}", rgb, bit_depth=16)
    with Image.open(tmp_path / f"out{suffix}") as written:
        assert written.mode == "RGB" and written.size == (8, 6)
        pixels = np.asarray(written)
    assert (pixels[:, :4] == 0).all() and (pixels[:, 4:] == 255).all()


def test_a_jpeg_named_jpeg_is_held_to_jpeg_size_limit(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"1x65501 picture is too large for \.jpeg \(at most 65500 px a side\)"):
        write_image(tmp_path / "tall.jpeg", np.zeros((65501, 1, 3), np.float32))
    assert not (tmp_path / "tall.jpeg").exists()


def test_a_picture_exactly_as_wide_as_webp_allows_is_written(tmp_path: Path) -> None:
    write_image(tmp_path / "wide.webp", np.full((1, 16383, 3), 0.5, np.float32))
    with Image.open(tmp_path / "wide.webp") as written:
        assert written.size == (16383, 1)


def test_float_rounding_just_below_0_is_black_not_refused(tmp_path: Path) -> None:
    Image.fromarray(np.full((6, 8), -1e-7, np.float32)).save(tmp_path / "black.tif")
    image = read_image(tmp_path / "black.tif")
    assert image.bit_depth == 16 and image.grey.max() == 0.0


def test_a_16_bit_grey_tiff_with_alpha_keeps_its_own_grey_values(tmp_path: Path) -> None:
    grey = np.random.default_rng(2).integers(0, 65536, (6, 8)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "ga.tif", np.dstack([grey, np.full_like(grey, 65535)]), photometric="minisblack",
                     extrasamples=["unassalpha"])
    image = read_image(tmp_path / "ga.tif")
    np.testing.assert_array_equal(image.grey, grey.astype(np.float32) / np.float32(65535))


def test_a_16_bit_grey_png_with_alpha_keeps_its_depth_alpha_and_own_grey_values(tmp_path: Path) -> None:
    """Pillow calls this layout RGBA: its grey was recomputed as if from colour."""
    grey = np.random.default_rng(3).integers(0, 65536, (6, 8)).astype(np.uint16)
    alpha = np.linspace(0, 65535, 48).reshape(6, 8).astype(np.uint16)
    image = read_image(_grey_alpha_png_16(tmp_path / "ga.png", grey, alpha))
    assert image.bit_depth == 16
    np.testing.assert_array_equal(image.grey, grey.astype(np.float32) / np.float32(65535))
    np.testing.assert_array_equal(image.alpha, alpha.astype(np.float32) / np.float32(65535))


def test_a_16_bit_grey_png_with_alpha_and_a_grey_profile_is_converted_at_16_bits(tmp_path: Path) -> None:
    """Its Gray Gamma 2.2 profile was left out, with a warning that it did not fit the pixels: shadows too light."""
    stored = np.arange(0, 65536, 64, dtype=np.uint16).reshape(32, 32)
    alpha = np.full_like(stored, 40000)
    source = _grey_alpha_png_16(tmp_path / "scan.png", stored, alpha, icc_profile("grey-2.2"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image(source)
    assert image.bit_depth == 16
    linear = (stored / 65535) ** (563 / 256)  # the profile's tone curve: gamma 2.2 as an ICC curve stores it
    np.testing.assert_allclose(image.grey * 65535, srgb_encoded(linear) * 65535, atol=1.5)
    np.testing.assert_allclose(image.rgb, np.repeat(image.grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(image.alpha, np.full(stored.shape, 40000 / 65535, np.float32))


@pytest.mark.parametrize("layout", ["grey", "rgb"])
def test_an_8_bit_tiff_turned_only_by_its_xmp_is_turned_once(tmp_path: Path, layout: str) -> None:
    stored = np.random.default_rng(6).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    pixels = stored[..., 0] if layout == "grey" else stored
    tifffile.imwrite(tmp_path / "scan.tif", pixels, photometric="minisblack" if layout == "grey" else "rgb",
                     extratags=[(700, "B", len(_XMP_TURNED), _XMP_TURNED, True)])
    image = read_image(tmp_path / "scan.tif")
    expected = np.rot90(pixels if layout == "rgb" else np.repeat(pixels[..., None], 3, axis=2), -1)
    np.testing.assert_array_equal(np.rint(image.rgb * 255), expected)


def test_reading_a_png_with_a_large_profile_leaves_pillow_text_limit_as_it_was(tmp_path: Path) -> None:
    """Pillow's 1 MB limit on a PNG's text guards every later read in the process, not only ours."""
    source = tmp_path / "large.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(source)
    with_png_chunk(source, b"iCCP", b"scan\x00\x00" + zlib.compress(with_icc_tags(icc_profile("adobe-rgb"),
                                                                                  {b"zzzz": bytes(1_500_000)})))
    limit = PngImagePlugin.MAX_TEXT_CHUNK
    read_image(source)
    assert PngImagePlugin.MAX_TEXT_CHUNK == limit
    with pytest.raises(ValueError, match="MAX_TEXT_CHUNK"):
        Image.open(source)


def test_a_gif_too_large_to_decode_safely_gets_the_muxer_defaults(tmp_path: Path) -> None:
    """A GIF whose screen is past Pillow's decompression-bomb limit is not read for its loop count or
    transparency; its output is written with the muxers' defaults instead of failing."""
    frames = [Image.fromarray(np.full((2, 2), level, np.uint8)).convert("P") for level in (0, 255)]
    frames[0].save(tmp_path / "huge.gif", save_all=True, append_images=frames[1:], duration=100, loop=2)
    data = bytearray((tmp_path / "huge.gif").read_bytes())
    struct.pack_into("<HH", data, 6, 30000, 30000)  # the logical screen: 900 million pixels
    (tmp_path / "huge.gif").write_bytes(bytes(data))
    with pytest.raises(Image.DecompressionBombError):
        Image.open(tmp_path / "huge.gif")
    assert gif_loop_option(tmp_path / "huge.gif") is None
    assert apng_plays_option(tmp_path / "huge.gif") is None
    assert not gif_has_transparency(tmp_path / "huge.gif")
