"""What of a photo's metadata its colour version keeps: EXIF text, XMP (in any encoding, without its orientation),
resolution, IPTC warnings, and what fits in a JPEG's segments; 16-bit grey with alpha and a colour profile."""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import tifffile
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from tests.image_media import icc_profile, with_png_chunk
from vidcolor.errors import InputError, VidcolorWarning
from vidcolor.io.gif_palette import gif_has_transparency
from vidcolor.io.image_metadata import ImageMetadata
from vidcolor.io.images import LoadedImage, read_image, write_image

_CAPTION = b"Harbour, 1931"


def _xmp(description: bytes, namespaces: bytes = b"") -> bytes:
    """An XMP packet with a Dublin Core caption and ``description`` (attributes or elements)."""
    return (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" ' + namespaces + b">"
            + description + b"<dc:title>" + _CAPTION + b"</dc:title></rdf:Description></rdf:RDF></x:xmpmeta>")


def _written_xmp(path: Path) -> bytes:
    """The XMP packet of the file at ``path`` as Pillow reads it, as bytes."""
    with Image.open(path) as written:
        xmp = written.info.get("xmp", b"")
    return xmp.encode() if isinstance(xmp, str) else xmp


def _quiet_write(path: Path, image: LoadedImage) -> list[str]:
    """Write ``image`` with its metadata; the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_image(path, image.rgb, metadata=image.metadata)
    return [str(warning.message) for warning in caught]


def _exif_with_owner(owner: bytes) -> bytes:
    """EXIF whose sub-directory holds CameraOwnerName as ASCII-typed text of the bytes ``owner``, as cameras write
    UTF-8 (Pillow would write bytes as UNDEFINED)."""
    text = owner + b"\x00"
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", ExifTags.IFD.Exif, 4, 1, 26) + struct.pack("<I", 0)
    sub = (struct.pack("<H", 1) + struct.pack("<HHII", ExifTags.Base.CameraOwnerName, 2, len(text), 44)
           + struct.pack("<I", 0))
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd0 + sub + text  # IFD0 at 8, sub at 26, text at 44


def test_utf8_text_in_the_exif_sub_directory_survives_a_jpeg_output(tmp_path: Path) -> None:
    """Pillow reads EXIF text as Latin-1 and writes characters outside ASCII as '?'."""
    Image.new("L", (8, 6), 90).save(tmp_path / "scan.png", exif=_exif_with_owner("Jürgen Weiß".encode()))
    image = read_image(tmp_path / "scan.png")
    _quiet_write(tmp_path / "out.jpg", image)
    with Image.open(tmp_path / "out.jpg") as written:
        owner = written.getexif().get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.CameraOwnerName]
    owner = owner.encode("latin-1") if isinstance(owner, str) else owner
    assert owner.rstrip(b"\x00").decode() == "Jürgen Weiß"


def test_blank_descriptive_exif_tags_are_not_carried(tmp_path: Path) -> None:
    """Cameras fill unused caption and artist fields with spaces or NULs: no text to keep."""
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription], exif[ExifTags.Base.Artist] = " " * 31, "\x00\x00\x00"
    exif[ExifTags.Base.Copyright] = "City Archive"
    Image.new("L", (8, 6), 90).save(tmp_path / "camera.jpg", exif=exif.tobytes())
    kept = read_image(tmp_path / "camera.jpg").metadata.exif
    assert dict(kept) == {ExifTags.Base.Copyright: "City Archive"}


def test_imagemagick_iptc_in_a_png_is_named_as_left_out(tmp_path: Path) -> None:
    """ImageMagick keeps a photo's IPTC caption and keywords in a PNG as a 'Raw profile type iptc' text chunk."""
    iptc = b"\x1c\x02\x78" + struct.pack(">H", len(_CAPTION)) + _CAPTION
    info = PngImagePlugin.PngInfo()
    info.add_text("Raw profile type iptc", f"\nIPTC\n{len(iptc):8d}\n{iptc.hex()}\n", zip=True)
    Image.new("L", (8, 6), 90).save(tmp_path / "scan.png", pnginfo=info)
    image = read_image(tmp_path / "scan.png")
    messages = _quiet_write(tmp_path / "out.png", image)
    assert any("IPTC" in message for message in messages), messages
    with Image.open(tmp_path / "out.png") as written:
        assert "Raw profile type iptc" not in written.text


