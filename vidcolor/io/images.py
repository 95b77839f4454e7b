"""Read and write still images as float RGB in [0, 1], keeping bit depth, alpha, orientation and metadata.

Pillow identifies every file, reads its EXIF/TIFF orientation and metadata and decodes the 8-bit modes
(grey, palette, CMYK, ...). Pillow truncates 16-bit colour, so colour PNGs are decoded with OpenCV and
16-bit colour TIFFs with tifffile, or with OpenCV where tifffile has no codec without imagecodecs (LZW,
JPEG); TIFF layouts Pillow does not know (16-bit grey with alpha, float RGB) are read the same way.
Every picture is turned upright exactly once, by its EXIF orientation: a TIFF with an Orientation tag is
decoded as stored (from its bytes with the tag set to 1, since Pillow 13 and OpenCV turn TIFFs
themselves, Pillow scrambling uncompressed grey ones) and then turned. Pixels with an ICC profile are
converted to sRGB with littlecms (Pillow's ImageCms); outputs are written untagged, which means sRGB.
Writing uses OpenCV for PNG (8 and 16 bit; the metadata chunks are added to its bytes), Pillow for
JPEG/WebP/BMP and tifffile for TIFF, so the output format follows the name given, not the file's real path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import io
import math
import re
import struct
import warnings
import zlib

import cv2
import numpy as np
import tifffile
from PIL import ExifTags, Image, ImageCms

from vidcolor.errors import InputError, OutputError, VidcolorWarning

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")

_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_ALPHA_SUFFIXES = frozenset({".png", ".tif", ".tiff", ".webp"})
_DEEP_SUFFIXES = frozenset({".png", ".tif", ".tiff"})
_PILLOW_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}
# EXIF tags that describe the photo (not how its pixels are stored): kept in the colour version
_DESCRIPTIVE_TAGS = {ExifTags.Base.ImageDescription: "s", ExifTags.Base.Make: "s", ExifTags.Base.Model: "s",
                     ExifTags.Base.DateTime: "s", ExifTags.Base.Artist: "s", ExifTags.Base.Copyright: "s"}
_SUB_IFDS = (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo)  # capture date, camera settings, comments; location
_MAKER_NOTE = 0x927C  # a camera maker's private block, often tens of KB: not carried
_ORIENTATION = ExifTags.Base.Orientation
_XMP_TAG, _IPTC_TAG, _ICC_TAG = 700, 33723, 34675  # TIFF tags
_PHOTOSHOP_IPTC = 0x0404  # the IPTC block among a JPEG's Photoshop resources
_JPEG_EXIF_LIMIT = 65533 - 8  # one APP1 segment, less its header
_JPEG_XMP_LIMIT = 65533 - 29  # one APP1 segment, less the XMP namespace
_MAX_SIDE = {".jpg": 65500, ".jpeg": 65500, ".webp": 16383}  # libjpeg's and libwebp's largest width or height
# ImageDescription texts that say how a TIFF's pixels are stored (tifffile, ImageJ, OME), not what they show
_STORAGE_DESCRIPTIONS = ('{"shape"', "ImageJ=", "<?xml")
# an XMP packet's orientation: the colour version is upright, so a viewer must not turn it again
_XMP_ORIENTATION = re.compile(rb"""\s*tiff:Orientation=["']\d["']|<tiff:Orientation>\d</tiff:Orientation>""")
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic TIFF and BigTIFF, either byte order
# TIFF colour spaces read outside Pillow -> their colour samples (one more, if there, is taken as alpha)
_TIFF_COLOURS = {tifffile.PHOTOMETRIC.MINISBLACK: 1, tifffile.PHOTOMETRIC.RGB: 3}
_TIFF_INTEGERS = {1: "B", 3: "H", 4: "I"}  # TIFF BYTE, SHORT, LONG
_SRGB = ImageCms.createProfile("sRGB")

# EXIF orientation -> how to turn the stored pixels into the displayed image (as Pillow's
# ImageOps.exif_transpose does), written on arrays so it also serves 16-bit data.
_ORIENT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    5: lambda a: np.swapaxes(a, 0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


@dataclass(frozen=True)
class ImageMetadata:
    """What a photo says about itself, for its colour version: descriptive EXIF (caption, date, artist,
    copyright, camera, location), the resolution it stores in dots per inch, its XMP packet, and whether it
    holds IPTC data (which is not carried over)."""

    exif: Image.Exif | None = None
    dpi: tuple[float, float] | None = None
    png_text: tuple[tuple[str, str], ...] = ()  # a PNG's own text chunks (title, author, ...), for a PNG output
    xmp: bytes | None = None
    has_iptc: bool = False


def _as_read(value: object) -> object:
    """An EXIF value as its file held it: Pillow reads text as Latin-1 and would write any character
    outside ASCII as '?' (UTF-8 '© Müller' as '?? M??ller'), so such text goes back as its bytes."""
    return value.encode("latin-1", "replace") if isinstance(value, str) and not value.isascii() else value


def _metadata(exif: Image.Exif, *, dpi: tuple[float, float] | None, xmp: bytes | str | None, has_iptc: bool,
              png_text: tuple[tuple[str, str], ...] = ()) -> ImageMetadata:
    """The metadata worth carrying from ``exif`` (a photo's EXIF, or a TIFF's first directory) and the rest."""
    kept = Image.Exif()
    for tag in _DESCRIPTIVE_TAGS:
        if isinstance(exif.get(tag), str) and exif[tag].strip("\x00 "):
            kept[tag] = _as_read(exif[tag])
    description = kept.get(ExifTags.Base.ImageDescription)
    if isinstance(description, str) and description.lstrip().startswith(_STORAGE_DESCRIPTIONS):
        del kept[ExifTags.Base.ImageDescription]  # the grey file's layout: wrong for the colour one
    for ifd in _SUB_IFDS:
        values = {tag: _as_read(value) for tag, value in exif.get_ifd(ifd).items() if tag != _MAKER_NOTE}
        if values:
            kept[ifd] = values
    packet = xmp.encode() if isinstance(xmp, str) else xmp
    return ImageMetadata(exif=kept if len(kept) else None, dpi=dpi, png_text=png_text,
                         xmp=_XMP_ORIENTATION.sub(b"", packet) if packet else None,
                         has_iptc=has_iptc or _IPTC_TAG in exif)


def _read_metadata(image: Image.Image, exif: Image.Exif) -> ImageMetadata:
    """The metadata of a file Pillow identified; ``exif`` is ``image.getexif()``."""
    text = getattr(image, "text", None) or {}  # PNG tEXt, zTXt and iTXt chunks (read before info's XMP)
    return _metadata(exif, dpi=_stored_dpi(image, exif), xmp=image.info.get("xmp"),
                     has_iptc=_PHOTOSHOP_IPTC in image.info.get("photoshop", {}) or "Raw profile type iptc" in text,
                     png_text=tuple((key, str(value)) for key, value in text.items() if key in _PNG_TEXT_KEYS))


def _stored_dpi(image: Image.Image, exif: Image.Exif) -> tuple[float, float] | None:
    """The resolution the file really stores: Pillow reports 1 dpi for a TIFF without one and 72 for a JPEG
    whose EXIF has none, so a TIFF's and a JPEG's (without JFIF density) come from their tags."""
    if image.format == "TIFF" or (image.format == "JPEG" and image.info.get("jfif_unit") not in (1, 2)):
        return _ifd_dpi(exif)
    return _dpi(image.info.get("dpi"))


def _ifd_dpi(ifd: Mapping[int, object]) -> tuple[float, float] | None:
    """Dots per inch from TIFF/EXIF XResolution, YResolution and ResolutionUnit; None without them or a unit."""
    per_unit = {2: 1.0, 3: 2.54}.get(ifd.get(ExifTags.Base.ResolutionUnit, 2))  # inch (the default), centimetre
    x, y = ifd.get(ExifTags.Base.XResolution), ifd.get(ExifTags.Base.YResolution)
    if per_unit is None or x is None or y is None:
        return None
    try:
        return _dpi((float(x) * per_unit, float(y) * per_unit))
    except (TypeError, ValueError, ZeroDivisionError):  # a malformed tag stores no usable resolution
        return None


def _dpi(pair: object) -> tuple[float, float] | None:
    """``pair`` as a resolution when it is two finite positive numbers."""
    if not isinstance(pair, tuple) or len(pair) != 2:
        return None
    x, y = float(pair[0]), float(pair[1])
    return (x, y) if all(math.isfinite(v) and v > 0 for v in (x, y)) else None


@dataclass
class LoadedImage:
    """A decoded image in display orientation.

    ``rgb`` is ``(H, W, 3)`` float32 in [0, 1] (sRGB: pixels with a colour profile are converted);
    ``alpha`` is ``(H, W)`` float32 in [0, 1] or None; ``bit_depth`` (8 or 16) is the source's
    per-channel depth. ``grey`` is the luminance to colourise: a grey source's own values, otherwise the
    neutral sRGB grey whose Lab L equals the pixel's Lab L (sRGB/D65, the same as ``skimage.color.rgb2lab``).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    grey: np.ndarray
    metadata: ImageMetadata = ImageMetadata()


@dataclass(frozen=True)
class _Source:
    """A decoded file: ``pixels`` (uint8, uint16 or float, samples last, RGB order, alpha last) still to be
    turned by EXIF ``orientation`` and converted from its ICC ``profile``."""

    pixels: np.ndarray
    orientation: int
    is_grey: bool
    profile: bytes | None
    metadata: ImageMetadata


def is_image_suffix(path: str | Path) -> bool:
    """True when the file name ends in one of :data:`IMAGE_SUFFIXES` (any case)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def check_image_output(path: str | Path) -> None:
    """Refuse, before any work, an output name whose extension is not a photo format we write."""
    path = Path(path)
    if not path.suffix:
        raise OutputError(f"output '{path.name}' has no file extension; end it in one of {', '.join(IMAGE_SUFFIXES)}")
    if not is_image_suffix(path):
        raise OutputError(f"cannot write images as '{path.suffix}': use one of {', '.join(IMAGE_SUFFIXES)}")


def check_image_size(suffix: str, width: int, height: int) -> None:
    """Refuse, before any work, a picture larger than its output format can hold (WebP: 16,383 px a side,
    JPEG: 65,500)."""
    limit = _MAX_SIDE.get(suffix.lower())
    if limit is not None and max(width, height) > limit:
        raise OutputError(f"a {width}x{height} picture is too large for {suffix} (at most {limit} px a side); "
                          "write .png or .tif instead")


def read_image(path: Path) -> LoadedImage:
    """Decode ``path`` at full resolution; raise :class:`InputError` if it is not a usable image."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}; check the path")
    if path.stat().st_size == 0:
        raise InputError(f"image is empty (0 bytes): {path}; re-export or re-download it")
    try:
        source = _open(path)
    except Image.UnidentifiedImageError as e:
        raise InputError(f"not a readable image: {path}; use one of {', '.join(IMAGE_SUFFIXES)}") from e
    except Image.DecompressionBombError as e:
        raise InputError(f"image too large to decode safely: {path}; downscale it first ({e})") from e
    except (OSError, ValueError, SyntaxError, cv2.error, tifffile.TiffFileError) as e:
        raise InputError(f"image is truncated or corrupt: {path}; re-export it ({e})") from e
    if _is_tiff(path) and (pages := _tiff_pages(path)) > 1:
        warnings.warn(f"{path} holds {pages} pages; only the first is coloured", category=VidcolorWarning, stacklevel=2)
    pixels = _ORIENT.get(source.orientation, np.asarray)(source.pixels)
    if pixels.dtype.kind == "f":
        pixels = _float_as_16_bit(pixels, path)
    if source.profile:
        pixels = _in_srgb(pixels, source.profile, path)
    bit_depth = 16 if pixels.dtype == np.uint16 else 8
    values = pixels.astype(np.float32) / np.float32(65535 if bit_depth == 16 else 255)
    if values.ndim == 2:
        values = values[..., None]
    colour = values[..., :3] if values.shape[2] >= 3 else np.repeat(values[..., :1], 3, axis=2)
    alpha = values[..., -1] if values.shape[2] in (2, 4) else None
    grey = colour[..., 0] if source.is_grey else _neutral_grey(colour)
    return LoadedImage(
        rgb=np.ascontiguousarray(colour),
        alpha=None if alpha is None else np.ascontiguousarray(alpha),
        bit_depth=bit_depth,
        grey=np.ascontiguousarray(grey),
        metadata=source.metadata,
    )


def _is_tiff(path: Path) -> bool:
    """True when the file starts as a TIFF does."""
    with path.open("rb") as file:
        return file.read(4) in _TIFF_MAGIC


def _tiff_pages(path: Path) -> int:
    """Full-resolution pages of a TIFF (not its thumbnails or reduced copies); 1 when its page chain is damaged."""
    try:
        with tifffile.TiffFile(path) as tif:
            return sum(1 for page in tif.pages if not page.subfiletype & tifffile.FILETYPE.REDUCEDIMAGE)
    except Exception:  # noqa: BLE001 - the first page has decoded; a broken pointer after it only hides the rest
        return 1


def _open(path: Path) -> _Source:
    """Decode ``path`` with Pillow, or a TIFF layout Pillow does not know with tifffile or OpenCV."""
    try:
        image = Image.open(path)
    except Image.UnidentifiedImageError:
        if not _is_tiff(path):
            raise
        return _open_tiff(path)
    with image:
        return _open_pillow(path, image)


def _open_pillow(path: Path, image: Image.Image) -> _Source:
    """Decode a file Pillow identified; a TIFF with an Orientation tag is decoded as stored."""
    exif = image.getexif()
    orientation = int(exif.get(_ORIENTATION, 1))
    metadata = _read_metadata(image, exif)
    stored = _stored_tiff(path) if image.format == "TIFF" else None
    if stored is not None:
        with Image.open(io.BytesIO(stored)) as plain:
            pixels = _decode(path, plain)
    else:
        pixels = _decode(path, image)
        if _ORIENTATION not in image.getexif():
            orientation = 1  # the decoder turned the pixels itself (Pillow: a TIFF turned by its XMP)
    return _Source(pixels, orientation, image.mode in _GREY_MODES, image.info.get("icc_profile"), metadata)


def _open_tiff(path: Path) -> _Source:
    """Decode a TIFF layout Pillow does not know (16-bit grey with alpha, float RGB) with tifffile or OpenCV."""
    exif = Image.Exif()
    exif.load(path.read_bytes())  # a TIFF's first directory reads as EXIF: tags, sub-directories and all
    pixels = _tiff_pixels(path)
    metadata = _metadata(exif, dpi=_ifd_dpi(exif), xmp=exif.get(_XMP_TAG), has_iptc=False)
    is_grey = pixels.ndim == 2 or pixels.shape[2] < 3
    return _Source(pixels, int(exif.get(_ORIENTATION, 1)), is_grey, exif.get(_ICC_TAG), metadata)


def _stored_tiff(path: Path) -> bytes | None:
    """The TIFF's bytes with its first page's Orientation tag set to 1, so that decoders that turn a TIFF
    themselves (Pillow 13, OpenCV) give the stored pixels; None when the tag is absent or 1."""
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags.get(_ORIENTATION)
        if tag is None or tag.value == 1 or tag.dtype not in _TIFF_INTEGERS or tag.count != 1:
            return None
        one, offset = struct.pack(tif.byteorder + _TIFF_INTEGERS[tag.dtype], 1), tag.valueoffset
    data = bytearray(path.read_bytes())
    data[offset:offset + len(one)] = one
    return bytes(data)


def _decode(path: Path, image: Image.Image) -> np.ndarray:
    """``image``'s pixels as uint8, uint16 or float ``(H, W)`` or ``(H, W, C)`` with C in 2..4, RGB(A) order."""
    if image.format == "PNG" and image.mode in ("RGB", "RGBA", "LA"):
        pixels = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if pixels is None:
            raise ValueError("OpenCV could not decode the PNG")
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    if image.format == "TIFF" and image.mode in ("RGB", "RGBA") and max(image.tag_v2.get(258, (8,))) > 8:
        return _tiff_pixels(path)
    if image.mode.startswith("I"):
        return _keyed_alpha(np.clip(np.asarray(image, dtype=np.int64), 0, 65535).astype(np.uint16), image)
    if image.mode == "F":  # 32-bit float grey (scientific TIFFs)
        return np.asarray(image)
    if image.mode == "L":
        return _keyed_alpha(np.asarray(image), image)
    if image.mode in ("LA", "RGB", "RGBA"):
        return np.asarray(image)
    if image.mode == "1":
        return np.asarray(image.convert("L"))
    return np.asarray(image.convert("RGBA" if image.has_transparency_data else "RGB"))


def _keyed_alpha(grey: np.ndarray, image: Image.Image) -> np.ndarray:
    """``grey`` with an alpha channel when its PNG names one grey level transparent (a tRNS chunk)."""
    key = image.info.get("transparency")
    if not isinstance(key, int):
        return grey
    opaque = np.iinfo(grey.dtype).max
    return np.dstack([grey, np.where(grey == key, 0, opaque).astype(grey.dtype)])


def _tiff_pixels(path: Path) -> np.ndarray:
    """A TIFF's first page as stored, samples last (colour, then alpha if there), with tifffile, or with
    OpenCV where tifffile has no codec without imagecodecs (LZW, JPEG)."""
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        colours = _TIFF_COLOURS.get(page.photometric)
        if colours is None or page.samplesperpixel < colours or not _readable_samples(page.dtype):
            raise InputError(f"{path} is a {_layout(page)} TIFF, a layout vidcolor cannot read; "
                             "save it as 8- or 16-bit grey or RGB")
        if page.compression not in tifffile.TIFF.DECOMPRESSORS:
            pixels = _opencv_tiff(path, page)
        else:
            pixels = page.asarray()
            if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and pixels.ndim == 3:
                pixels = np.moveaxis(pixels, 0, -1)
    return pixels if pixels.ndim == 2 else pixels[..., :colours + 1]  # further samples are no picture


def _readable_samples(dtype: np.dtype | None) -> bool:
    """True for 8- and 16-bit unsigned and float samples."""
    return dtype is not None and (dtype.kind == "f" or dtype in (np.dtype(np.uint8), np.dtype(np.uint16)))


def _layout(page: tifffile.TiffPage) -> str:
    """A TIFF page's pixels in words, such as '16-bit unsigned integer MINISBLACK (2 samples per pixel)'."""
    kind = {"u": "unsigned integer", "i": "signed integer", "f": "float"}.get(getattr(page.dtype, "kind", ""), "")
    samples = f"{page.samplesperpixel} sample{'s' if page.samplesperpixel > 1 else ''} per pixel"
    words = " ".join(part for part in (f"{page.bitspersample}-bit", kind, page.photometric.name) if part)
    return f"{words} ({samples})"


def _opencv_tiff(path: Path, page: tifffile.TiffPage) -> np.ndarray:
    """``page`` decoded by OpenCV from the file as stored (OpenCV would turn it by its Orientation tag, and fails
    to for 5 to 8), in RGB order; :class:`InputError` naming what is missing when OpenCV cannot either."""
    pixels = cv2.imdecode(np.frombuffer(_stored_tiff(path) or path.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    samples = (page.samplesperpixel,) if page.samplesperpixel > 1 else ()
    if pixels is None or pixels.shape != (page.imagelength, page.imagewidth, *samples) or pixels.dtype != page.dtype:
        raise InputError(f"cannot decode {path}: tifffile needs the imagecodecs package for its "
                         f"{page.compression.name} compression and OpenCV cannot read its {_layout(page)} pixels; "
                         "save it uncompressed or with ZIP compression, or install imagecodecs")
    if pixels.ndim == 3 and pixels.shape[2] >= 3:
        pixels[..., [0, 2]] = pixels[..., [2, 0]]  # OpenCV's BGR(A) order
    return pixels


def _float_as_16_bit(values: np.ndarray, path: Path) -> np.ndarray:
    """Float pixels, black 0.0 to white 1.0 (scientific TIFFs), as uint16; refused outside that range."""
    slack = 1e-6  # float rounding at the ends of the range
    if not (np.isfinite(values).all() and values.min() >= -slack and values.max() <= 1 + slack):
        raise InputError(f"{path} holds {values.dtype.itemsize * 8}-bit float pixels outside 0..1 "
                         f"({np.nanmin(values):.7g} to {np.nanmax(values):.7g}); convert it to a 16-bit image first")
    return np.rint(np.clip(values.astype(np.float64), 0, 1) * 65535).astype(np.uint16)


def _in_srgb(pixels: np.ndarray, profile: bytes, path: Path) -> np.ndarray:
    """``pixels`` converted from their ICC ``profile`` to sRGB with littlecms (alpha kept, grey kept grey);
    left as they are, with a warning, where that cannot be done and the profile is not sRGB's."""
    grey = pixels.ndim == 2 or pixels.shape[2] < 3
    grey_profile = profile[16:20] == b"GRAY"  # the ICC header's colour space
    transform = _transform_to_srgb(profile, grey_profile) if grey or not grey_profile else None
    if transform is None:
        _warn_profile(path, profile, "it is unreadable or does not fit the pixels")
        return pixels
    if _keeps_srgb(transform, grey_profile):
        return pixels
    if pixels.dtype != np.uint8:
        _warn_profile(path, profile, "vidcolor converts only 8-bit pixels between profiles")
        return pixels
    has_alpha = pixels.ndim == 3 and pixels.shape[2] in (2, 4)
    colour = pixels[..., :-1] if has_alpha else pixels
    if grey:  # one channel, or three equal ones for an RGB profile
        colour = colour.reshape(pixels.shape[:2])
        colour = colour if grey_profile else np.repeat(colour[..., None], 3, axis=2)
    converted = np.asarray(ImageCms.applyTransform(Image.fromarray(colour), transform))
    if grey:
        converted = converted[..., 1]  # neutral: red, green and blue agree
    return np.dstack([converted, pixels[..., -1]]) if has_alpha else converted


def _transform_to_srgb(profile: bytes, grey: bool) -> ImageCms.ImageCmsTransform | None:
    """littlecms's transform from the grey or RGB ``profile`` to sRGB; None when it is unreadable or of
    another colour space."""
    try:
        return ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(profile)), _SRGB, "L" if grey else "RGB",
                                       "RGB")
    except (OSError, ImageCms.PyCMSError):
        return None


def _keeps_srgb(transform: ImageCms.ImageCmsTransform, grey: bool) -> bool:
    """True when ``transform`` leaves sRGB values alone (within 1 in 255): its source profile is sRGB (or,
    for grey, has sRGB's tone curve)."""
    levels = np.arange(0, 256, 17, dtype=np.uint8)  # 16 levels a channel
    probe = np.arange(256, dtype=np.uint8)[None] if grey else np.stack(
        np.meshgrid(levels, levels, levels), axis=-1).reshape(1, -1, 3)
    result = np.asarray(ImageCms.applyTransform(Image.fromarray(probe), transform), dtype=np.int16)
    expected = probe[..., None] if grey else probe
    return bool(np.abs(result - expected).max() <= 1)


def _warn_profile(path: Path, profile: bytes, why: str) -> None:
    """Say that the colour ``profile`` of the photo at ``path`` was not applied, and why."""
    try:
        name = f" '{ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile))).strip()}'"
    except (OSError, ImageCms.PyCMSError):
        name = ""
    warnings.warn(f"{path}: its colour profile{name} was not applied ({why}), so its colours are read as sRGB; "
                  "convert it to sRGB first for exact colour", category=VidcolorWarning, stacklevel=4)


def _neutral_grey(rgb: np.ndarray) -> np.ndarray:
    """sRGB grey with the same CIE luminance Y (hence Lab L) as each sRGB pixel."""
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    luminance = linear @ np.array([0.212671, 0.715160, 0.072169], dtype=np.float32)
    encoded = np.where(
        luminance > 0.0031308, 1.055 * np.maximum(luminance, 1e-12) ** (1 / 2.4) - 0.055, 12.92 * luminance
    )
    return np.clip(encoded, 0.0, 1.0).astype(np.float32)


def write_image(
    path: Path,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    bit_depth: int = 8,
    *,
    format_suffix: str | None = None,
    metadata: ImageMetadata = ImageMetadata(),
    name: str | None = None,
) -> None:
    """Write sRGB ``rgb`` (and ``alpha``), values in [0, 1], untagged, choosing the format from the name, with
    ``metadata`` (EXIF where the format has it: not in BMP, and TIFF keeps the descriptive tags but not the EXIF
    sub-directories; XMP except in BMP; resolution).

    The format comes from ``format_suffix`` when given (for a temporary name whose extension is not the
    output's), else from ``path``'s extension; ``name`` is the output's name for warnings (default: ``path``'s).
    16-bit is written for PNG/TIFF when ``bit_depth == 16``, otherwise 8-bit; alpha is kept for PNG, TIFF and
    WebP, and JPEG/BMP get the picture laid over white (with a warning if any of it was transparent); JPEG and
    WebP use quality 95. Warns about metadata left out (IPTC always; EXIF or XMP over 64 KB for JPEG).
    Raises :class:`OutputError` for an unsupported extension or a file that cannot be written;
    ``ValueError`` for malformed arrays.
    """
    path = Path(path)
    shown = name if name is not None else path.name
    suffix = (format_suffix if format_suffix is not None else path.suffix).lower()
    check_image_output(Path(path.stem + suffix) if format_suffix is not None else path)
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")
    if alpha is not None and np.shape(alpha) != rgb.shape[:2]:
        raise ValueError(f"alpha must have shape {rgb.shape[:2]}, got {np.shape(alpha)}")
    check_image_size(suffix, rgb.shape[1], rgb.shape[0])
    if not path.parent.is_dir():
        raise OutputError(f"output folder does not exist: {path.parent}; create it first")
    channels = rgb
    if alpha is not None and suffix in _ALPHA_SUFFIXES:
        channels = np.concatenate([rgb, np.asarray(alpha)[..., None]], axis=2)
    elif alpha is not None:
        channels = _over_white(rgb, np.asarray(alpha), suffix, shown)
    deep = bit_depth == 16 and suffix in _DEEP_SUFFIXES
    scale, dtype = (65535, np.uint16) if deep else (255, np.uint8)
    pixels = np.rint(np.clip(channels, 0.0, 1.0) * scale).astype(dtype)
    try:
        if suffix in (".tif", ".tiff"):
            _write_tiff(path, pixels, metadata)
        elif suffix == ".png":
            order = cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
            ok, encoded = cv2.imencode(suffix, cv2.cvtColor(pixels, order))
            if not ok:
                raise OutputError(f"OpenCV could not encode {path} as {suffix}; try .png")
            path.write_bytes(_with_png_metadata(encoded.tobytes(), metadata))
        else:
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format=_PILLOW_FORMATS[suffix],
                                         **_pillow_options(_PILLOW_FORMATS[suffix], metadata, shown))
            path.write_bytes(buffer.getvalue())
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}; check permissions and free space") from e
    except cv2.error as e:
        raise OutputError(f"OpenCV could not encode {path} as {suffix}; try .png") from e
    if metadata.has_iptc:
        warnings.warn(f"{shown}: the photo's IPTC data (caption, keywords, credits) is not carried over; "
                      "copy it with a metadata tool such as exiftool", category=VidcolorWarning, stacklevel=2)


