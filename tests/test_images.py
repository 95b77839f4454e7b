"""Tests for vidcolor.io.images: decoding cases, round trips, format choice and errors."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import ExifTags, Image, ImageCms, ImageOps
from skimage.color import rgb2lab

from tests.image_media import (
    add_orientation, icc_curve_table, icc_parametric_curve, icc_profile, icc_rgb_table, make_image, mark_box,
    png_chunk, press_linear_rgb, srgb_encoded, with_icc_tags, with_png_chunk,
)
from vidcolor.errors import InputError, OutputError, VidcolorWarning
from vidcolor.io.images import IMAGE_SUFFIXES, is_image_suffix, read_image, write_image

SIZE = (96, 64)  # width, height
SHAPE = (64, 96)


def _pillow_rgb(path: Path) -> np.ndarray:
    """Reference decode: Pillow, orientation applied, as float RGB."""
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.float32) / 255


def _raw16(path: Path) -> np.ndarray:
    """The file's stored uint16 samples (RGB order for colour)."""
    if path.suffix == ".tif":
        return tifffile.imread(path)
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def test_rgb_png_read_and_round_trip_are_exact(tmp_path: Path) -> None:
    src = make_image(tmp_path / "a.png", mode="RGB")
    image = read_image(src)
    assert image.rgb.shape == (*SHAPE, 3) and image.rgb.dtype == np.float32
    assert image.alpha is None and image.bit_depth == 8
    np.testing.assert_array_equal(image.rgb, _pillow_rgb(src))
    write_image(tmp_path / "b.png", image.rgb)
    np.testing.assert_array_equal(read_image(tmp_path / "b.png").rgb, image.rgb)


def test_grey_source_keeps_its_own_values(tmp_path: Path) -> None:
    src = make_image(tmp_path / "g.png", mode="L")
    image = read_image(src)
    expected = np.asarray(Image.open(src), dtype=np.float32) / 255
    np.testing.assert_array_equal(image.grey, expected)
    for channel in range(3):
        np.testing.assert_array_equal(image.rgb[..., channel], expected)
    assert image.grey.min() < 0.2 and image.grey.max() > 0.7


def test_colour_grey_has_the_same_lab_lightness(tmp_path: Path) -> None:
    image = read_image(make_image(tmp_path / "c.png", mode="RGB"))
    assert image.grey.shape == SHAPE and image.grey.dtype == np.float32
    grey_l = rgb2lab(np.repeat(image.grey[..., None], 3, axis=2))[..., 0]
    np.testing.assert_allclose(grey_l, rgb2lab(image.rgb)[..., 0], atol=0.01)
    red = image.rgb[mark_box(SIZE)][0, 0]
    assert np.allclose(red, (0.9, 0.2, 0.1), atol=1 / 255)
    assert not np.allclose(image.grey[mark_box(SIZE)], red.mean(), atol=0.05)


def test_jpeg_exif_orientation_6_is_rotated_clockwise(tmp_path: Path) -> None:
    plain = read_image(make_image(tmp_path / "plain.jpg"))
    rotated = read_image(make_image(tmp_path / "rot.jpg", exif_orientation=6))
    assert rotated.rgb.shape == (SHAPE[1], SHAPE[0], 3)
    np.testing.assert_array_equal(rotated.rgb, np.rot90(plain.rgb, -1))
    # float32 maths may differ in the last bit where numpy's SIMD and scalar paths meet (AVX-512)
    np.testing.assert_allclose(rotated.grey, np.rot90(plain.grey, -1), rtol=0, atol=1e-6)
    # the red rectangle, stored top-left, is displayed top-right
    assert rotated.rgb[2, -2, 0] > 0.8 and rotated.rgb[2, 1, 0] < 0.5


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillow(tmp_path: Path, orientation: int) -> None:
    src = make_image(tmp_path / f"o{orientation}.png", mode="RGB", exif_orientation=orientation)
    np.testing.assert_array_equal(read_image(src).rgb, _pillow_rgb(src))


def test_16bit_tiff_orientation_is_applied(tmp_path: Path) -> None:
    src = make_image(tmp_path / "r.tif", mode="RGB16", exif_orientation=8)
    image = read_image(src)
    assert image.bit_depth == 16 and image.rgb.shape == (SHAPE[1], SHAPE[0], 3)
    expected = np.rot90(tifffile.imread(src), 1).astype(np.float32) / 65535
    np.testing.assert_array_equal(image.rgb, expected)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("mode", ["I;16", "RGB16"])
def test_16bit_survives_read_write_read(tmp_path: Path, suffix: str, mode: str) -> None:
    src = make_image(tmp_path / f"src{suffix}", mode=mode)
    raw = _raw16(src)
    assert raw.dtype == np.uint16 and np.any(raw % 257)  # not representable in 8 bits
    image = read_image(src)
    assert image.bit_depth == 16
    np.testing.assert_array_equal(np.rint(image.rgb[..., 0] * 65535), raw if raw.ndim == 2 else raw[..., 0])
    if mode == "I;16":
        np.testing.assert_array_equal(image.grey, image.rgb[..., 0])
    out = tmp_path / f"out{suffix}"
    write_image(out, image.rgb, bit_depth=image.bit_depth)
    written = _raw16(out)
    assert written.dtype == np.uint16
    np.testing.assert_array_equal(written, np.stack([raw] * 3, axis=-1) if raw.ndim == 2 else raw)
    again = read_image(out)
    assert again.bit_depth == 16
    np.testing.assert_array_equal(again.rgb, image.rgb)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_bit_depth_8_writes_8bit(tmp_path: Path, suffix: str) -> None:
    image = read_image(make_image(tmp_path / f"src{suffix}", mode="RGB16"))
    write_image(tmp_path / f"out{suffix}", image.rgb, bit_depth=8)
    again = read_image(tmp_path / f"out{suffix}")
    assert again.bit_depth == 8
    np.testing.assert_allclose(again.rgb, image.rgb, atol=0.5 / 255 + 1e-6)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp"])
def test_8bit_values_are_written_as_they_are(tmp_path: Path, suffix: str) -> None:
    """Contact sheets are held as uint8 (a float sheet of 4K frames is gigabytes) and written unchanged."""
    pixels = np.random.default_rng(3).integers(0, 256, (9, 14, 3), dtype=np.uint8)
    write_image(tmp_path / f"out{suffix}", pixels)
    np.testing.assert_array_equal(np.rint(read_image(tmp_path / f"out{suffix}").rgb * 255), pixels)
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / f"alpha{suffix}", pixels, alpha=np.ones((9, 14), np.float32))


def test_16bit_request_is_ignored_for_jpeg(tmp_path: Path) -> None:
    write_image(tmp_path / "x.jpg", np.full((8, 8, 3), 0.5, np.float32), bit_depth=16)
    assert read_image(tmp_path / "x.jpg").bit_depth == 8


def test_rgba_png_alpha_is_read_and_kept(tmp_path: Path) -> None:
    src = make_image(tmp_path / "a.png", mode="RGBA")
    image = read_image(src)
    expected_alpha = np.asarray(Image.open(src), dtype=np.float32)[..., 3] / 255
    assert image.alpha is not None and image.alpha.dtype == np.float32
    np.testing.assert_array_equal(image.alpha, expected_alpha)
    assert image.alpha[:, 0].max() == 0 and image.alpha[:, -1].min() == 1
    for suffix, tolerance in ((".png", 0), (".tif", 0), (".webp", 1 / 255)):
        write_image(tmp_path / f"out{suffix}", image.rgb, image.alpha)
        again = read_image(tmp_path / f"out{suffix}")
        assert again.alpha is not None, suffix
        np.testing.assert_allclose(again.alpha, image.alpha, atol=tolerance + 1e-6)


def test_16bit_alpha_is_kept(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).random((8, 10, 3), dtype=np.float32)
    alpha = np.linspace(0, 1, 80, dtype=np.float32).reshape(8, 10)
    for suffix in (".png", ".tif"):
        write_image(tmp_path / f"o{suffix}", rgb, alpha, bit_depth=16)
        again = read_image(tmp_path / f"o{suffix}")
        assert again.bit_depth == 16
        np.testing.assert_allclose(again.alpha, alpha, atol=0.5 / 65535)
        np.testing.assert_allclose(again.rgb, rgb, atol=0.5 / 65535)