@pytest.mark.parametrize("codec", ["utf-16-be", "utf-16"])
def test_a_utf16_xmp_packet_of_either_byte_order_turns_the_photo_and_is_kept_as_utf8(tmp_path: Path,
                                                                                       codec: str) -> None:
    """TIFF allows UTF-16 XMP, big-endian without a byte order mark or either order with one."""
    packet = _xmp(b"", b'xmlns:t="http://ns.adobe.com/tiff/1.0/" t:Orientation="6"').decode().encode(codec)
    tifffile.imwrite(tmp_path / "scan.tif", np.full((6, 8), 90, np.uint8),
                     extratags=[(700, "B", len(packet), packet, True)])
    image = read_image(tmp_path / "scan.tif")
    assert image.rgb.shape == (8, 6, 3)  # turned by the XMP
    assert _CAPTION in image.metadata.xmp and b"Orientation" not in image.metadata.xmp
    _quiet_write(tmp_path / "out.jpg", image)
    assert _written_xmp(tmp_path / "out.jpg") == image.metadata.xmp


def test_a_damaged_utf16_xmp_packet_is_kept_as_stored(tmp_path: Path) -> None:
    """A UTF-16 packet cut at an odd length does not decode: the photo reads, its packet is carried as it is."""
    packet = "<x:xmpmeta/>".encode("utf-16-le")[:-1]
    tifffile.imwrite(tmp_path / "scan.tif", np.full((6, 8), 90, np.uint8),
                     extratags=[(700, "B", len(packet), packet, True)])
    image = read_image(tmp_path / "scan.tif")
    assert image.rgb.shape == (6, 8, 3) and image.metadata.xmp == packet