def _over_white(rgb: np.ndarray, alpha: np.ndarray, suffix: str, shown: str) -> np.ndarray:
    """``rgb`` laid over white by ``alpha``, for a format without transparency; warns if any of it was
    transparent."""
    coverage = np.clip(alpha, 0.0, 1.0)[..., None]
    if np.any(coverage < 1):
        warnings.warn(f"{shown}: {suffix} keeps no transparency, so the picture is laid over white; "
                      "write .png, .tif or .webp to keep it", category=VidcolorWarning, stacklevel=3)
    return rgb * coverage + (1 - coverage)


def _pillow_options(pillow_format: str, metadata: ImageMetadata, shown: str) -> dict[str, object]:
    """Pillow's save options for JPEG, WebP or BMP: quality, resolution, EXIF and XMP where the format has them."""
    options: dict[str, object] = {} if pillow_format == "BMP" else {"quality": 95}
    if metadata.dpi is not None:
        options["dpi"] = metadata.dpi
    if pillow_format == "BMP":
        if metadata.xmp:
            warnings.warn(f"{shown}: BMP has no place for the photo's XMP data, so it is not carried over; "
                          "write .jpg, .png, .tif or .webp to keep it", category=VidcolorWarning, stacklevel=3)
        return options
    if metadata.exif is not None:
        exif = _jpeg_exif(metadata.exif, shown) if pillow_format == "JPEG" else metadata.exif.tobytes()
        if exif:
            options["exif"] = exif
    if metadata.xmp and pillow_format == "JPEG" and len(metadata.xmp) > _JPEG_XMP_LIMIT:
        warnings.warn(f"{shown}: the photo's XMP data is over 64 KB, more than a JPEG holds, so it is not carried "
                      "over; write .png, .tif or .webp to keep it", category=VidcolorWarning, stacklevel=3)
    elif metadata.xmp:
        options["xmp"] = metadata.xmp
    return options


