"""Read and write still images as float RGB in [0, 1], keeping bit depth, alpha, orientation and metadata.

Pillow identifies every file, reads its EXIF/TIFF orientation and metadata (see :mod:`.image_metadata`) and
decodes the 8-bit modes (grey, palette, CMYK, ...). Pillow truncates 16-bit colour, so colour PNGs are
decoded with OpenCV and 16-bit colour TIFFs, like the TIFF layouts Pillow does not know (16-bit grey with
alpha, float RGB), by :mod:`.tiff_pixels`. Every picture is turned upright exactly once, by its EXIF
orientation (without one, its XMP's): a TIFF with an Orientation tag is decoded as stored (Pillow 13 and
OpenCV would turn it themselves, Pillow scrambling uncompressed grey ones) and then turned. Pixels with an
ICC profile are converted to sRGB (:mod:`.colour_profiles`), CMYK ones while decoding; outputs are written
untagged, which means sRGB.
Writing uses OpenCV for PNG (8 and 16 bit; the metadata chunks are added to its bytes), Pillow for
JPEG/WebP/BMP and tifffile for TIFF, so the output format follows the name given, not the file's real path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import io
import struct
import threading
import warnings

import cv2
import numpy as np
import tifffile
from PIL import ExifTags, Image, ImageChops, PngImagePlugin

from vidcolor.errors import InputError, OutputError, VidcolorWarning, first_line
from vidcolor.io.colour_profiles import cmyk_to_srgb, convert_to_srgb
from vidcolor.io.image_metadata import (
    ImageMetadata, pillow_save_options, read_pillow_metadata, read_tiff_metadata, tiff_metadata_tags, with_png_metadata,
    xmp_orientation,
)
from vidcolor.io.tiff_pixels import (
    count_tiff_pages, is_tiff, orientation_value, read_tiff_pixels, tiff_bytes_unturned, tiff_orientation,
)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")

_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_ALPHA_SUFFIXES = frozenset({".png", ".tif", ".tiff", ".webp"})
_DEEP_SUFFIXES = frozenset({".png", ".tif", ".tiff"})
_PILLOW_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}
_ORIENTATION = ExifTags.Base.Orientation
_ICC_TAG = 34675  # a TIFF's ICC profile
_MAX_SIDE = {".jpg": 65500, ".jpeg": 65500, ".webp": 16383}  # libjpeg's and libwebp's largest width or height
_NO_METADATA = ImageMetadata()
_PNG_CHUNK_LIMIT = 64 << 20  # bytes a PNG's colour profile or text chunk may decompress to
_PNG_LIMIT_LOCK = threading.Lock()
_PNG_GREY_ALPHA = 4  # a PNG's colour type for grey with alpha

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
    metadata: ImageMetadata = _NO_METADATA


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
        with warnings.catch_warnings(record=True) as library_warnings:  # Pillow's and tifffile's name no file
            warnings.simplefilter("always")
            source = _open(path)
    except Image.UnidentifiedImageError as e:
        raise InputError(f"not a readable image: {path} (damaged, or a format vidcolor cannot read); re-export it "
                         f"as one of {', '.join(IMAGE_SUFFIXES)}") from e
    except Image.DecompressionBombError as e:
        raise InputError(f"image too large to decode safely: {path}; downscale it first ({e})") from e
    except (OSError, ValueError, SyntaxError, cv2.error, tifffile.TiffFileError) as e:
        raise InputError(f"image is truncated or corrupt: {path}; re-export it ({e})") from e
    for caught in library_warnings:
        if issubclass(caught.category, (VidcolorWarning, DeprecationWarning, PendingDeprecationWarning, FutureWarning,
                                         ResourceWarning)):
            warnings.warn(caught.message, stacklevel=2)  # ours name the file; notices for developers stay as they are
        else:
            warnings.warn(f"{path}: {caught.message}", category=VidcolorWarning, stacklevel=2)
    if is_tiff(path) and (pages := count_tiff_pages(path)) > 1:
        warnings.warn(f"{path} holds {pages} pages; only the first is coloured", category=VidcolorWarning, stacklevel=2)
    pixels = _ORIENT.get(source.orientation, np.asarray)(source.pixels)
    if pixels.dtype.kind == "f":
        pixels = _float_as_16_bit(pixels, path)
    if source.profile:
        pixels = convert_to_srgb(pixels, source.profile, path)
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


def _open(path: Path) -> _Source:
    """Decode ``path`` with Pillow, or a TIFF layout Pillow does not know with tifffile or OpenCV."""
    try:
        image = _pillow_open(path)
    except Image.UnidentifiedImageError:
        if not is_tiff(path):
            raise
        try:
            return _open_tiff(path)
        except (IndexError, KeyError, TypeError) as e:  # tifffile on a damaged directory: no pages, odd tag types
            raise InputError(f"image is truncated or corrupt: {path}; its TIFF directory is damaged "
                             f"({type(e).__name__}: {first_line(e)}); re-export it") from e
    with image:
        return _open_pillow(path, image)


def _pillow_open(path: Path) -> Image.Image:
    """``Image.open``; for a PNG whose colour profile or text before its pixels decompresses to over Pillow's
    1 MB (profiles with fine tables, Photoshop's XMP), again with a limit of 64 MB, which zlib still stops at."""
    try:
        return Image.open(path)
    except ValueError as e:
        if "MAX_TEXT_CHUNK" not in str(e):
            raise
    with _PNG_LIMIT_LOCK:  # Pillow's limit is a module setting: other threads' reads see it only raised
        limit = PngImagePlugin.MAX_TEXT_CHUNK
        PngImagePlugin.MAX_TEXT_CHUNK = max(limit, _PNG_CHUNK_LIMIT)
        try:
            return Image.open(path)
        except ValueError as e:
            if "MAX_TEXT_CHUNK" not in str(e):
                raise
            raise InputError(f"{path} holds a colour profile or text that decompresses to over "
                             f"{_PNG_CHUNK_LIMIT >> 20} MB, more than is read safely; re-save it without it") from e
        finally:
            PngImagePlugin.MAX_TEXT_CHUNK = limit


def _open_pillow(path: Path, image: Image.Image) -> _Source:
    """Decode a file Pillow identified; a TIFF with an Orientation tag is decoded as stored."""
    exif = image.getexif()
    stated = _ORIENTATION in exif  # in EXIF or TIFF tags, or in XMP as Pillow reads it (prefix "tiff:")
    orientation = orientation_value(exif[_ORIENTATION]) if stated else xmp_orientation(image.info.get("xmp"))
    metadata = read_pillow_metadata(image, exif)
    stored = tiff_bytes_unturned(path) if image.format == "TIFF" else None
    if stored is not None:
        with Image.open(io.BytesIO(stored)) as plain:
            pixels = _decode(path, plain)
    else:
        pixels = _decode(path, image)
        if stated and _ORIENTATION not in image.getexif():
            orientation = 1  # the decoder turned the pixels itself (Pillow: a TIFF turned by its XMP)
    profile = None if image.mode == "CMYK" else image.info.get("icc_profile")  # a CMYK one is applied in decoding
    is_grey = image.mode in _GREY_MODES or pixels.shape[2:] == (2,)  # a 16-bit grey + alpha PNG's mode is RGBA
    return _Source(pixels, orientation, is_grey, profile, metadata)


def _open_tiff(path: Path) -> _Source:
    """Decode a TIFF layout Pillow does not know (16-bit grey with alpha, float RGB) with tifffile or OpenCV."""
    exif = Image.Exif()
    try:
        exif.load(path.read_bytes())  # a TIFF's first directory reads as EXIF: tags, sub-directories and all
    except (struct.error, ValueError, SyntaxError):  # BigTIFF, which Pillow's EXIF reader does not know
        exif = Image.Exif()
        warnings.warn(f"{path}: its metadata (caption, resolution, profile) cannot be read from this BigTIFF "
                      "and is not carried over", category=VidcolorWarning, stacklevel=4)
    pixels = read_tiff_pixels(path)
    metadata = read_tiff_metadata(exif)
    is_grey = pixels.ndim == 2 or pixels.shape[2] < 3
    return _Source(pixels, tiff_orientation(path), is_grey, exif.get(_ICC_TAG), metadata)


def _decode(path: Path, image: Image.Image) -> np.ndarray:
    """``image``'s pixels as uint8, uint16 or float ``(H, W)`` or ``(H, W, C)`` with C in 2..4, RGB(A) order."""
    if image.format == "PNG" and image.mode in ("RGB", "RGBA", "LA"):
        pixels = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if pixels is None:
            raise ValueError("OpenCV could not decode the PNG")
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB)
        # OpenCV gives grey + alpha as four channels (and Pillow calls a 16-bit one RGBA)
        header = _png_header(path)
        return pixels[..., [0, 3]] if header is not None and header[1] == _PNG_GREY_ALPHA else pixels
    if image.format == "TIFF" and image.mode in ("RGB", "RGBA") and max(image.tag_v2.get(258, (8,))) > 8:
        return read_tiff_pixels(path)
    if image.mode.startswith("I"):
        return _keyed_alpha(np.clip(np.asarray(image, dtype=np.int64), 0, 65535).astype(np.uint16), image)
    if image.mode == "F":  # 32-bit float grey (scientific TIFFs)
        return np.asarray(image)
    if image.mode == "L":
        return _keyed_alpha(np.asarray(image), image, _png_grey_bits(path, image))
    if image.mode == "1" and isinstance(image.info.get("transparency"), int):  # a 1-bit PNG's (key 0 or 255)
        return _keyed_alpha(np.asarray(image.convert("L")), image)
    if image.mode in ("LA", "RGB", "RGBA"):
        return np.asarray(image)
    if image.mode == "CMYK":
        return cmyk_to_srgb(_cmyk_ink(image), image.info.get("icc_profile"), path)
    if image.mode == "1":
        return np.asarray(image.convert("L"))
    return np.asarray(image.convert("RGBA" if image.has_transparency_data else "RGB"))


