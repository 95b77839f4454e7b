"""A photo's metadata, carried to its colour version: what is read and what is written.

Read from a file Pillow identified or from a TIFF's first directory: the descriptive EXIF (caption, date,
artist, copyright, camera, location), the resolution the file really stores, the XMP packet (less its
orientation, as the colour version is upright), a PNG's descriptive text chunks, and whether there is IPTC
data (never carried). Written as PNG chunks, as Pillow's save options for JPEG/WebP/BMP (with the EXIF
trimmed to fit a JPEG segment) or as TIFF tags; what a format cannot hold is left out with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import math
import re
import struct
import warnings
import zlib

from PIL import ExifTags, Image

from vidcolor.errors import VidcolorWarning

# EXIF tags that describe the photo (not how its pixels are stored): kept in the colour version
_DESCRIPTIVE_TAGS = {ExifTags.Base.ImageDescription: "s", ExifTags.Base.Make: "s", ExifTags.Base.Model: "s",
                     ExifTags.Base.DateTime: "s", ExifTags.Base.Artist: "s", ExifTags.Base.Copyright: "s"}
_SUB_IFDS = (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo)  # capture date, camera settings, comments; location
_MAKER_NOTE = 0x927C  # a camera maker's private block, often tens of KB: not carried
_INTEROP_POINTER = 0xA005  # where the grey file's interoperability directory was: meaningless in another file
_MAX_DPI = 65535.0  # JPEG's density field holds no more (it wrapped), and no scan has more
_XMP_TAG, _IPTC_TAG = 700, 33723  # TIFF tags
_PHOTOSHOP_IPTC = 0x0404  # the IPTC block among a JPEG's Photoshop resources
_JPEG_EXIF_LIMIT = 65533  # one APP1 segment: its "Exif" header (part of the bytes) and the TIFF structure
_JPEG_XMP_LIMIT = 65533 - 29  # one APP1 segment, less the XMP namespace
# ImageDescription texts that say how a TIFF's pixels are stored (tifffile, ImageJ, OME), not what they show
_STORAGE_DESCRIPTIONS = ('{"shape"', "ImageJ=", "<?xml")
# the prefixes an XMP packet binds to the TIFF namespace, whose Orientation says how to turn the picture
_TIFF_NAMESPACE = re.compile(rb"""xmlns:([\w.-]+)\s*=\s*["']http://ns\.adobe\.com/tiff/1\.0/["']""")
# how a UTF-16 XMP packet (allowed in TIFF) starts -> its codec
_UTF16_STARTS = {b"\xff\xfe": "utf-16", b"\xfe\xff": "utf-16", b"<\x00": "utf-16-le", b"\x00<": "utf-16-be"}
# the PNG specification's descriptive keywords; others (such as software settings) describe the grey file
# more than the photo (an XMP packet is carried as such)
_PNG_TEXT_KEYS = frozenset({"Title", "Author", "Description", "Copyright", "Creation Time", "Source", "Comment"})


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


def read_pillow_metadata(image: Image.Image, exif: Image.Exif) -> ImageMetadata:
    """The metadata of a file Pillow identified; ``exif`` is ``image.getexif()``."""
    text = getattr(image, "text", None) or {}  # PNG tEXt, zTXt and iTXt chunks (read before info's XMP)
    return _metadata(exif, dpi=_stored_dpi(image, exif), xmp=image.info.get("xmp"),
                     has_iptc=_PHOTOSHOP_IPTC in image.info.get("photoshop", {}) or "Raw profile type iptc" in text,
                     png_text=tuple((key, str(value)) for key, value in text.items() if key in _PNG_TEXT_KEYS))


def read_tiff_metadata(directory: Image.Exif) -> ImageMetadata:
    """The metadata of a TIFF Pillow cannot open, from its first ``directory`` read as EXIF."""
    return _metadata(directory, dpi=_ifd_dpi(directory), xmp=directory.get(_XMP_TAG), has_iptc=False)


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
        values = {tag: _as_read(value) for tag, value in exif.get_ifd(ifd).items()
                  if tag not in (_MAKER_NOTE, _INTEROP_POINTER)}
        if values:
            kept[ifd] = values
    return ImageMetadata(exif=kept if len(kept) else None, dpi=dpi, png_text=png_text,
                         xmp=_without_orientation(_utf8_xmp(xmp)) if xmp else None,
                         has_iptc=has_iptc or _IPTC_TAG in exif)


def xmp_orientation(xmp: bytes | str | None) -> int:
    """The orientation (1 to 8) an XMP packet states, under any prefix it binds to the TIFF namespace and in
    UTF-8 or UTF-16; 1 when it states none."""
    packet = _utf8_xmp(xmp) if xmp else b""
    for pattern in _xmp_orientations(packet):
        if (match := pattern.search(packet)) and 1 <= int(match[2]) <= 8:
            return int(match[2])
    return 1


def _utf8_xmp(xmp: bytes | str) -> bytes:
    """An XMP packet as UTF-8, which JPEG and PNG require (a TIFF's may be UTF-16)."""
    if isinstance(xmp, str):
        return xmp.encode()
    codec = _UTF16_STARTS.get(xmp[:2])
    try:
        return xmp.decode(codec).encode() if codec else xmp
    except UnicodeDecodeError:
        return xmp


def _xmp_orientations(packet: bytes) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """Patterns for the orientation of a UTF-8 XMP ``packet``, as an attribute or an element, under each
    prefix it binds to the TIFF namespace (and ``tiff``, which packets use without binding it); the
    digit is group 2."""
    names = b"|".join(re.escape(prefix) for prefix in sorted({b"tiff", *_TIFF_NAMESPACE.findall(packet)}))
    return (re.compile(rb"\b(" + names + rb"):Orientation\s*=\s*[\x22\x27]\s*(\d)\s*[\x22\x27]"),  # " or '
            re.compile(rb"<(" + names + rb"):Orientation>\s*(\d)\s*</\1:Orientation>"))


def _without_orientation(packet: bytes) -> bytes:
    """A UTF-8 XMP ``packet`` without its orientation: the colour version is upright, so a viewer must not
    turn it again."""
    for pattern in _xmp_orientations(packet):
        packet = pattern.sub(b"", packet)
    return packet


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
    """``pair`` as a resolution when it is two finite numbers above 0 and at most 65,535 dpi."""
    if not isinstance(pair, tuple) or len(pair) != 2:
        return None
    x, y = float(pair[0]), float(pair[1])
    return (x, y) if all(math.isfinite(v) and 0 < v <= _MAX_DPI for v in (x, y)) else None


def pillow_save_options(pillow_format: str, metadata: ImageMetadata, shown: str) -> dict[str, object]:
    """Pillow's save options for JPEG, WebP or BMP: quality, resolution, EXIF and XMP where the format has them;
    ``shown`` is the output's name for warnings."""
    options: dict[str, object] = {} if pillow_format == "BMP" else {"quality": 95}
    if metadata.dpi is not None:
        options["dpi"] = metadata.dpi
    elif pillow_format == "BMP":
        options["dpi"] = (0, 0)  # "not stated" (Pillow would write 96 dpi)
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
    """Roughly how many bytes an EXIF value takes: its length for text and bytes, 4 a number (a tuple of
    numbers, 4 each)."""
    if isinstance(value, (bytes, str)):
        return len(value)
    return 4 * len(value) if isinstance(value, (tuple, list)) else 4


def tiff_metadata_tags(metadata: ImageMetadata) -> list[tuple[int, str, int, object, bool]]:
    """tifffile's ``extratags`` for a TIFF output: the descriptive EXIF tags and the XMP packet (the EXIF
    sub-directories are not written)."""
    exif = metadata.exif or Image.Exif()
    tags = [(tag, kind, 0, exif[tag], True) for tag, kind in _DESCRIPTIVE_TAGS.items() if tag in exif]
    if metadata.xmp:
        tags.append((_XMP_TAG, "B", len(metadata.xmp), metadata.xmp, True))
    return tags


def with_png_metadata(png: bytes, metadata: ImageMetadata) -> bytes:
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


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, ``kind``, ``data`` and CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_itxt(key: str, text: bytes) -> bytes:
    """An iTXt chunk: keyword, no compression, no language, UTF-8 text."""
    return _png_chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text)