def _jpeg_exif(exif: Image.Exif, shown: str) -> bytes:
    """``exif`` as bytes that fit one JPEG segment: the largest values of its EXIF and GPS sub-directories are
    left out first, all of it if that is not enough; warns about what was left out."""
    data = exif.tobytes()
    if len(data) <= _JPEG_EXIF_LIMIT:
        return data
    trimmed = Image.Exif()
    for tag, value in exif.items():
        trimmed[tag] = dict(value) if isinstance(value, dict) else value
    entries = [(ifd, tag) for ifd in _SUB_IFDS if isinstance(trimmed.get(ifd), dict) for tag in trimmed[ifd]]
    entries.sort(key=lambda entry: _size(trimmed[entry[0]][entry[1]]), reverse=True)
    left_out = []
    for ifd, tag in entries:
        del trimmed[ifd][tag]
        left_out.append((ExifTags.GPSTAGS if ifd == ExifTags.IFD.GPSInfo else ExifTags.TAGS).get(tag, f"tag {tag}"))
        data = trimmed.tobytes()
        if len(data) <= _JPEG_EXIF_LIMIT:
            warnings.warn(f"{shown}: the photo's EXIF is over 64 KB, more than a JPEG holds, so its "
                          f"{', '.join(left_out)} {'is' if len(left_out) == 1 else 'are'} left out; "
                          "write .png or .webp to keep all of it", category=VidcolorWarning, stacklevel=4)
            return data
    warnings.warn(f"{shown}: the photo's EXIF is over 64 KB, more than a JPEG holds, so it is not carried over; "
                  "write .png or .webp to keep it", category=VidcolorWarning, stacklevel=4)
    return b""