def _cmyk_ink(image: Image.Image) -> Image.Image:
    """A CMYK ``image`` as ink values (0 none): Pillow reads every CMYK JPEG as Adobe's, whose values are
    inverted and which says so with its APP14 marker; a JPEG without the marker stores ink values (read as
    a negative, a grey print came out black), so Pillow's inversion is undone."""
    return ImageChops.invert(image) if image.format == "JPEG" and "adobe" not in image.info else image


def _keyed_alpha(grey: np.ndarray, image: Image.Image, bits: int = 8) -> np.ndarray:
    """``grey`` with an alpha channel when its PNG names one grey level transparent (a tRNS chunk); the key
    is stored at the PNG's bit depth, which Pillow scales the pixels of 2 and 4 bits from, not the key."""
    key = image.info.get("transparency")
    if not isinstance(key, int):
        return grey
    if bits < 8:
        key = key * 255 // ((1 << bits) - 1)
    opaque = np.iinfo(grey.dtype).max
    return np.dstack([grey, np.where(grey == key, 0, opaque).astype(grey.dtype)])


def _png_grey_bits(path: Path, image: Image.Image) -> int:
    """A grey PNG's bit depth (2, 4 or 8: the IHDR's; Pillow reads 1-bit grey as mode "1"), 8 for other files."""
    header = _png_header(path) if image.format == "PNG" else None
    return header[0] if header is not None and header[0] in (2, 4) else 8


