"""Read and write still images as float RGB in [0, 1], keeping bit depth, alpha, orientation and metadata.

Pillow identifies every file, reads its EXIF/TIFF orientation and metadata and decodes the 8-bit modes
(grey, palette, CMYK, ...). Pillow truncates 16-bit colour, so colour PNGs are decoded with
OpenCV and 16-bit colour TIFFs with tifffile. Writing uses OpenCV for PNG (8 and 16 bit; the metadata
chunks are added to its bytes), Pillow for JPEG/WebP/BMP and tifffile for TIFF, so the output format
follows the name given, not the file's real path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import io
import struct
import warnings
import zlib

import cv2
import numpy as np
import tifffile
from PIL import ExifTags, Image

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
_JPEG_EXIF_LIMIT = 65533 - 8  # one APP1 segment, less its header
_MAX_SIDE = {".jpg": 65500, ".jpeg": 65500, ".webp": 16383}  # libjpeg's and libwebp's largest width or height
# ImageDescription texts that say how a TIFF's pixels are stored (tifffile, ImageJ, OME), not what they show
_STORAGE_DESCRIPTIONS = ('{"shape"', "ImageJ=", "<?xml")

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
    copyright, camera, location), resolution in dots per inch, and an RGB ICC profile."""

    exif: Image.Exif | None = None
    dpi: tuple[float, float] | None = None
    icc_profile: bytes | None = None
    png_text: tuple[tuple[str, str], ...] = ()  # a PNG's own text chunks (title, author, ...), for a PNG output


def _as_read(value: object) -> object:
    """An EXIF value as its file held it: Pillow reads text as Latin-1 and would write any character
    outside ASCII as '?' (UTF-8 '© Müller' as '?? M??ller'), so such text goes back as its bytes."""
    return value.encode("latin-1", "replace") if isinstance(value, str) and not value.isascii() else value


def _read_metadata(image: Image.Image) -> ImageMetadata:
    exif, kept = image.getexif(), Image.Exif()
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
    dpi = image.info.get("dpi")  # Pillow converts a TIFF's per-centimetre resolution too
    icc = image.info.get("icc_profile")
    is_rgb_profile = isinstance(icc, bytes) and icc[16:20] == b"RGB "  # a grey photo's profile would not fit colour
    text = getattr(image, "text", None) or {}  # PNG tEXt, zTXt and iTXt chunks
    return ImageMetadata(exif=kept if len(kept) else None,
                         dpi=(float(dpi[0]), float(dpi[1])) if dpi and all(dpi) else None,
                         icc_profile=icc if is_rgb_profile else None,
                         png_text=tuple((key, str(value)) for key, value in text.items() if key in _PNG_TEXT_KEYS))