def _size(value: object) -> int:
    """Roughly how many bytes an EXIF value takes: its length for text and bytes (numbers are small)."""
    return len(value) if isinstance(value, (bytes, str)) else 0


def _write_tiff(path: Path, pixels: np.ndarray, metadata: ImageMetadata) -> None:
    exif = metadata.exif or Image.Exif()
    tags = [(tag, kind, 0, exif[tag], True) for tag, kind in _DESCRIPTIVE_TAGS.items() if tag in exif]
    if metadata.xmp:
        tags.append((_XMP_TAG, "B", len(metadata.xmp), metadata.xmp, True))
    tifffile.imwrite(path, pixels, photometric="rgb", extrasamples="unassalpha" if pixels.shape[2] == 4 else None,
                     compression="zlib", metadata=None, software=False, datetime=False, extratags=tags,
                     resolution=metadata.dpi, resolutionunit="INCH" if metadata.dpi else None)


# the PNG specification's descriptive keywords; others (such as software settings) describe the grey file
# more than the photo (an XMP packet is carried as such)
_PNG_TEXT_KEYS = frozenset({"Title", "Author", "Description", "Copyright", "Creation Time", "Source", "Comment"})


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_itxt(key: str, text: bytes) -> bytes:
    """An iTXt chunk: keyword, no compression, no language, UTF-8 text."""
    return _png_chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text)


def _with_png_metadata(png: bytes, metadata: ImageMetadata) -> bytes:
    """``png`` with pHYs (resolution), eXIf (EXIF) and iTXt (the source PNG's text, XMP) chunks after its IHDR."""
    chunks = b"".join(_png_itxt(key, value.encode("utf-8")) for key, value in metadata.png_text)
    if metadata.xmp:
        chunks += _png_itxt("XML:com.adobe.xmp", metadata.xmp)
    if metadata.dpi is not None:
        per_metre = [round(value / 0.0254) for value in metadata.dpi]
        chunks += _png_chunk(b"pHYs", struct.pack(">IIB", per_metre[0], per_metre[1], 1))
    if metadata.exif is not None:
        chunks += _png_chunk(b"eXIf", metadata.exif.tobytes().removeprefix(b"Exif\x00\x00"))
    end_of_header = 8 + 8 + 13 + 4  # signature, then IHDR: length, type, 13 bytes, CRC
    return png[:end_of_header] + chunks + png[end_of_header:]