def _png_header(path: Path) -> tuple[int, int] | None:
    """A PNG's bit depth and colour type (0 grey, 2 RGB, 3 palette, 4 grey with alpha, 6 RGBA), from its IHDR."""
    with path.open("rb") as file:
        header = file.read(26)
    return (header[24], header[25]) if len(header) == 26 else None


def _float_as_16_bit(values: np.ndarray, path: Path) -> np.ndarray:
    """Float pixels, black 0.0 to white 1.0 (scientific TIFFs), as uint16; refused outside that range."""
    slack = 1e-6  # float rounding at the ends of the range
    if not (np.isfinite(values).all() and values.min() >= -slack and values.max() <= 1 + slack):
        raise InputError(f"{path} holds {values.dtype.itemsize * 8}-bit float pixels outside 0..1 "
                         f"({np.nanmin(values):.7g} to {np.nanmax(values):.7g}); convert it to a 16-bit image first")
    return np.rint(np.clip(values.astype(np.float64), 0, 1) * 65535).astype(np.uint16)


def _neutral_grey(rgb: np.ndarray) -> np.ndarray:
    """sRGB grey with the same CIE luminance Y (hence Lab L) as each sRGB pixel."""
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    luminance = linear @ np.array([0.212671, 0.715160, 0.072169], dtype=np.float32)
    encoded = np.where(
        luminance > 0.0031308, 1.055 * np.maximum(luminance, 1e-12) ** (1 / 2.4) - 0.055, 12.92 * luminance
    )
    return np.clip(encoded, 0.0, 1.0).astype(np.float32)


