"""TIFF decoding outside Pillow: the layouts it truncates or does not know, and a TIFF's stored orientation.

16-bit colour, 16-bit grey with alpha and float TIFFs are decoded with tifffile, or with OpenCV where
tifffile has no codec without imagecodecs (LZW, JPEG). Pillow 13 and OpenCV turn a TIFF by its Orientation
tag themselves, so they are given its bytes with the tag set to 1 and the pixels come out as stored.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import ExifTags, Image

from vidcolor.errors import InputError, debug_enabled
from vidcolor.io.image_metadata import xmp_orientation

# tifffile logs what it meets in a damaged file as reprs of its objects (`<tifffile.TiffFile 'a.tif'> contains no
# pages`), stray lines beside our one-line error; they are shown with VIDCOLOR_DEBUG only
if not debug_enabled():
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)

_ORIENTATION = ExifTags.Base.Orientation
_XMP_TAG = 700
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic TIFF and BigTIFF, either byte order
# TIFF colour spaces read outside Pillow -> their colour samples (one more, if there, is taken as alpha)
_TIFF_COLOURS = {tifffile.PHOTOMETRIC.MINISBLACK: 1, tifffile.PHOTOMETRIC.RGB: 3}
# TIFF integer types: BYTE, SHORT, LONG, SBYTE, SSHORT, SLONG, LONG8, SLONG8 (the last two BigTIFF's)
_TIFF_INTEGERS = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 16: "Q", 17: "q"}


def is_tiff(path: Path) -> bool:
    """True when the file starts as a TIFF does."""
    with path.open("rb") as file:
        return file.read(4) in _TIFF_MAGIC


def count_tiff_pages(path: Path) -> int:
    """Full-resolution pages of a TIFF (not its thumbnails or reduced copies); 1 when its page chain is damaged."""
    try:
        with tifffile.TiffFile(path) as tif:
            return sum(1 for page in tif.pages if not page.subfiletype & tifffile.FILETYPE.REDUCEDIMAGE)
    except Exception:  # noqa: BLE001 - the first page has decoded; a broken pointer after it only hides the rest
        return 1


def tiff_bytes_unturned(path: Path) -> bytes | None:
    """The TIFF's bytes with its first page's Orientation tag set to 1, so that decoders that turn a TIFF
    themselves (Pillow 13, OpenCV) give the stored pixels; None when the tag is absent or 1."""
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags.get(_ORIENTATION)
        if tag is None or tag.dtype not in _TIFF_INTEGERS or tag.count < 1 or first_value(tag.value) == 1:
            return None
        one, offset = struct.pack(tif.byteorder + _TIFF_INTEGERS[tag.dtype], 1), tag.valueoffset  # the first value
    data = bytearray(path.read_bytes())
    data[offset:offset + len(one)] = one
    return bytes(data)


def first_value(value: object) -> object:
    """A tag's value, or the first of several (an Orientation tag stored with a count of 2)."""
    return value[0] if isinstance(value, (tuple, list, bytes)) and len(value) else value


def orientation_value(value: object) -> int:
    """An EXIF/TIFF Orientation value as 1 to 8: stored as BYTE it reads as bytes, with a count of 2 as a
    tuple; anything else is 1 (as stored)."""
    value = first_value(value)
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def tiff_orientation(path: Path) -> int:
    """The first page's Orientation (1 to 8): its tag's, or without one its XMP packet's; 1 when it states none
    or an invalid one."""
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        if (tag := tags.get(_ORIENTATION)) is not None:
            return orientation_value(tag.value)
        xmp = tags.get(_XMP_TAG)
        return xmp_orientation(xmp.value) if xmp is not None and isinstance(xmp.value, bytes) else 1


def read_tiff_pixels(path: Path) -> np.ndarray:
    """A TIFF's first page as stored, samples last (colour, then alpha if there), with tifffile, or with
    OpenCV where tifffile has no codec without imagecodecs (LZW, JPEG)."""
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        _check_pixel_count(page.imagewidth, page.imagelength)
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


def _check_pixel_count(width: int, height: int) -> None:
    """Refuse, as Pillow does before decoding, a picture of more than twice ``Image.MAX_IMAGE_PIXELS`` pixels
    (a compressed file can hold more than memory does): :class:`PIL.Image.DecompressionBombError`."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > 2 * limit:
        raise Image.DecompressionBombError(f"{width}x{height} is {width * height} pixels, over the {2 * limit} "
                                           "decoded safely")


def _readable_samples(dtype: np.dtype | None) -> bool:
    """True for 8- and 16-bit unsigned and float samples."""
    return dtype is not None and (dtype.kind == "f" or dtype in (np.dtype(np.uint8), np.dtype(np.uint16)))


def _layout(page: tifffile.TiffPage) -> str:
    """A TIFF page's pixels in words, such as '16-bit unsigned integer MINISBLACK (2 samples per pixel)'."""
    kind = {"u": "unsigned integer", "i": "signed integer", "f": "float"}.get(getattr(page.dtype, "kind", ""), "")
    samples = f"{page.samplesperpixel} sample{'s' if page.samplesperpixel > 1 else ''} per pixel"
    photometric = getattr(page.photometric, "name", f"photometric {page.photometric}")  # a value TIFF does not define
    words = " ".join(part for part in (f"{page.bitspersample}-bit", kind, photometric) if part)
    return f"{words} ({samples})"


def _opencv_tiff(path: Path, page: tifffile.TiffPage) -> np.ndarray:
    """``page`` decoded by OpenCV from the file as stored (OpenCV would turn it by its Orientation tag, and fails
    to for 5 to 8), in RGB order; :class:`InputError` naming what is missing when OpenCV cannot either."""
    pixels = cv2.imdecode(np.frombuffer(tiff_bytes_unturned(path) or path.read_bytes(), np.uint8),
                          cv2.IMREAD_UNCHANGED)
    samples = (page.samplesperpixel,) if page.samplesperpixel > 1 else ()
    if pixels is None or pixels.shape != (page.imagelength, page.imagewidth, *samples) or pixels.dtype != page.dtype:
        raise InputError(f"cannot decode {path}: tifffile needs the imagecodecs package for its "
                         f"{page.compression.name} compression and OpenCV cannot read its {_layout(page)} pixels; "
                         "save it uncompressed or with ZIP compression, or install imagecodecs")
    if pixels.ndim == 3 and pixels.shape[2] >= 3:
        pixels[..., [0, 2]] = pixels[..., [2, 0]]  # OpenCV's BGR(A) order
    return pixels