@pytest.mark.parametrize("namespaces", [b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/"', b""],
                         ids=["bound", "prefix-not-bound"])
def test_a_pretty_printed_xmp_orientation_element_turns_the_photo_once(tmp_path: Path, namespaces: bytes) -> None:
    """The colour version is upright: its XMP must not say to turn it again (packets often use the tiff: prefix
    without binding it)."""
    description = b"<tiff:Orientation>\n    6\n  </tiff:Orientation>"
    Image.new("L", (8, 6), 90).save(tmp_path / "scan.jpg", xmp=_xmp(description, namespaces))
    image = read_image(tmp_path / "scan.jpg")
    assert image.rgb.shape == (8, 6, 3)
    _quiet_write(tmp_path / "out.jpg", image)
    xmp = _written_xmp(tmp_path / "out.jpg")
    assert _CAPTION in xmp and b"Orientation" not in xmp


def test_a_jpeg_density_in_dots_per_centimetre_is_carried_as_dpi(tmp_path: Path) -> None:
    Image.new("L", (8, 6), 90).save(tmp_path / "scan.jpg", dpi=(118, 118))
    data = bytearray((tmp_path / "scan.jpg").read_bytes())
    assert data[6:11] == b"JFIF\x00" and data[13] == 1
    data[13] = 2  # the JFIF density unit: dots per centimetre
    (tmp_path / "scan.jpg").write_bytes(bytes(data))
    image = read_image(tmp_path / "scan.jpg")
    assert image.metadata.dpi == pytest.approx((118 * 2.54, 118 * 2.54))
    _quiet_write(tmp_path / "out.png", image)
    with Image.open(tmp_path / "out.png") as written:
        assert written.info["dpi"] == pytest.approx((299.72, 299.72), abs=0.01)


def test_a_tiff_resolution_without_a_unit_is_in_inches(tmp_path: Path) -> None:
    """TIFF's ResolutionUnit defaults to inches."""
    Image.new("L", (8, 6), 90).save(tmp_path / "scan.tif", tiffinfo={282: 300.0, 283: 300.0})
    with Image.open(tmp_path / "scan.tif") as stored:
        assert ExifTags.Base.ResolutionUnit not in stored.getexif()
    assert read_image(tmp_path / "scan.tif").metadata.dpi == (300.0, 300.0)


def test_a_zero_resolution_is_not_carried(tmp_path: Path) -> None:
    """A pHYs chunk of 0 pixels a metre states no resolution: the output states none either."""
    Image.new("L", (8, 6), 90).save(tmp_path / "scan.png")
    with_png_chunk(tmp_path / "scan.png", b"pHYs", struct.pack(">IIB", 0, 0, 1))
    image = read_image(tmp_path / "scan.png")
    assert image.metadata.dpi is None
    _quiet_write(tmp_path / "out.jpg", image)
    with Image.open(tmp_path / "out.jpg") as written:
        assert "dpi" not in written.info


def _padded_xmp(size: int) -> bytes:
    """An XMP packet of exactly ``size`` bytes (padding, as XMP allows, before its end)."""
    packet = _xmp(b"")
    return packet[:-len(b"</x:xmpmeta>")] + b" " * (size - len(packet)) + b"</x:xmpmeta>"


def test_xmp_that_fills_a_jpeg_segment_is_kept_and_one_byte_more_is_left_out(tmp_path: Path) -> None:
    """A JPEG's APP1 segment holds 65,533 bytes: the XMP namespace (29) and 65,504 of XMP."""
    rgb = np.full((6, 8, 3), 0.5, np.float32)
    for size, kept in ((65504, True), (65505, False)):
        packet = _padded_xmp(size)
        assert len(packet) == size
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            write_image(tmp_path / f"{size}.jpg", rgb, metadata=ImageMetadata(xmp=packet))
        assert (_written_xmp(tmp_path / f"{size}.jpg") == packet) is kept, size
        assert any("XMP data is over 64 KB" in str(warning.message) for warning in caught) is not kept, size


def _exif_of_size(size: int) -> Image.Exif:
    """EXIF (its 'Exif' header included) of exactly ``size`` bytes, most of it a UserComment."""
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = _CAPTION.decode()
    comment = {ExifTags.Base.UserComment: b"ASCII\x00\x00\x00", ExifTags.Base.DateTimeOriginal: "1931:05:04 12:00:00"}
    exif[ExifTags.IFD.Exif] = comment
    comment[ExifTags.Base.UserComment] += b"a" * (size - len(exif.tobytes()))
    exif[ExifTags.IFD.Exif] = comment
    assert len(exif.tobytes()) == size
    return exif


def test_exif_that_fills_a_jpeg_segment_is_kept_whole(tmp_path: Path) -> None:
    """EXIF of 65,526 to 65,533 bytes fits one APP1 segment, but its largest value was left out with a warning
    that it was more than a JPEG holds."""
    for size, whole in ((65532, True), (65534, False)):
        Image.new("L", (8, 6), 90).save(tmp_path / f"{size}.png", exif=_exif_of_size(size).tobytes())
        image = read_image(tmp_path / f"{size}.png")
        messages = _quiet_write(tmp_path / f"{size}.jpg", image)
        with Image.open(tmp_path / f"{size}.jpg") as written:
            kept = written.getexif()
        assert kept[ExifTags.Base.ImageDescription] == _CAPTION.decode()
        assert kept.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == "1931:05:04 12:00:00"
        comment = kept.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.UserComment)
        stored = _exif_of_size(size)[ExifTags.IFD.Exif][ExifTags.Base.UserComment]
        assert (comment == stored if whole else comment is None), size
        assert (messages == []) is whole, (size, messages)
        with av.open(str(tmp_path / f"{size}.jpg")) as container:  # FFmpeg reads the full segment too
            assert next(container.decode(video=0)).to_ndarray(format="gray").shape == (6, 8)


def test_trimming_exif_for_a_jpeg_leaves_the_photo_metadata_whole_for_other_outputs(tmp_path: Path) -> None:
    """The same metadata written to a JPEG (which drops a 70 KB comment) and then to a WebP (which holds it)."""
    exif = _exif_of_size(70_002)
    Image.new("L", (8, 6), 90).save(tmp_path / "scan.png", exif=exif.tobytes())
    image = read_image(tmp_path / "scan.png")
    assert any("left out" in message for message in _quiet_write(tmp_path / "out.jpg", image))
    assert _quiet_write(tmp_path / "out.webp", image) == []
    with Image.open(tmp_path / "out.webp") as written:
        comment = written.getexif().get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment]
    assert comment == exif[ExifTags.IFD.Exif][ExifTags.Base.UserComment]