@pytest.mark.parametrize("suffix", [".jpg", ".bmp"])
def test_transparency_is_laid_over_white_with_a_warning_where_unsupported(tmp_path: Path, suffix: str) -> None:
    """Alpha was dropped without a word, showing the black under the transparent pixels."""
    rgb = np.zeros((8, 12, 3), np.float32)  # black under everything
    alpha = np.ones((8, 12), np.float32)
    alpha[:, :4], alpha[:, 4:8] = 0, 0.5
    with pytest.warns(VidcolorWarning, match=rf"^out{suffix}: \{suffix} keeps no transparency"):
        write_image(tmp_path / f"out{suffix}", rgb, alpha)
    assert Image.open(tmp_path / f"out{suffix}").mode == "RGB"
    again = read_image(tmp_path / f"out{suffix}")
    assert again.alpha is None
    for columns, expected in ((slice(0, 3), 1.0), (slice(5, 7), 0.5), (slice(9, 12), 0.0)):
        np.testing.assert_allclose(again.rgb[1:-1, columns], expected, atol=0.03)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an opaque picture loses nothing: no warning
        write_image(tmp_path / f"opaque{suffix}", rgb, np.ones((8, 12), np.float32))


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk_becomes_rgb(tmp_path: Path, suffix: str) -> None:
    src = make_image(tmp_path / f"cmyk{suffix}", mode="CMYK")
    assert Image.open(src).mode == "CMYK"
    image = read_image(src)
    assert image.rgb.shape == (*SHAPE, 3) and image.bit_depth == 8
    rows, cols = mark_box(SIZE)
    inner = image.rgb[rows.stop // 4 : rows.stop * 3 // 4, cols.stop // 4 : cols.stop * 3 // 4]
    np.testing.assert_allclose(inner.reshape(-1, 3).mean(axis=0), (0, 1, 1), atol=0.03)
    np.testing.assert_array_equal(image.rgb, _pillow_rgb(src))


def test_palette_png_becomes_rgb(tmp_path: Path) -> None:
    src = make_image(tmp_path / "p.png", mode="P")
    assert Image.open(src).mode == "P"
    image = read_image(src)
    assert image.alpha is None and image.bit_depth == 8
    np.testing.assert_array_equal(image.rgb, _pillow_rgb(src))
    assert np.abs(image.rgb - read_image(make_image(tmp_path / "c.png")).rgb).mean() < 0.03


def test_palette_transparency_becomes_alpha(tmp_path: Path) -> None:
    palette = Image.new("P", (4, 2), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0])
    palette.putpixel((3, 1), 1)
    palette.save(tmp_path / "t.png", transparency=0)
    image = read_image(tmp_path / "t.png")
    assert image.alpha is not None and image.alpha.sum() == 1 and image.alpha[1, 3] == 1
    np.testing.assert_array_equal(image.rgb[1, 3], (1, 0, 0))


@pytest.mark.parametrize(
    ("name", "pillow_format"),
    [("o.jpg", "JPEG"), ("o.JPEG", "JPEG"), ("o.png", "PNG"), ("o.tif", "TIFF"),
     ("o.tiff", "TIFF"), ("o.webp", "WEBP"), ("o.bmp", "BMP")],
)
def test_format_follows_extension(tmp_path: Path, name: str, pillow_format: str) -> None:
    rgb = read_image(make_image(tmp_path / "src.png")).rgb
    write_image(tmp_path / name, rgb)
    with Image.open(tmp_path / name) as written:
        assert written.format == pillow_format and written.size == SIZE
    assert np.abs(read_image(tmp_path / name).rgb - rgb).mean() < 0.02  # JPEG/WebP are lossy


def test_jpeg_is_written_at_quality_95(tmp_path: Path) -> None:
    rgb = read_image(make_image(tmp_path / "src.png")).rgb
    write_image(tmp_path / "o.jpg", rgb)
    reference = tmp_path / "ref.jpg"
    Image.fromarray(np.rint(rgb * 255).astype(np.uint8)).save(reference, quality=95)
    with Image.open(tmp_path / "o.jpg") as ours, Image.open(reference) as theirs:
        assert ours.quantization[0] == theirs.quantization[0]


@pytest.mark.parametrize(("suffix", "pillow_format"), [(".png", "PNG"), (".jpg", "JPEG"), (".tiff", "TIFF")])
def test_format_suffix_overrides_temporary_name(tmp_path: Path, suffix: str, pillow_format: str) -> None:
    target = tmp_path / "out.png.tmp-xyz"
    write_image(target, np.full((6, 5, 3), 0.25, np.float32), bit_depth=16, format_suffix=suffix)
    with Image.open(target) as written:
        assert written.format == pillow_format and written.size == (5, 6)
    assert not is_image_suffix(target)


def test_unsupported_output_extension(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as caught:
        write_image(tmp_path / "o.gif", np.zeros((4, 4, 3), np.float32))
    message = str(caught.value)
    assert "\n" not in message and all(suffix in message for suffix in IMAGE_SUFFIXES)
    assert not (tmp_path / "o.gif").exists()
    with pytest.raises(OutputError):
        write_image(tmp_path / "o.png.tmp", np.zeros((4, 4, 3), np.float32), format_suffix=".gif")


def test_missing_output_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        write_image(tmp_path / "nope" / "o.png", np.zeros((4, 4, 3), np.float32))


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "missing.png"


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "empty.jpg").write_bytes(b"")
    return tmp_path / "empty.jpg"


def _text(tmp_path: Path) -> Path:
    (tmp_path / "notes.jpg").write_text("this is not a picture\n")
    return tmp_path / "notes.jpg"


def _truncated(tmp_path: Path) -> Path:
    src = make_image(tmp_path / "full.jpg")
    (tmp_path / "cut.jpg").write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    return tmp_path / "cut.jpg"


@pytest.mark.parametrize(
    ("make", "words"),
    [(_missing, "not found"), (_empty, "empty"), (_text, "not a readable image"),
     (_truncated, "truncated"), (lambda p: p, "not found")],
)
def test_read_errors_are_one_line_input_errors(tmp_path: Path, make, words: str) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError) as caught:
        read_image(path)
    message = str(caught.value)
    assert words in message and str(path) in message and "\n" not in message
    if words in ("not a readable image", "truncated"):
        assert caught.value.__cause__ is not None
    if words == "not a readable image":  # a .jpg that is not one is called damaged, not told to be a .jpg
        assert "(damaged, or a format vidcolor cannot read); re-export it as one of" in message


def test_is_image_suffix() -> None:
    assert is_image_suffix("a/b.JPG") and is_image_suffix(Path("x.tiff")) and is_image_suffix("y.webp")
    assert not any(is_image_suffix(name) for name in ("clip.mp4", "noext", "a.png.tmp"))


def _scan_with_metadata(path: Path) -> Path:
    """A grey 'scan' with a caption, dates, copyright, 600 dpi and EXIF orientation 6."""
    exif = Image.Exif()
    exif[270], exif[306], exif[33432], exif[274] = "Harbour, 1931", "2001:06:01 10:00:00", "City Archive", 6
    exif[0x8769] = {36867: "1931:05:04 12:00:00"}
    grey = np.linspace(20, 230, 40 * 60).reshape(40, 60).astype(np.uint8)
    Image.fromarray(grey).save(path, exif=exif.tobytes(), dpi=(600, 600))
    return path


@pytest.mark.parametrize("source", ["scan.jpg", "scan.tif"])
@pytest.mark.parametrize("output", ["out.jpg", "out.png", "out.webp", "out.tif"])
def test_caption_dates_copyright_and_resolution_are_kept(tmp_path: Path, source: str, output: str) -> None:
    """A colour scan lost its EXIF and DPI (and TIFFs got tifffile's JSON as their description)."""
    from vidcolor.pipeline import colorize_image
    from vidcolor.worker import Colorizer
    from tests.helpers import ConstantColour

    src = _scan_with_metadata(tmp_path / source)
    dst = tmp_path / output
    colorize_image(src, dst, Colorizer(ConstantColour(0.1, 0.2), device="cpu", render_size=32))
    with Image.open(dst) as written:
        exif = written.getexif()
        assert written.size == (40, 60)  # turned upright, so no orientation tag is carried
        assert exif.get(274) in (None, 1)
        assert (exif.get(270), exif.get(306), exif.get(33432)) == ("Harbour, 1931", "2001:06:01 10:00:00", "City Archive")
        if output != "out.tif":  # TIFF keeps the descriptive tags, not the EXIF sub-directory
            assert exif.get_ifd(0x8769).get(36867) == "1931:05:04 12:00:00"
        if output != "out.webp":  # WebP has no resolution field
            assert written.info["dpi"] == pytest.approx((600, 600), abs=0.01)