@dataclass
class LoadedImage:
    """A decoded image in display orientation.

    ``rgb`` is ``(H, W, 3)`` float32 in [0, 1]; ``alpha`` is ``(H, W)`` float32 in [0, 1] or
    None; ``bit_depth`` (8 or 16) is the source's per-channel depth. ``grey`` is the luminance to
    colourise: a grey source's own values, otherwise the neutral sRGB grey whose Lab L equals the
    pixel's Lab L (sRGB/D65, the same as ``skimage.color.rgb2lab``).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    grey: np.ndarray
    metadata: ImageMetadata = ImageMetadata()


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
        with Image.open(path) as image:
            orientation = int(image.getexif().get(ExifTags.Base.Orientation, 1))
            is_grey = image.mode in _GREY_MODES
            metadata = _read_metadata(image)
            pixels = _decode(path, image)
            pages = _tiff_pages(path) if image.format == "TIFF" else 1
    except Image.UnidentifiedImageError as e:
        raise InputError(f"not a readable image: {path}; use one of {', '.join(IMAGE_SUFFIXES)}") from e
    except Image.DecompressionBombError as e:
        raise InputError(f"image too large to decode safely: {path}; downscale it first ({e})") from e
    except (OSError, ValueError, SyntaxError, cv2.error, tifffile.TiffFileError) as e:
        raise InputError(f"image is truncated or corrupt: {path}; re-export it ({e})") from e
    if pages > 1:
        warnings.warn(f"{path} holds {pages} pages; only the first is coloured", category=VidcolorWarning, stacklevel=2)
    bit_depth = 16 if pixels.dtype == np.uint16 else 8
    pixels = _ORIENT.get(orientation, np.asarray)(pixels)
    values = pixels.astype(np.float32) / np.float32(65535 if bit_depth == 16 else 255)
    if values.ndim == 2:
        values = values[..., None]
    colour = values[..., :3] if values.shape[2] >= 3 else np.repeat(values[..., :1], 3, axis=2)
    alpha = values[..., -1] if values.shape[2] in (2, 4) else None
    grey = colour[..., 0] if is_grey else _neutral_grey(colour)
    return LoadedImage(
        rgb=np.ascontiguousarray(colour),
        alpha=None if alpha is None else np.ascontiguousarray(alpha),
        bit_depth=bit_depth,
        grey=np.ascontiguousarray(grey),
        metadata=metadata,
    )


def _tiff_pages(path: Path) -> int:
    """Full-resolution pages of a TIFF (not its thumbnails or reduced copies); 1 when its page chain is damaged."""
    try:
        with tifffile.TiffFile(path) as tif:
            return sum(1 for page in tif.pages if not page.subfiletype & tifffile.FILETYPE.REDUCEDIMAGE)
    except Exception:  # noqa: BLE001 - the first page has decoded; a broken pointer after it only hides the rest
        return 1


def _decode(path: Path, image: Image.Image) -> np.ndarray:
    """Stored pixels as uint8/uint16 ``(H, W)`` or ``(H, W, C)`` with C in 2..4, RGB(A) order."""
    if image.format == "PNG" and image.mode in ("RGB", "RGBA", "LA"):
        pixels = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if pixels is None:
            raise ValueError("OpenCV could not decode the PNG")
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    if image.format == "TIFF" and image.mode in ("RGB", "RGBA") and max(image.tag_v2.get(258, (8,))) > 8:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            pixels = page.asarray()
            if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE:
                pixels = np.moveaxis(pixels, 0, -1)
        return pixels.astype(np.uint16)
    if image.mode.startswith("I"):
        return np.clip(np.asarray(image, dtype=np.int64), 0, 65535).astype(np.uint16)
    if image.mode == "F":  # 32-bit float grey (scientific TIFFs): black 0.0 to white 1.0
        values = np.asarray(image, dtype=np.float64)
        slack = 1e-6  # float rounding at the ends of the range
        if not (np.isfinite(values).all() and values.min() >= -slack and values.max() <= 1 + slack):
            raise InputError(f"{path} holds 32-bit float pixels outside 0..1 ({np.nanmin(values):.7g} to "
                             f"{np.nanmax(values):.7g}); convert it to a 16-bit image first")
        return np.rint(np.clip(values, 0, 1) * 65535).astype(np.uint16)
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return np.asarray(image)
    if image.mode == "1":
        return np.asarray(image.convert("L"))
    return np.asarray(image.convert("RGBA" if image.has_transparency_data else "RGB"))


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
) -> None:
    """Write ``rgb`` (and ``alpha``), values in [0, 1], choosing the format from the name, with ``metadata``
    (EXIF where the format has it: not in BMP, and TIFF keeps the descriptive tags but not the EXIF
    sub-directories; resolution; ICC profile).

    The format comes from ``format_suffix`` when given (for a temporary name whose extension is not the
    output's), else from ``path``'s extension. 16-bit is written for PNG/TIFF when
    ``bit_depth == 16``, otherwise 8-bit; alpha is kept for PNG, TIFF and WebP and dropped for
    JPEG/BMP; JPEG and WebP use quality 95. Raises :class:`OutputError` for an unsupported
    extension or a file that cannot be written; ``ValueError`` for malformed arrays.
    """
    path = Path(path)
    suffix = (format_suffix if format_suffix is not None else path.suffix).lower()
    check_image_output(Path(path.stem + suffix) if format_suffix is not None else path)
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")
    channels = rgb
    if alpha is not None and suffix in _ALPHA_SUFFIXES:
        alpha = np.asarray(alpha)
        if alpha.shape != rgb.shape[:2]:
            raise ValueError(f"alpha must have shape {rgb.shape[:2]}, got {alpha.shape}")
        channels = np.concatenate([rgb, alpha[..., None]], axis=2)
    check_image_size(suffix, rgb.shape[1], rgb.shape[0])
    deep = bit_depth == 16 and suffix in _DEEP_SUFFIXES
    scale, dtype = (65535, np.uint16) if deep else (255, np.uint8)
    pixels = np.rint(np.clip(channels, 0.0, 1.0) * scale).astype(dtype)
    if not path.parent.is_dir():
        raise OutputError(f"output folder does not exist: {path.parent}; create it first")
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
            options = {"quality": 95} if suffix != ".bmp" else {}
            exif = metadata.exif.tobytes() if metadata.exif is not None and suffix != ".bmp" else b""
            if len(exif) > _JPEG_EXIF_LIMIT and _PILLOW_FORMATS[suffix] == "JPEG":  # one 64 KB block
                warnings.warn(f"{path.name}: the photo's EXIF is over 64 KB, more than a JPEG holds; it is not carried over",
                              category=VidcolorWarning, stacklevel=2)
            elif exif:
                options["exif"] = exif
            if metadata.icc_profile is not None and suffix != ".bmp":
                options["icc_profile"] = metadata.icc_profile
            if metadata.dpi is not None:
                options["dpi"] = metadata.dpi
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format=_PILLOW_FORMATS[suffix], **options)
            path.write_bytes(buffer.getvalue())
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}; check permissions and free space") from e
    except cv2.error as e:
        raise OutputError(f"OpenCV could not encode {path} as {suffix}; try .png") from e


def _write_tiff(path: Path, pixels: np.ndarray, metadata: ImageMetadata) -> None:
    exif = metadata.exif or Image.Exif()
    tags = [(tag, kind, 0, exif[tag], True) for tag, kind in _DESCRIPTIVE_TAGS.items() if tag in exif]
    if metadata.icc_profile is not None:
        tags.append((34675, "B", len(metadata.icc_profile), metadata.icc_profile, True))
    tifffile.imwrite(path, pixels, photometric="rgb", extrasamples="unassalpha" if pixels.shape[2] == 4 else None,
                     compression="zlib", metadata=None, software=False, datetime=False, extratags=tags,
                     resolution=metadata.dpi, resolutionunit="INCH" if metadata.dpi else None)


# the PNG specification's descriptive keywords; others (such as XMP packets or software settings) describe
# the grey file more than the photo
_PNG_TEXT_KEYS = frozenset({"Title", "Author", "Description", "Copyright", "Creation Time", "Source", "Comment"})


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _with_png_metadata(png: bytes, metadata: ImageMetadata) -> bytes:
    """``png`` with pHYs (resolution), iCCP (ICC profile), eXIf (EXIF) and iTXt (the source PNG's text)
    chunks after its IHDR."""
    chunks = b""
    for key, value in metadata.png_text:  # iTXt: keyword, no compression, no language, UTF-8 text
        chunks += _png_chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + value.encode("utf-8"))
    if metadata.dpi is not None:
        per_metre = [round(value / 0.0254) for value in metadata.dpi]
        chunks += _png_chunk(b"pHYs", struct.pack(">IIB", per_metre[0], per_metre[1], 1))
    if metadata.icc_profile is not None:
        chunks += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(metadata.icc_profile))
    if metadata.exif is not None:
        chunks += _png_chunk(b"eXIf", metadata.exif.tobytes().removeprefix(b"Exif\x00\x00"))
    end_of_header = 8 + 8 + 13 + 4  # signature, then IHDR: length, type, 13 bytes, CRC
    return png[:end_of_header] + chunks + png[end_of_header:]