def quantised(channels: np.ndarray, scale: int, dtype: type) -> np.ndarray:
    """Values in [0, 1] rounded to whole steps up to ``scale`` as ``dtype``, with one working copy."""
    work = np.clip(channels, 0.0, 1.0).astype(np.result_type(channels.dtype, np.float32), copy=False)
    work *= scale
    np.rint(work, out=work)
    return work.astype(dtype)


def write_image(
    path: Path,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    bit_depth: int = 8,
    *,
    format_suffix: str | None = None,
    metadata: ImageMetadata = _NO_METADATA,
    name: str | None = None,
) -> None:
    """Write sRGB ``rgb`` (and ``alpha``), values in [0, 1], untagged, choosing the format from the name, with
    ``metadata`` (EXIF where the format has it: not in BMP, and TIFF keeps the descriptive tags but not the EXIF
    sub-directories; XMP except in BMP; resolution). ``uint8`` values are written as they are, without alpha
    and at 8 bits (a contact sheet of 4K frames held as floats is gigabytes).

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
    if rgb.dtype == np.uint8 and (alpha is not None or bit_depth != 8):
        raise ValueError("uint8 rgb is written as it is: without alpha, at bit_depth 8")
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
    pixels = channels if channels.dtype == np.uint8 else quantised(channels, scale, dtype)
    try:
        if suffix in (".tif", ".tiff"):
            _write_tiff(path, pixels, metadata)
        elif suffix == ".png":
            order = cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
            ok, encoded = cv2.imencode(suffix, cv2.cvtColor(pixels, order))
            if not ok:
                raise OutputError(f"OpenCV could not encode {path} as {suffix}; try .png")
            path.write_bytes(with_png_metadata(encoded.tobytes(), metadata))
        else:
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format=_PILLOW_FORMATS[suffix],
                                         **pillow_save_options(_PILLOW_FORMATS[suffix], metadata, shown))
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


def _write_tiff(path: Path, pixels: np.ndarray, metadata: ImageMetadata) -> None:
    """Write RGB(A) ``pixels`` as a zlib-compressed TIFF with ``metadata``'s tags and resolution."""
    tifffile.imwrite(path, pixels, photometric="rgb", extrasamples="unassalpha" if pixels.shape[2] == 4 else None,
                     compression="zlib", metadata=None, software=False, datetime=False,
                     extratags=tiff_metadata_tags(metadata), resolution=metadata.dpi,
                     resolutionunit="INCH" if metadata.dpi else None)