def test_an_srgb_profile_leaves_the_values_alone_and_outputs_are_untagged(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    colour = np.dstack([np.full((16, 16), value, np.uint8) for value in (120, 100, 80)])
    Image.fromarray(colour).save(tmp_path / "rgb.jpg", icc_profile=srgb)
    Image.fromarray(colour[..., 0]).save(tmp_path / "grey.png", icc_profile=srgb)  # as ImageMagick leaves it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image(tmp_path / "rgb.jpg")
        np.testing.assert_array_equal(read_image(tmp_path / "grey.png").grey, colour[..., 0] / np.float32(255))
    np.testing.assert_array_equal(image.rgb, _pillow_rgb(tmp_path / "rgb.jpg"))
    for name in ("out.png", "out.jpg", "out.tif", "out.webp"):
        write_image(tmp_path / name, image.rgb, metadata=image.metadata)
        with Image.open(tmp_path / name) as written:
            assert written.info.get("icc_profile") is None, name


def _in_srgb(path: Path, profile: bytes) -> np.ndarray:
    """Reference: Pillow's decode of ``path`` converted from ``profile`` to sRGB by littlecms, as float RGB."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    with Image.open(path) as image:
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    return np.asarray(converted, dtype=np.float32) / 255


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_an_adobe_rgb_photo_is_converted_to_srgb_and_written_untagged(tmp_path: Path, suffix: str) -> None:
    """Adobe RGB values were read as sRGB and the profile copied onto sRGB results: 17 % too saturated."""
    adobe = icc_profile("adobe-rgb")
    stored = np.random.default_rng(1).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    stored[:4] = (200, 40, 40)
    Image.fromarray(stored).save(tmp_path / f"adobe{suffix}", icc_profile=adobe)
    image = read_image(tmp_path / f"adobe{suffix}")
    expected = _in_srgb(tmp_path / f"adobe{suffix}", adobe)
    np.testing.assert_array_equal(image.rgb, expected)
    assert expected[0, 0, 0] - expected[0, 0, 1] > (200 - 40) / 255 + 0.05  # sRGB needs a stronger red
    write_image(tmp_path / f"out{suffix}", image.rgb, metadata=image.metadata)
    with Image.open(tmp_path / f"out{suffix}") as written:
        assert written.info.get("icc_profile") is None


def test_a_grey_gamma_22_scan_is_converted_to_srgb_grey(tmp_path: Path) -> None:
    """Gray Gamma 2.2 values were read as sRGB: shadows up to 3 L too light."""
    grey = icc_profile("grey-2.2")
    Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16)).save(tmp_path / "scan.png", icc_profile=grey)
    image = read_image(tmp_path / "scan.png")
    expected = _in_srgb(tmp_path / "scan.png", grey)
    np.testing.assert_array_equal(image.grey, expected[..., 1])
    np.testing.assert_array_equal(image.rgb, expected)
    assert image.grey[1, 14] < 30 / 255 - 0.01  # stored level 30: darker in sRGB


def test_a_grey_png_with_alpha_and_a_grey_profile_is_converted(tmp_path: Path) -> None:
    """OpenCV decodes grey + alpha as four channels, which a grey profile did not fit: the values stayed."""
    grey = icc_profile("grey-2.2")
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(levels).save(tmp_path / "scan.png", icc_profile=grey)
    Image.fromarray(np.dstack([levels, np.full_like(levels, 200)]), "LA").save(tmp_path / "scan_la.png",
                                                                             icc_profile=grey)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image(tmp_path / "scan_la.png")
    np.testing.assert_array_equal(image.grey, read_image(tmp_path / "scan.png").grey)
    np.testing.assert_array_equal(image.alpha, np.full((16, 16), 200 / 255, np.float32))


def test_a_grey_photo_with_an_rgb_profile_is_converted_and_stays_grey(tmp_path: Path) -> None:
    adobe = icc_profile("adobe-rgb")
    Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16)).save(tmp_path / "grey.png", icc_profile=adobe)
    with Image.open(tmp_path / "grey.png") as image:
        image.convert("RGB").save(tmp_path / "as_rgb.png", icc_profile=adobe)
    expected = _in_srgb(tmp_path / "as_rgb.png", adobe)[..., 1]
    image = read_image(tmp_path / "grey.png")
    np.testing.assert_array_equal(image.grey, expected)
    assert np.abs(image.grey - np.arange(256).reshape(16, 16) / 255).max() > 0.02


def _cmyk_print(path: Path, **options: object) -> np.ndarray:
    """A CMYK scan of a print saved at ``path``: a ramp of black ink alone (a grey print) above random inks;
    returns the ink values (0 none)."""
    inks = np.random.default_rng(3).integers(0, 256, (16, 32, 4), dtype=np.uint8)
    inks[:8] = 0
    inks[:8, :, 3] = np.linspace(0, 255, 32).round().astype(np.uint8)
    Image.fromarray(inks, "CMYK").save(path, **options)
    return inks


@pytest.mark.parametrize("suffix", [".tif", ".jpg"])
def test_a_cmyk_print_is_converted_through_its_profile(tmp_path: Path, suffix: str) -> None:
    """A CMYK profile was only named in a warning and the inks subtracted from white: a grey print's 50 %
    black came out at sRGB 128 (L 54) where its press prints L 66, and every colour shifted likewise."""
    press = icc_profile("cmyk")
    src = tmp_path / f"print{suffix}"
    inks = _cmyk_print(src, icc_profile=press, **({"quality": 100} if suffix == ".jpg" else {}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image(src)
    with Image.open(src) as stored:
        expected = ImageCms.profileToProfile(stored, ImageCms.ImageCmsProfile(io.BytesIO(press)),
                                             ImageCms.createProfile("sRGB"), outputMode="RGB",
                                             renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                             flags=ImageCms.Flags.BLACKPOINTCOMPENSATION | ImageCms.Flags.NOOPTIMIZE)
    np.testing.assert_array_equal(image.rgb, np.asarray(expected, dtype=np.float32) / 255)
    press_grey = srgb_encoded(press_linear_rgb(inks[:8] / 255))[..., 0]  # what the press prints
    np.testing.assert_allclose(image.grey[:8], press_grey, atol=1.5 / 255)
    assert image.grey[:8].std(axis=0).max() < 2 / 255  # the ramp runs along the rows


def test_a_cmyk_jpeg_without_adobe_marker_is_not_read_as_a_negative(tmp_path: Path) -> None:
    """Pillow reads every CMYK JPEG as Adobe's inverted CMYK; one without Adobe's APP14 marker stores plain
    ink values, so a grey print came out black all over."""
    inks = _cmyk_print(tmp_path / "adobe.jpg", quality=100)
    data = (tmp_path / "adobe.jpg").read_bytes()
    Image.fromarray(255 - inks, "CMYK").save(tmp_path / "inverted.jpg", quality=100)  # stored: plain ink values
    inverted = (tmp_path / "inverted.jpg").read_bytes()
    start = inverted.index(b"\xff\xee")  # Adobe's APP14 segment, which libjpeg writes for CMYK
    plain = inverted[:start] + inverted[start + 2 + struct.unpack(">H", inverted[start + 2 : start + 4])[0]:]
    (tmp_path / "plain.jpg").write_bytes(plain)
    assert data.find(b"\xff\xeeAdobe") < 0 < data.find(b"Adobe") and b"Adobe" not in plain
    np.testing.assert_allclose(read_image(tmp_path / "plain.jpg").rgb, read_image(tmp_path / "adobe.jpg").rgb,
                               atol=1.5 / 255)  # the DCT rounds a negative's values apart by 1
    np.testing.assert_allclose(read_image(tmp_path / "plain.jpg").grey[:8, -1], 0, atol=2 / 255)  # full black ink
    np.testing.assert_allclose(read_image(tmp_path / "plain.jpg").grey[:8, 0], 1, atol=2 / 255)  # bare paper


def test_a_cmyk_photo_whose_profile_does_not_fit_is_read_without_it_and_says_so(tmp_path: Path) -> None:
    _cmyk_print(tmp_path / "print.tif", icc_profile=icc_profile("adobe-rgb"))
    _cmyk_print(tmp_path / "plain.tif")
    with pytest.warns(VidcolorWarning, match=r"print\.tif: its colour profile 'Adobe RGB \(1998\)' was not applied "
                                             r"\(it is unreadable or not a CMYK profile\), so its inks are subtracted"):
        image = read_image(tmp_path / "print.tif")
    np.testing.assert_array_equal(image.rgb, _pillow_rgb(tmp_path / "plain.tif"))


@pytest.mark.parametrize("layout", ["grey.png", "grey.tif", "grey_alpha.tif"])
def test_a_16_bit_grey_scan_with_a_grey_profile_is_converted_at_16_bits(tmp_path: Path, layout: str) -> None:
    """A scanner's 16-bit Gray Gamma 2.2 scan kept its values, with a warning: shadows up to 3 L too light."""
    grey = icc_profile("grey-2.2")
    stored = np.arange(0, 65536, 64, dtype=np.uint16).reshape(32, 32)
    src = tmp_path / layout
    if layout == "grey.png":
        Image.fromarray(stored).save(src, icc_profile=grey)
    else:
        pixels = np.dstack([stored, np.full_like(stored, 40000)]) if "alpha" in layout else stored
        tifffile.imwrite(src, pixels, photometric="minisblack",
                         extrasamples="unassalpha" if "alpha" in layout else None, extratags=[(34675, "B", len(grey), grey, True)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image(src)
    assert image.bit_depth == 16
    linear = (stored / 65535) ** (563 / 256)  # the profile's tone curve: gamma 2.2 as an ICC curve stores it
    np.testing.assert_allclose(image.grey * 65535, srgb_encoded(linear) * 65535, atol=1.5)
    assert np.unique(image.grey).size > 2 * 256  # 16-bit steps, not 8-bit ones
    if "alpha" in layout:
        np.testing.assert_array_equal(image.alpha, np.full(stored.shape, 40000 / 65535, np.float32))


def test_a_png_colour_profile_over_1_mb_is_applied(tmp_path: Path) -> None:
    """Pillow decompresses a PNG's colour profile up to 1 MB only (its limit for text): a photo with a larger
    profile (fine tables) was refused as 'truncated or corrupt'. One past 64 MB is refused, saying why."""
    stored = np.random.default_rng(5).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    adobe = icc_profile("adobe-rgb")
    for name, profile in (("plain.png", adobe), ("large.png", with_icc_tags(adobe, {b"zzzz": bytes(1_500_000)})),
                          ("huge.png", with_icc_tags(adobe, {b"zzzz": bytes(65 << 20)}))):
        Image.fromarray(stored).save(tmp_path / name)
        with_png_chunk(tmp_path / name, b"iCCP", b"scan\x00\x00" + zlib.compress(profile))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        large = read_image(tmp_path / "large.png")
    np.testing.assert_array_equal(large.rgb, read_image(tmp_path / "plain.png").rgb)
    assert np.abs(large.rgb - stored / 255).max() > 0.02  # converted from Adobe RGB
    with pytest.raises(InputError, match=r"huge\.png holds a colour profile or text that decompresses to over 64 MB"):
        read_image(tmp_path / "huge.png")


def _deep_scan(path: Path, profile: bytes, alpha: bool = False) -> np.ndarray:
    """A 16-bit RGB scan at ``path`` (.tif, or .png as OpenCV writes it) tagged with ``profile``: every 8-bit
    level of a coarse colour cube (as 16-bit values), then a fine grey ramp; returns the stored RGB."""
    levels = np.arange(0, 256, 15, dtype=np.uint16) * 257
    cube = np.stack(np.meshgrid(levels, levels, levels), axis=-1).reshape(-1, 3)
    ramp = np.repeat(np.arange(0, 65536, 37, dtype=np.uint16)[:, None], 3, axis=1)
    stored = np.concatenate([cube, ramp, np.zeros((-(cube.shape[0] + ramp.shape[0]) % 64, 3), np.uint16)])
    stored = stored.reshape(-1, 64, 3)
    pixels = np.dstack([stored, np.full(stored.shape[:2], 50000, np.uint16)]) if alpha else stored
    if path.suffix == ".tif":
        tifffile.imwrite(path, pixels, photometric="rgb", extrasamples="unassalpha" if alpha else None,
                         extratags=[(34675, "B", len(profile), profile, True)])
    else:
        cv2.imwrite(str(path), cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if alpha else cv2.COLOR_RGB2BGR))
        with_png_chunk(path, b"iCCP", b"scanner\x00\x00" + zlib.compress(profile))
    return stored


def _littlecms_8_bit(stored: np.ndarray, profile: bytes) -> np.ndarray:
    """Reference: the 8-bit values of ``stored`` converted by littlecms from ``profile`` to sRGB, in [0, 255]
    (evaluated exactly, not through a grid it would precompute for a black point to compensate)."""
    converted = ImageCms.profileToProfile(Image.fromarray((stored // 257).astype(np.uint8)),
                                          ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                          ImageCms.createProfile("sRGB"), outputMode="RGB",
                                          flags=ImageCms.Flags.NOOPTIMIZE)
    return np.asarray(converted, dtype=np.float64)


@pytest.mark.parametrize("layout", ["scan.tif", "scan.png", "scan_alpha.tif", "scan_alpha.png"])
def test_a_16_bit_adobe_rgb_scan_is_converted_to_srgb_at_16_bits(tmp_path: Path, layout: str) -> None:
    """A 16-bit Adobe RGB scan (a print scanned in colour mode) kept its Adobe RGB values, with a warning, so
    its colours came out 17 % too saturated where the 8-bit scan of the same print was converted."""
    adobe = icc_profile("adobe-rgb")
    stored = _deep_scan(tmp_path / layout, adobe, alpha="alpha" in layout)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image(tmp_path / layout)
    assert image.bit_depth == 16
    cube = stored.reshape(-1, 3)[:18 ** 3]
    reference = _littlecms_8_bit(cube[None], adobe)[0]
    np.testing.assert_allclose(image.rgb.reshape(-1, 3)[:18 ** 3] * 255, reference, atol=1)  # littlecms rounds
    ramp = image.grey.reshape(-1)[18 ** 3:18 ** 3 + 1772]  # neutral: grey stays grey, at 16-bit steps
    np.testing.assert_allclose(image.rgb.reshape(-1, 3)[18 ** 3:18 ** 3 + 1772].std(axis=1), 0, atol=1 / 65535)
    assert np.all(np.diff(ramp) >= 0) and np.unique(ramp).size > 4 * 256
    if "alpha" in layout:
        np.testing.assert_array_equal(image.alpha, np.full(stored.shape[:2], 50000 / 65535, np.float32))


_PROPHOTO_CURVE = np.where(np.linspace(0, 1, 1024) < 1 / 32, np.linspace(0, 1, 1024) / 16,
                           np.linspace(0, 1, 1024) ** 1.8)


@pytest.mark.parametrize("curve", [
    icc_curve_table(_PROPHOTO_CURVE),  # ProPhoto's: gamma 1.8 with a linear toe, as a table
    icc_parametric_curve(0, 2.2),
    icc_parametric_curve(1, 2.2, 1.1, -0.1),
    icc_parametric_curve(2, 2.2, 1.0, -0.05, 0.02),  # black above 0: its black point is compensated
    icc_parametric_curve(3, 2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045),  # sRGB's, on wider primaries
    icc_parametric_curve(4, 2.4, 0.9, 0.05, 0.08, 0.05, 0.01, 0.004),
], ids=["table", "parametric-0", "parametric-1", "parametric-2", "parametric-3", "parametric-4"])
def test_every_kind_of_icc_tone_curve_converts_16_bit_colour_as_littlecms_does(tmp_path: Path, curve: bytes) -> None:
    profile = with_icc_tags(icc_profile("adobe-rgb"), {tag: curve for tag in (b"rTRC", b"gTRC", b"bTRC")})
    stored = _deep_scan(tmp_path / "scan.tif", profile)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image(tmp_path / "scan.tif")
    cube = stored.reshape(-1, 3)[:18 ** 3]
    np.testing.assert_allclose(image.rgb.reshape(-1, 3)[:18 ** 3] * 255, _littlecms_8_bit(cube[None], profile)[0],
                               atol=1)


def test_a_16_bit_grey_photo_with_an_rgb_profile_is_converted_and_stays_grey(tmp_path: Path) -> None:
    adobe = icc_profile("adobe-rgb")
    stored = np.concatenate([np.arange(256) * 257, np.arange(768) * 85]).astype(np.uint16).reshape(32, 32)
    Image.fromarray(stored).save(tmp_path / "grey.png", icc_profile=adobe)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image(tmp_path / "grey.png")
    assert image.bit_depth == 16
    reference = _littlecms_8_bit(np.repeat(stored[:8, :, None], 3, axis=2), adobe)[..., 1]  # the 8-bit levels
    np.testing.assert_allclose(image.grey[:8] * 255, reference, atol=1)
    assert np.unique(image.grey[8:]).size > 2 * 256  # 16-bit steps, not 8-bit ones


def test_a_16_bit_photo_whose_profile_is_a_table_keeps_its_values_and_says_so(tmp_path: Path) -> None:
    table = with_icc_tags(icc_profile("adobe-rgb"), {b"A2B0": icc_rgb_table()})  # littlecms prefers the table
    stored = np.random.default_rng(2).integers(0, 65536, (6, 8, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "deep.tif", stored, photometric="rgb",
                     extratags=[(34675, "B", len(table), table, True)])
    with pytest.warns(VidcolorWarning, match=r"deep\.tif: its colour profile 'Adobe RGB \(1998\)' was not applied "
                                             r"\(it describes its colours by tables"):
        image = read_image(tmp_path / "deep.tif")
    np.testing.assert_array_equal(np.rint(image.rgb * 65535), stored)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tifffile.imwrite(tmp_path / "srgb.tif", stored, photometric="rgb", extratags=[(34675, "B", len(srgb), srgb, True)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sRGB needs no conversion
        np.testing.assert_array_equal(np.rint(read_image(tmp_path / "srgb.tif").rgb * 65535), stored)


@pytest.mark.parametrize("output", ["out.jpg", "out.png", "out.tif"])
def test_utf8_exif_text_and_a_huge_maker_note(tmp_path: Path, output: str) -> None:
    """UTF-8 '© Müller' came back as '?? M??ller' (and a TIFF output failed on it); a 70 KB MakerNote made
    the JPEG writer fail ('EXIF data is too long')."""
    exif = Image.Exif()
    exif[33432] = "© Müller".encode()
    exif[0x8769] = {0x927C: b"\x01" * 70_000, 36867: "1931:05:04 12:00:00"}
    Image.fromarray(np.full((20, 30), 100, np.uint8)).save(tmp_path / "scan.png", exif=exif.tobytes())
    image = read_image(tmp_path / "scan.png")
    write_image(tmp_path / output, image.rgb, metadata=image.metadata)
    with Image.open(tmp_path / output) as written:
        kept = written.getexif()
        assert kept[33432].encode("latin-1").decode() == "© Müller"  # Pillow reads EXIF text as Latin-1
        if output != "out.tif":
            assert kept.get_ifd(0x8769) == {36867: "1931:05:04 12:00:00"}  # the MakerNote is not carried


def test_exif_over_64_kb_is_kept_in_webp_and_trimmed_for_jpeg(tmp_path: Path) -> None:
    """All EXIF was dropped from a JPEG when one comment made it too long, and the warning named the temporary
    file the pipeline writes (".long.partial.jpg")."""
    exif = Image.Exif()
    exif[270] = "Harbour, 1931"
    exif[0x8769] = {37510: b"ASCII\x00\x00\x00" + b"a" * 70_000,  # a 70 KB UserComment: more than JPEG holds
                    36867: "1931:05:04 12:00:00"}
    Image.fromarray(np.full((20, 30), 100, np.uint8)).save(tmp_path / "long.png", exif=exif.tobytes())
    image = read_image(tmp_path / "long.png")
    write_image(tmp_path / "long.webp", image.rgb, metadata=image.metadata)  # WebP takes it
    with Image.open(tmp_path / "long.webp") as written:
        assert len(written.getexif().get_ifd(0x8769)[37510]) > 70_000
    with pytest.warns(VidcolorWarning, match=r"^long\.jpg: .*more than a JPEG holds, so its UserComment is left out"):
        write_image(tmp_path / ".long.partial.jpg", image.rgb, format_suffix=".jpg", metadata=image.metadata,
                    name="long.jpg")
    with Image.open(tmp_path / ".long.partial.jpg") as written:
        assert written.getexif()[270] == "Harbour, 1931"
        assert written.getexif().get_ifd(0x8769) == {36867: "1931:05:04 12:00:00"}


def test_a_float_tiff_from_0_to_1_is_read_as_16_bit_grey(tmp_path: Path) -> None:
    """Pillow's convert("RGB") clipped 0..1 floats to 0 or 1: the photo came out black."""
    values = np.linspace(0, 1, 64 * 96, dtype=np.float32).reshape(SHAPE)
    Image.fromarray(values).save(tmp_path / "float.tif")
    image = read_image(tmp_path / "float.tif")
    assert image.bit_depth == 16
    np.testing.assert_allclose(image.grey, values, atol=1 / 65535)
    np.testing.assert_allclose(image.rgb, np.repeat(values[..., None], 3, axis=2), atol=1 / 65535)


def test_a_float_tiff_outside_0_to_1_is_refused(tmp_path: Path) -> None:
    Image.fromarray(np.full(SHAPE, 812.5, np.float32)).save(tmp_path / "counts.tif")
    with pytest.raises(InputError, match=r"float pixels outside 0\.\.1 \(812\.5 to 812\.5\)"):
        read_image(tmp_path / "counts.tif")


def test_a_multi_page_tiff_warns_that_only_its_first_page_is_coloured(tmp_path: Path) -> None:
    front = Image.fromarray(np.full(SHAPE, 60, np.uint8))
    back = Image.fromarray(np.full(SHAPE, 200, np.uint8))
    front.save(tmp_path / "scan.tif", save_all=True, append_images=[back])
    with pytest.warns(UserWarning, match="scan.tif holds 2 pages; only the first is coloured"):
        image = read_image(tmp_path / "scan.tif")
    assert image.grey.mean() == pytest.approx(60 / 255)


def test_a_picture_too_large_for_webp_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"8x20000 picture is too large for \.webp \(at most 16383"):
        write_image(tmp_path / "tall.webp", np.zeros((20000, 8, 3), np.float32))
    assert not (tmp_path / "tall.webp").exists()


def test_a_tiff_layout_description_is_not_carried_as_a_caption(tmp_path: Path) -> None:
    """tifffile's '{"shape": [64, 96]}' described the grey file's layout: the RGB output contradicted it."""
    tifffile.imwrite(tmp_path / "grey16.tif", np.full(SHAPE, 30000, np.uint16))
    assert read_image(tmp_path / "grey16.tif").metadata.exif is None
    with Image.open(make_image(tmp_path / "captioned.jpg")) as image:
        exif = image.getexif()
        exif[270] = "Harbour, 1931"
        image.save(tmp_path / "captioned2.jpg", exif=exif)
    assert read_image(tmp_path / "captioned2.jpg").metadata.exif[270] == "Harbour, 1931"


def test_an_output_name_without_extension_says_so(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"output '\.png' has no file extension"):
        write_image(tmp_path / ".png", np.zeros((4, 4, 3), np.float32))


def test_a_thumbnail_page_is_not_counted_as_a_page_left_out(tmp_path: Path) -> None:
    image = np.full(SHAPE, 90, np.uint8)
    with tifffile.TiffWriter(tmp_path / "thumb.tif") as tif:
        tif.write(image)
        tif.write(image[::4, ::4], subfiletype=1)  # a reduced-resolution copy, as scanners write
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(tmp_path / "thumb.tif").grey.shape == SHAPE


def test_a_tiff_whose_next_page_pointer_is_broken_still_reads_its_first_page(tmp_path: Path) -> None:
    """Pillow's page count raised 'TypeError: Missing dimensions' after page 1 had decoded."""
    path = tmp_path / "broken.tif"
    Image.fromarray(np.full(SHAPE, 90, np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    first_ifd = int.from_bytes(data[4:8], "little")
    entries = int.from_bytes(data[first_ifd:first_ifd + 2], "little")
    next_pointer = first_ifd + 2 + 12 * entries
    data[next_pointer:next_pointer + 4] = (len(data) + 1000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    assert read_image(path).grey.mean() == pytest.approx(90 / 255)


def test_float_rounding_just_past_1_is_white_not_refused(tmp_path: Path) -> None:
    values = np.full(SHAPE, 1.0000001, np.float32)
    Image.fromarray(values).save(tmp_path / "white.tif")
    assert read_image(tmp_path / "white.tif").grey.min() == 1.0


def test_a_png_keeps_its_text_chunks_in_a_png_output(tmp_path: Path) -> None:
    """Title and description written as PNG text (not EXIF) were dropped."""
    from PIL import PngImagePlugin

    from vidcolor.pipeline import colorize_image
    from vidcolor.worker import Colorizer
    from tests.helpers import ConstantColour

    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Harbour, 1952")
    info.add_itxt("Description", "Fischerboote im Hafen – Grüße")
    info.add_text("Software", "scanner 2.1")  # about the file, not the photo
    Image.fromarray(np.full((24, 32), 90, np.uint8)).save(tmp_path / "in.png", pnginfo=info)
    colorize_image(tmp_path / "in.png", tmp_path / "out.png", Colorizer(ConstantColour(0.1, 0.1), device="cpu",
                                                                           render_size=32))
    with Image.open(tmp_path / "out.png") as image:
        assert {key: image.text[key] for key in image.text} == {
            "Title": "Harbour, 1952", "Description": "Fischerboote im Hafen – Grüße"}


def _displayed(stored: np.ndarray, orientation: int) -> np.ndarray:
    """``stored`` as Pillow's ImageOps.exif_transpose shows it for EXIF ``orientation``."""
    height, width = stored.shape[:2]
    index = Image.fromarray(np.arange(height * width, dtype=np.int32).reshape(height, width))
    index.getexif()[ExifTags.Base.Orientation] = orientation
    return stored.reshape(height * width, *stored.shape[2:])[np.asarray(ImageOps.exif_transpose(index))]


def _oriented_tiff(path: Path, layout: str, orientation: int) -> np.ndarray:
    """Write a 5x3 TIFF of ``layout`` (samples, depth, compression) with an Orientation tag; return its stored
    samples."""
    rng = np.random.default_rng(orientation)
    shape = (3, 5) if layout.startswith("grey") else (3, 5, 3)
    dtype = np.uint16 if "16" in layout else np.uint8
    stored = rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)
    if layout.endswith("lzw"):  # OpenCV writes LZW, which tifffile cannot decode without imagecodecs
        cv2.imwrite(str(path), cv2.cvtColor(stored, cv2.COLOR_RGB2BGR))
        add_orientation(path, orientation)
    else:
        tifffile.imwrite(path, stored, photometric="minisblack" if stored.ndim == 2 else "rgb",
                         compression="zlib" if layout.endswith("zlib") else None,
                         extratags=[(274, "H", 1, orientation, True)])
    return stored


@pytest.mark.parametrize("orientation", range(2, 9))
@pytest.mark.parametrize("layout", ["grey8", "grey8-zlib", "rgb8", "grey16", "rgb16", "rgb16-lzw"])
def test_a_tiff_is_turned_upright_exactly_once(tmp_path: Path, layout: str, orientation: int) -> None:
    """Pillow 13 turns TIFFs itself, so they were turned twice, and uncompressed grey ones turned 5 to 8 came
    out scrambled."""
    stored = _oriented_tiff(tmp_path / "o.tif", layout, orientation)
    image = read_image(tmp_path / "o.tif")
    expected = _displayed(stored, orientation).astype(np.float32) / np.float32(65535 if "16" in layout else 255)
    np.testing.assert_array_equal(image.grey if stored.ndim == 2 else image.rgb, expected)
    assert image.bit_depth == (16 if "16" in layout else 8)


def test_a_resolution_is_carried_only_when_the_file_stores_one(tmp_path: Path) -> None:
    """Pillow reports 1 dpi for a TIFF without resolution tags and 72 for a JPEG whose EXIF has none."""
    grey = Image.new("L", (8, 6), 90)
    exif = Image.Exif()
    exif[270] = "Harbour, 1931"
    grey.save(tmp_path / "plain.tif")
    tifffile.imwrite(tmp_path / "unitless.tif", np.full((6, 8), 90, np.uint8))  # 1 by 1, no unit
    grey.save(tmp_path / "exif.jpg", exif=exif.tobytes())
    grey.save(tmp_path / "plain.png")
    for name in ("plain.tif", "unitless.tif", "exif.jpg", "plain.png"):
        image = read_image(tmp_path / name)
        assert image.metadata.dpi is None, name
        for output in ("out.png", "out.tif", "out.jpg", "out.bmp"):
            write_image(tmp_path / output, image.rgb, metadata=image.metadata)
            assert read_image(tmp_path / output).metadata.dpi is None, (name, output)
    exif[282], exif[283], exif[296] = 300, 300, 2
    grey.save(tmp_path / "exif300.jpg", exif=exif.tobytes())
    assert read_image(tmp_path / "exif300.jpg").metadata.dpi == (300, 300)
    tifffile.imwrite(tmp_path / "cm.tif", np.full((6, 8), 90, np.uint8), resolution=(100, 100),
                     resolutionunit="CENTIMETER")
    assert read_image(tmp_path / "cm.tif").metadata.dpi == pytest.approx((254, 254))


@pytest.mark.parametrize("channels", [3, 4])
def test_a_16_bit_lzw_tiff_from_opencv_is_read(tmp_path: Path, channels: int) -> None:
    """tifffile needs imagecodecs for LZW, so OpenCV's and Photoshop's 16-bit TIFFs were refused as corrupt."""
    stored = np.random.default_rng(3).integers(0, 65536, (6, 8, channels)).astype(np.uint16)
    order = cv2.COLOR_RGBA2BGRA if channels == 4 else cv2.COLOR_RGB2BGR
    cv2.imwrite(str(tmp_path / "lzw.tif"), cv2.cvtColor(stored, order))
    with tifffile.TiffFile(tmp_path / "lzw.tif") as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.LZW
    image = read_image(tmp_path / "lzw.tif")
    assert image.bit_depth == 16
    np.testing.assert_array_equal(np.rint(image.rgb * 65535), stored[..., :3])
    if channels == 4:
        np.testing.assert_array_equal(np.rint(image.alpha * 65535), stored[..., 3])


def test_a_tiff_no_decoder_here_can_read_says_what_is_missing(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "j2k.tif", np.full((6, 8, 3), 30000, np.uint16), photometric="rgb")
    with tifffile.TiffFile(tmp_path / "j2k.tif", mode="r+b") as tif:
        tif.pages[0].tags["Compression"].overwrite(34712)  # JPEG 2000
    missing = r"j2k\.tif: tifffile needs the imagecodecs package for its JPEG2000"
    with pytest.raises(InputError, match=missing) as caught:
        read_image(tmp_path / "j2k.tif")
    assert "\n" not in str(caught.value) and "re-export" not in str(caught.value)


def test_a_16_bit_grey_tiff_with_alpha_keeps_it(tmp_path: Path) -> None:
    """Pillow does not know this layout: it was refused as 'not a readable image'."""
    grey = np.random.default_rng(4).integers(0, 65536, (6, 8)).astype(np.uint16)
    alpha = np.linspace(0, 65535, 48).reshape(6, 8).astype(np.uint16)
    tifffile.imwrite(tmp_path / "ga.tif", np.dstack([grey, alpha]), photometric="minisblack",
                     extrasamples=["unassalpha"],
                     resolution=(300, 300), resolutionunit="INCH", extratags=[(274, "H", 1, 6, True)])
    image = read_image(tmp_path / "ga.tif")
    assert image.bit_depth == 16 and image.metadata.dpi == (300, 300)
    np.testing.assert_array_equal(np.rint(image.grey * 65535), np.rot90(grey, -1))
    np.testing.assert_array_equal(np.rint(image.alpha * 65535), np.rot90(alpha, -1))
    write_image(tmp_path / "out.png", image.rgb, image.alpha, bit_depth=16)
    np.testing.assert_array_equal(read_image(tmp_path / "out.png").alpha, image.alpha)


def test_a_float_rgb_tiff_from_0_to_1_is_read_as_16_bit(tmp_path: Path) -> None:
    values = np.random.default_rng(5).random((6, 8, 3), dtype=np.float32)
    tifffile.imwrite(tmp_path / "float.tif", values, photometric="rgb")
    image = read_image(tmp_path / "float.tif")
    assert image.bit_depth == 16
    np.testing.assert_allclose(image.rgb, values, atol=0.5 / 65535)
    tifffile.imwrite(tmp_path / "counts.tif", values * 255, photometric="rgb")
    with pytest.raises(InputError, match="float pixels outside 0..1"):
        read_image(tmp_path / "counts.tif")


def test_a_tiff_layout_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "signed.tif", np.zeros((6, 8, 3), np.int16), photometric="rgb")
    with pytest.raises(InputError, match=r"signed\.tif is a 16-bit signed integer RGB \(3 samples per pixel\) TIFF"):
        read_image(tmp_path / "signed.tif")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_grey_png_transparency_key_becomes_alpha(tmp_path: Path, dtype: type) -> None:
    """A grey PNG's tRNS chunk was ignored (a colour PNG's was kept)."""
    grey = np.array([[10, 128, 200], [128, 50, 128]], dtype)
    Image.fromarray(grey).save(tmp_path / "key.png", transparency=128)
    image = read_image(tmp_path / "key.png")
    np.testing.assert_array_equal(image.alpha, grey != 128)
    np.testing.assert_array_equal(image.grey, grey / np.float32(np.iinfo(dtype).max))
    write_image(tmp_path / "out.png", image.rgb, image.alpha, bit_depth=image.bit_depth)
    np.testing.assert_array_equal(read_image(tmp_path / "out.png").alpha, image.alpha)


_XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"><dc:title><rdf:Alt>'
        b'<rdf:li xml:lang="x-default">Harbour, 1931</rdf:li></rdf:Alt></dc:title></rdf:Description></rdf:RDF>'
        b'</x:xmpmeta>')


@pytest.mark.parametrize("output", ["out.jpg", "out.png", "out.tif", "out.webp"])
def test_xmp_is_carried_without_its_orientation(tmp_path: Path, output: str) -> None:
    """An XMP caption was dropped without a word."""
    Image.fromarray(np.full((6, 8), 90, np.uint8)).save(tmp_path / "scan.jpg", xmp=_XMP)
    image = read_image(tmp_path / "scan.jpg")
    assert image.rgb.shape == (8, 6, 3)  # turned by the XMP orientation, so the colour version must not be again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_image(tmp_path / output, image.rgb, metadata=image.metadata)
    with Image.open(tmp_path / output) as written:
        written.load()
        xmp = written.info.get("xmp")
        xmp = xmp.encode() if isinstance(xmp, str) else xmp
        assert b"Harbour, 1931" in xmp and b"Orientation" not in xmp
        assert written.size == (6, 8)


def _iptc_jpeg(path: Path) -> Path:
    """A JPEG with an IPTC caption in a Photoshop block (APP13), as Photoshop and Lightroom write."""
    iptc = b"\x1c\x02\x78" + struct.pack(">H", 13) + b"Harbour, 1931"  # record 2, dataset 120: caption
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + iptc + b"\x00"
    segment = b"Photoshop 3.0\x00" + resource
    app13 = b"\xff\xed" + struct.pack(">H", len(segment) + 2) + segment
    Image.fromarray(np.full((6, 8), 90, np.uint8)).save(path, xmp=_XMP, extra=app13)
    return path


def test_iptc_and_xmp_a_format_cannot_hold_are_named_in_warnings(tmp_path: Path) -> None:
    image = read_image(_iptc_jpeg(tmp_path / "iptc.jpg"))
    with pytest.warns(VidcolorWarning) as caught:
        write_image(tmp_path / ".out.partial.bmp", image.rgb, metadata=image.metadata, format_suffix=".bmp",
                    name="out.bmp")
    messages = sorted(str(warning.message) for warning in caught)
    assert len(messages) == 2
    assert messages[0].startswith("out.bmp: BMP has no place for the photo's XMP data")
    assert messages[1].startswith("out.bmp: the photo's IPTC data (caption, keywords, credits) is not carried over")
    iptc = b"\x1c\x02\x78\x00\x00"  # an empty caption
    tifffile.imwrite(tmp_path / "iptc.tif", np.full((6, 8), 90, np.uint8), extratags=[(33723, "B", 5, iptc, True)])
    with pytest.warns(VidcolorWarning, match="IPTC"):
        write_image(tmp_path / "out.png", image.rgb, metadata=read_image(tmp_path / "iptc.tif").metadata)


@pytest.mark.parametrize("orientation", [6, 8])
@pytest.mark.parametrize(("kind", "count", "bigtiff"), [("h", 1, False), ("H", 2, False), ("B", 1, False),
                                                        ("Q", 1, True)])
def test_an_orientation_tag_of_any_integer_form_is_applied_once(tmp_path: Path, orientation: int, kind: str,
                                                                 count: int, bigtiff: bool) -> None:
    """An Orientation tag stored as SSHORT, with a count of 2, or as BigTIFF's LONG8 was left to Pillow, which
    scrambles uncompressed TIFFs turned by 90 degrees; one stored as BYTE was refused as corrupt."""
    stored = np.random.default_rng(orientation).integers(0, 256, (3, 5)).astype(np.uint8)
    value = orientation if count == 1 else (orientation, 1)
    tifffile.imwrite(tmp_path / "o.tif", stored, photometric="minisblack", bigtiff=bigtiff,
                     extratags=[(274, kind, count, value, True)])
    with warnings.catch_warnings():  # Pillow's own note on a count of 2, passed on with the photo's name
        warnings.filterwarnings("ignore", "(?s).*tag 274 had too many entries", VidcolorWarning)
        image = read_image(tmp_path / "o.tif")
    np.testing.assert_array_equal(image.grey, _displayed(stored, orientation).astype(np.float32) / np.float32(255))


def test_a_bigtiff_pillow_cannot_read_is_read_without_its_metadata(tmp_path: Path) -> None:
    """A float BigTIFF went to the reader of layouts Pillow does not know, whose EXIF parser failed on it."""
    stored = np.linspace(0, 1, 15 * 3, dtype=np.float32).reshape(3, 5, 3)
    tifffile.imwrite(tmp_path / "big.tif", stored, photometric="rgb", bigtiff=True,
                     extratags=[(274, "H", 1, 6, True)])
    with pytest.warns(VidcolorWarning, match="big.tif: its metadata .* BigTIFF"):
        image = read_image(tmp_path / "big.tif")
    assert image.rgb.shape == (5, 3, 3) and image.bit_depth == 16


def test_a_resolution_beyond_65535_dpi_is_not_carried(tmp_path: Path) -> None:
    """2e8 dpi failed a PNG output (struct overflow); in a JPEG's density field 70,000 wrapped to 4,464."""
    tifffile.imwrite(tmp_path / "huge.tif", np.full((6, 8), 90, np.uint8), resolution=(2e8, 2e8),
                     resolutionunit="INCH")
    image = read_image(tmp_path / "huge.tif")
    assert image.metadata.dpi is None
    write_image(tmp_path / "out.png", image.rgb, metadata=image.metadata)


def test_exif_interoperability_pointer_is_not_copied_as_a_number(tmp_path: Path) -> None:
    """The grey file's pointer to its interoperability directory was copied as a plain number, so the colour
    version's EXIF read as corrupt."""
    exif = Image.Exif()
    exif[270] = "Harbour, 1931"
    exif.get_ifd(ExifTags.IFD.Exif)[0xA005] = {1: "R98"}
    exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = "1931:06:01 10:00:00"
    Image.new("L", (8, 6), 90).save(tmp_path / "camera.jpg", exif=exif.tobytes())
    image = read_image(tmp_path / "camera.jpg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_image(tmp_path / "out.jpg", image.rgb, metadata=image.metadata)
        with Image.open(tmp_path / "out.jpg") as written:
            capture = written.getexif().get_ifd(ExifTags.IFD.Exif)
    assert capture.get(0x9003) == "1931:06:01 10:00:00" and 0xA005 not in capture


def test_xmp_orientation_with_spaces_around_the_equals_sign_is_removed(tmp_path: Path) -> None:
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b"<rdf:Description tiff:Orientation = '6' dc:format=\"image/jpeg\"/></rdf:RDF></x:xmpmeta>")
    Image.new("L", (8, 6), 90).save(tmp_path / "x.jpg", xmp=xmp)
    packet = read_image(tmp_path / "x.jpg").metadata.xmp
    assert b"Orientation" not in packet and b'dc:format="image/jpeg"' in packet


_XMP_T = _XMP.replace(b"xmlns:tiff=", b"xmlns:t=").replace(b"tiff:Orientation", b"t:Orientation")  # another prefix


@pytest.mark.parametrize(("source", "packet", "exif_orientation"), [
    ("scan.jpg", _XMP_T, 6),  # the EXIF turns it, the XMP agrees under its own prefix
    ("scan.jpg", _XMP_T, None),  # only the XMP says to turn it
    ("scan.tif", b'<?xpacket begin="\xef\xbb\xbf"?>' + _XMP, None),  # as UTF-16, which TIFF allows
])
def test_an_xmp_orientation_under_any_prefix_or_in_utf16_turns_the_photo_once(
        tmp_path: Path, source: str, packet: bytes, exif_orientation: int | None) -> None:
    """An orientation under another prefix than tiff:, or in a UTF-16 packet, stayed in the colour version's
    XMP, so a viewer that reads XMP turned the upright picture a second time."""
    if source.endswith(".tif"):
        packet = packet.decode().encode("utf-16-le")
        tifffile.imwrite(tmp_path / source, np.full((6, 8), 90, np.uint8),
                         extratags=[(700, "B", len(packet), packet, True)])
    else:
        exif = Image.Exif()
        if exif_orientation is not None:
            exif[ExifTags.Base.Orientation] = exif_orientation
        Image.fromarray(np.full((6, 8), 90, np.uint8)).save(tmp_path / source, xmp=packet, exif=exif)
    image = read_image(tmp_path / source)
    assert image.rgb.shape == (8, 6, 3)  # turned once
    for output in ("out.jpg", "out.tif"):
        write_image(tmp_path / output, image.rgb, metadata=image.metadata)
        with Image.open(tmp_path / output) as written:
            xmp = written.info.get("xmp")
            assert b"Harbour, 1931" in xmp and b"Orientation" not in xmp, output


@pytest.mark.parametrize("layout", ["grey16_alpha", "float_rgb"])
def test_a_tiff_pillow_cannot_read_is_turned_by_its_xmp_orientation(tmp_path: Path, layout: str) -> None:
    """A TIFF read with tifffile (16-bit grey with alpha, float RGB) ignored an orientation stated only in its
    XMP, whose orientation was then removed from the colour version's XMP: the picture stayed sideways."""
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')
    stored = np.random.default_rng(4).random((6, 8, 3))
    if layout == "float_rgb":
        pixels, options = stored.astype(np.float32), {"photometric": "rgb"}
    else:
        pixels = np.dstack([np.rint(stored[..., 0] * 65535), np.full((6, 8), 65535)]).astype(np.uint16)
        options = {"photometric": "minisblack", "extrasamples": "unassalpha"}
    tifffile.imwrite(tmp_path / "scan.tif", pixels, extratags=[(700, "B", len(packet), packet, True)], **options)
    with pytest.raises(OSError):
        Image.open(tmp_path / "scan.tif").load()  # read outside Pillow
    image = read_image(tmp_path / "scan.tif")
    upright = np.rot90(stored if layout == "float_rgb" else stored[..., :1].repeat(3, axis=2), -1)
    np.testing.assert_allclose(image.rgb, upright, atol=0.5 / 65535)
    assert b"Orientation" not in image.metadata.xmp


def test_a_decoder_warning_names_the_photo(tmp_path: Path) -> None:
    """Pillow's and tifffile's warnings ("tag 274 had too many entries") named no file, which in a batch
    left the user guessing which photo they were about."""
    tifffile.imwrite(tmp_path / "scan.tif", np.zeros((3, 5), np.uint8), photometric="minisblack",
                     extratags=[(274, "H", 2, (6, 1), True)])
    with pytest.warns(VidcolorWarning, match=r"scan\.tif: .*too many entries"):
        read_image(tmp_path / "scan.tif")


def _grey_png(path: Path, levels: np.ndarray, bits: int, key: int) -> Path:
    """A grey PNG of ``bits`` bits per pixel (1, 2 or 4) whose level ``key`` is transparent (a tRNS chunk)."""
    height, width = levels.shape
    per_byte = 8 // bits
    rows = b""
    for row in levels:
        padded = np.concatenate([row, np.zeros(-len(row) % per_byte, row.dtype)]).reshape(-1, per_byte)
        packed = sum(padded[:, i].astype(np.uint8) << (8 - bits * (i + 1)) for i in range(per_byte))
        rows += b"\x00" + packed.astype(np.uint8).tobytes()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bits, 0, 0, 0, 0))
                     + png_chunk(b"tRNS", struct.pack(">H", key)) + png_chunk(b"IDAT", zlib.compress(rows))
                     + png_chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_a_low_bit_depth_grey_png_keeps_its_transparent_level(tmp_path: Path, bits: int) -> None:
    """Pillow scales 1-, 2- and 4-bit grey to 8 bits but not the tRNS key: no pixel matched it (and a 1-bit
    PNG lost its transparency altogether)."""
    top = (1 << bits) - 1
    levels = np.array([[0, top, top, 0, top], [top, 0, 0, top, 0]], np.uint8)
    image = read_image(_grey_png(tmp_path / "keyed.png", levels, bits, key=top))
    assert image.alpha is not None
    np.testing.assert_array_equal(image.alpha == 0, levels == top)


@pytest.mark.parametrize("layout", ["grey", "grey with alpha", "float rgb"])
def test_a_tiff_too_large_to_decode_safely_is_refused_whatever_reads_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str) -> None:
    """Pillow refuses a picture over twice its pixel limit before decoding it; a layout only tifffile reads (16-bit
    grey with alpha, float RGB) was decoded at any size, and the colouring that followed ran out of memory."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", SHAPE[0] * SHAPE[1] // 4)
    stored = {"grey": np.full(SHAPE, 90, np.uint8),
              "grey with alpha": np.dstack([np.full(SHAPE, 30000, np.uint16), np.full(SHAPE, 65535, np.uint16)]),
              "float rgb": np.full((*SHAPE, 3), 0.5, np.float32)}[layout]
    tifffile.imwrite(tmp_path / "huge.tif", stored, photometric="rgb" if layout == "float rgb" else "minisblack",
                     extrasamples="unassalpha" if layout == "grey with alpha" else None)
    with pytest.raises(InputError, match=r"image too large to decode safely: .*huge\.tif"):
        read_image(tmp_path / "huge.tif")


def _damaged_tiff(tmp_path: Path, damage: str) -> Path:
    """A small grey TIFF with its first directory's offset zeroed (no pages), or its photometric tag set to 99."""
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.zeros((8, 8), np.uint8))
    data = bytearray(buffer.getvalue())
    if damage == "no pages":
        data[4:8] = struct.pack("<I", 0)
    else:
        directory = struct.unpack("<I", data[4:8])[0]
        for entry in range(struct.unpack("<H", data[directory:directory + 2])[0]):
            start = directory + 2 + 12 * entry
            if struct.unpack("<H", data[start:start + 2])[0] == 262:
                data[start + 8:start + 10] = struct.pack("<H", 99)
    path = tmp_path / "damaged.tif"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("damage", "words"), [
    ("no pages", "image is truncated or corrupt: {path}; its TIFF directory is damaged (IndexError"),
    ("photometric 99", "{path} is a 8-bit unsigned integer photometric 99 (1 sample per pixel) TIFF, a layout"),
])
def test_a_damaged_tiff_is_an_input_error_not_a_library_exception(tmp_path: Path, damage: str, words: str,
                                                                    capfd) -> None:
    """Such TIFFs (fuzzed scans) raised IndexError, AttributeError or TypeError from tifffile's objects, which a
    folder run reports as a bug, and tifffile logged its own lines beside the error."""
    path = _damaged_tiff(tmp_path, damage)
    with pytest.raises(InputError) as caught:
        read_image(path)
    assert str(caught.value).startswith(words.format(path=path))
    assert "tifffile" not in capfd.readouterr().err