def test_a_png_output_exif_chunk_starts_with_the_tiff_header(tmp_path: Path) -> None:
    """The PNG specification's eXIf chunk holds the TIFF structure alone, without JPEG's 'Exif' header."""
    exif = Image.Exif()
    exif[ExifTags.Base.Copyright] = "City Archive"
    write_image(tmp_path / "out.png", np.full((6, 8, 3), 0.5, np.float32),
                metadata=ImageMetadata(exif=exif))
    png = (tmp_path / "out.png").read_bytes()
    start = png.index(b"eXIf") + 4
    assert png[start:start + 4] in (b"II*\x00", b"MM\x00*")


def test_a_16_bit_grey_tiff_with_alpha_and_an_rgb_profile_is_converted_keeping_its_alpha(tmp_path: Path) -> None:
    adobe = icc_profile("adobe-rgb")
    levels = (np.arange(48) * 5).reshape(6, 8).astype(np.uint16) * 257  # 8-bit levels, at 16 bits
    alpha = np.linspace(0, 65535, 48).reshape(6, 8).astype(np.uint16)
    tifffile.imwrite(tmp_path / "scan.tif", np.dstack([levels, alpha]), photometric="minisblack",
                     extrasamples=["unassalpha"], extratags=[(34675, "B", len(adobe), adobe, True)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image(tmp_path / "scan.tif")
    transform = ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(adobe)), ImageCms.createProfile("sRGB"),
                                        "RGB", "RGB", flags=ImageCms.Flags.NOOPTIMIZE)
    reference = np.asarray(ImageCms.applyTransform(
        Image.fromarray(np.repeat((levels // 257).astype(np.uint8)[..., None], 3, axis=2)), transform))[..., 1]
    assert image.bit_depth == 16
    np.testing.assert_allclose(image.grey * 255, reference, atol=1)  # littlecms rounds
    np.testing.assert_array_equal(np.rint(image.alpha * 65535), alpha)


def test_a_16_bit_rgb_tiff_stored_plane_by_plane_reads_as_stored(tmp_path: Path) -> None:
    """Scanner software writes RGB TIFFs with each colour in its own plane (PlanarConfiguration 2)."""
    stored = np.random.default_rng(7).integers(0, 65536, (6, 8, 3)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "planes.tif", np.moveaxis(stored, -1, 0), photometric="rgb", planarconfig="separate")
    with tifffile.TiffFile(tmp_path / "planes.tif") as tif:
        assert tif.pages[0].planarconfig == tifffile.PLANARCONFIG.SEPARATE
    image = read_image(tmp_path / "planes.tif")
    assert image.bit_depth == 16
    np.testing.assert_array_equal(np.rint(image.rgb * 65535), stored)


def test_a_tiff_only_tifffile_reads_is_refused_only_over_twice_the_pixel_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As Pillow does: a picture between the limit and twice it is read, one over twice it refused."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 32)
    pixels = np.dstack([np.full((6, 8), 30000, np.uint16), np.full((6, 8), 65535, np.uint16)])  # 48 pixels
    tifffile.imwrite(tmp_path / "scan.tif", pixels, photometric="minisblack", extrasamples=["unassalpha"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VidcolorWarning)
        image = read_image(tmp_path / "scan.tif")
    assert image.rgb.shape == (6, 8, 3)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 23)
    with pytest.raises(InputError, match="too large to decode safely"):
        read_image(tmp_path / "scan.tif")


def test_a_gif_that_names_a_transparent_colour_no_pixel_uses_is_opaque(tmp_path: Path) -> None:
    """Editors often write a transparent palette index into every GIF; no pixel using it, nothing is left out."""
    palette = [value for level in range(256) for value in (level, level, level)]
    frames = []
    for grey in (60, 120, 180):
        frame = Image.fromarray(np.full((6, 8), grey, np.uint8), mode="L").convert("P")
        frame.putpalette(palette)
        frames.append(frame)
    frames[0].save(tmp_path / "opaque.gif", save_all=True, append_images=frames[1:], duration=100, loop=0,
                   transparency=255, optimize=False)
    with Image.open(tmp_path / "opaque.gif") as stored:
        assert stored.info.get("transparency") == 255
    with av.open(str(tmp_path / "opaque.gif")) as container:  # as FFmpeg composes the frames: all opaque
        assert all(frame.to_ndarray(format="rgba")[..., 3].min() == 255 for frame in container.decode(video=0))
    assert not gif_has_transparency(tmp_path / "opaque.gif")
