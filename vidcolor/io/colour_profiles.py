"""Photo pixels converted from their embedded ICC colour profile to sRGB with littlecms (Pillow's ImageCms).

Grey and RGB profiles are converted for 8-bit pixels, grey ones for 16-bit grey too (alpha kept, grey kept
grey). Pillow's littlecms has no 16-bit colour pixels, so 16-bit pixels with an RGB matrix/TRC profile (the kind
scanners and editors embed: Adobe RGB, ProPhoto, Display P3) are converted in float through the profile's tone
curves and colorant matrix, which is what littlecms computes for such a profile. Pixels already in sRGB are left
alone, and a profile that cannot be applied is named in a warning, its pixels then read as sRGB. CMYK pictures
are converted through their profile, or without one by subtracting the inks from white.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import functools
import io
import struct
import warnings

import numpy as np
from PIL import Image, ImageCms

from vidcolor.errors import VidcolorWarning

_SRGB = ImageCms.createProfile("sRGB")
# sRGB's tone curve as an ICC parametric curve (type 3): gamma, a, b, c, d
_SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
_COLORANTS, _TONE_CURVES = (b"rXYZ", b"gXYZ", b"bXYZ"), (b"rTRC", b"gTRC", b"bTRC")
# tables from device values to the PCS, which littlecms prefers to the matrix/TRC (A2B*, and ICC v4's float D2B*)
_TABLE_TAGS = frozenset({b"A2B0", b"A2B1", b"A2B2", b"D2B0", b"D2B1", b"D2B2"})
# an ICC parametric curve's parameters (g, a, b, c, d, e, f) by its function type, in the form of type 4:
# Y = (aX + b)^g + e for X >= d, else cX + f
_PARAMETRIC = {0: lambda g: (g, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0),
               1: lambda g, a, b: (g, a, b, 0.0, -b / a, 0.0, 0.0),
               2: lambda g, a, b, c: (g, a, b, 0.0, -b / a, c, c),
               3: lambda g, a, b, c, d: (g, a, b, c, d, 0.0, 0.0),
               4: lambda g, a, b, c, d, e, f: (g, a, b, c, d, e, f)}
_D50 = np.array([0.9642, 1.0, 0.8249])  # the PCS's white, XYZ
_L_50 = ((50 + 16) / 116) ** 3  # the luminance Y of L* 50, the lightest black point littlecms compensates
_BAND = 1 << 20  # pixels converted at a time: a few float32 copies of a band, not of the photo


def _icc_tag(kind: bytes, body: bytes) -> bytes:
    """An ICC tag's data: type signature, 4 reserved bytes, body, padded to 4 bytes."""
    data = kind + bytes(4) + body
    return data + bytes(-len(data) % 4)


def _srgb_grey_icc() -> bytes:
    """An ICC grey display profile with sRGB's tone curve: the target of 16-bit grey conversions, since
    Pillow's ImageCms makes no grey profile (littlecms's cmsCreateGrayProfile) and has 16-bit pixels in grey
    modes only."""
    description = b"sRGB grey\x00"
    d50 = _icc_tag(b"XYZ ", struct.pack(">3i", *(round(value * 65536) for value in (0.9642, 1.0, 0.8249))))
    tags = {b"desc": _icc_tag(b"desc", struct.pack(">I", len(description)) + description + bytes(78)),
            b"wtpt": d50,
            b"kTRC": _icc_tag(b"para", struct.pack(">HH5i", 3, 0, *(round(v * 65536) for v in _SRGB_CURVE)))}
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for signature, body in tags.items():
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (struct.pack(">I", offset + len(data)) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntrGRAYXYZ " + bytes(12)
              + b"acsp" + bytes(28) + d50[8:] + bytes(48))  # date; platform ... intent; illuminant; the rest
    return header + struct.pack(">I", len(tags)) + table + data


_SRGB_GREY = ImageCms.ImageCmsProfile(io.BytesIO(_srgb_grey_icc()))


def convert_to_srgb(pixels: np.ndarray, profile: bytes, path: Path) -> np.ndarray:
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
    deep = pixels.dtype != np.uint8
    if deep and not grey_profile:
        return _deep_rgb_to_srgb(pixels, profile, path)
    has_alpha = pixels.ndim == 3 and pixels.shape[2] in (2, 4)
    colour = pixels[..., :-1] if has_alpha else pixels
    if deep:
        converted = _deep_grey_to_srgb(colour.reshape(pixels.shape[:2]), profile)
        return np.dstack([converted, pixels[..., -1]]) if has_alpha else converted
    if grey:  # one channel, or three equal ones for an RGB profile
        colour = colour.reshape(pixels.shape[:2])
        colour = colour if grey_profile else np.repeat(colour[..., None], 3, axis=2)
    converted = np.asarray(ImageCms.applyTransform(Image.fromarray(colour), transform))
    if grey:
        converted = converted[..., 1]  # neutral: red, green and blue agree
    return np.dstack([converted, pixels[..., -1]]) if has_alpha else converted


def cmyk_to_srgb(image: Image.Image, profile: bytes | None, path: Path) -> np.ndarray:
    """A CMYK ``image`` (ink values, 0 none) as 8-bit sRGB ``(H, W, 3)``: through its ICC ``profile`` with
    littlecms (relative colorimetric with black point compensation, as Photoshop converts, so the paper is white
    and the deepest black black), or without one by subtracting the inks from white (as Pillow and web browsers
    show it); a profile that cannot be applied is named in a warning.

    The transform is evaluated exactly rather than through littlecms's precomputed 17-point grid, which puts
    the deepest shadows up to 8 levels off (about 0.2 s more a megapixel)."""
    if profile:
        try:
            transform = ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(profile)), _SRGB, "CMYK", "RGB",
                                                ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                                flags=ImageCms.Flags.BLACKPOINTCOMPENSATION | ImageCms.Flags.NOOPTIMIZE)
            return np.asarray(ImageCms.applyTransform(image, transform))
        except (OSError, ImageCms.PyCMSError):
            _warn_profile(path, profile, "it is unreadable or not a CMYK profile",
                          "its inks are subtracted from white without it")
    return np.asarray(image.convert("RGB"))


def _deep_grey_to_srgb(grey: np.ndarray, profile: bytes) -> np.ndarray:
    """16-bit ``grey`` converted from its grey ICC ``profile`` to sRGB's tone curve, at 16 bits."""
    transform = ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(profile)), _SRGB_GREY, "I;16", "I;16",
                                        flags=ImageCms.Flags.NOOPTIMIZE)
    return np.asarray(ImageCms.applyTransform(Image.fromarray(np.ascontiguousarray(grey)), transform), np.uint16)


def _deep_rgb_to_srgb(pixels: np.ndarray, profile: bytes, path: Path) -> np.ndarray:
    """16-bit ``pixels`` (colour or grey, alpha kept) converted from their RGB matrix/TRC ``profile`` to 16-bit
    sRGB; left as they are, with a warning, for a profile that describes its colours by tables."""
    shaper = _matrix_shaper(profile)
    if shaper is None:
        _warn_profile(path, profile, "it describes its colours by tables, which littlecms, as Pillow offers it, "
                                     "applies to 8-bit colour only")
        return pixels
    has_alpha = pixels.ndim == 3 and pixels.shape[2] in (2, 4)
    colour = pixels[..., :-1] if has_alpha else pixels
    if colour.ndim == 2 or colour.shape[2] == 1:  # grey values: three equal channels, neutral after conversion
        converted = _apply_matrix_shaper(np.repeat(colour.reshape(pixels.shape[:2])[..., None], 3, axis=2),
                                         shaper)[..., 1]
    else:
        converted = _apply_matrix_shaper(colour, shaper)
    return np.dstack([converted, pixels[..., -1]]) if has_alpha else converted


@dataclass(frozen=True)
class _MatrixShaper:
    """An RGB matrix/TRC profile's way to sRGB: ``curves`` ``(3, 65536)`` take each 16-bit channel to linear
    light, then ``linear @ matrix.T - offset`` is linear sRGB (through the profile's colorants to the PCS, XYZ
    under D50, with its black point compensated, and back through sRGB's colorants)."""

    curves: np.ndarray
    matrix: np.ndarray
    offset: np.ndarray


def _matrix_shaper(profile: bytes) -> _MatrixShaper | None:
    """The matrix/TRC of an RGB ``profile`` whose PCS is XYZ; None for one without them, one with tables
    (which littlecms would use instead) or a malformed one.

    As littlecms does for a transform to its (ICC v4) sRGB profile with the perceptual intent, a profile whose
    black is not zero (a tone curve starting above 0) has its black point compensated: the XYZ of a neutral
    as light as its black (at most L* 50) becomes 0, D50 white stays."""
    try:
        tags = _icc_tags(profile)
        if (profile[16:24] != b"RGB XYZ " or _TABLE_TAGS & tags.keys()
                or not all(tag in tags for tag in _COLORANTS + _TONE_CURVES)):
            return None
        levels = np.arange(65536) / 65535
        curves = np.stack([_tone_curve(tags[tag], levels) for tag in _TONE_CURVES]).astype(np.float32)
        colorants = _colorants(tags)
        black = min(float(colorants[1] @ curves[:, 0]), _L_50)  # the luminance Y of RGB 0, 0, 0
        to_srgb = np.linalg.inv(_srgb_colorants())
        matrix = to_srgb @ colorants / (1 - black)
        offset = to_srgb @ _D50 * black / (1 - black)
    except (struct.error, ValueError, KeyError, ZeroDivisionError, np.linalg.LinAlgError):
        return None
    usable = all(np.isfinite(values).all() for values in (curves, matrix, offset))
    return _MatrixShaper(curves, matrix, offset) if usable else None


def _icc_tags(profile: bytes) -> dict[bytes, bytes]:
    """An ICC profile's tags by signature, each its data (type signature first)."""
    (count,) = struct.unpack_from(">I", profile, 128)
    tags = {}
    for index in range(count):
        signature, offset, size = struct.unpack_from(">4sII", profile, 132 + 12 * index)
        if offset + size > len(profile):
            raise ValueError(f"the ICC tag {signature!r} runs past the profile's end")
        tags[signature] = profile[offset:offset + size]
    return tags


def _colorants(tags: dict[bytes, bytes]) -> np.ndarray:
    """The matrix whose columns are the red, green and blue colorants (XYZ under D50) of ``tags``."""
    columns = []
    for tag in _COLORANTS:
        if tags[tag][:4] != b"XYZ ":
            raise ValueError(f"the ICC tag {tag!r} is not an XYZ value")
        columns.append(np.array(struct.unpack_from(">3i", tags[tag], 8)) / 65536)
    return np.stack(columns, axis=1)


@functools.cache
def _srgb_colorants() -> np.ndarray:
    """The colorant matrix of littlecms's sRGB profile, the target of every conversion."""
    return _colorants(_icc_tags(ImageCms.ImageCmsProfile(_SRGB).tobytes()))


def _tone_curve(tag: bytes, levels: np.ndarray) -> np.ndarray:
    """An ICC tone curve (``curv`` or ``para``) evaluated at ``levels`` in [0, 1], clipped to [0, 1] as the ICC
    specification has it."""
    if tag[:4] == b"curv":
        (count,) = struct.unpack_from(">I", tag, 8)
        if count == 0:
            values = levels
        elif count == 1:
            values = levels ** (struct.unpack_from(">H", tag, 12)[0] / 256)
        else:
            table = np.frombuffer(tag, ">u2", count, 12) / 65535
            values = np.interp(levels, np.linspace(0, 1, count), table)
    elif tag[:4] == b"para":
        (function,) = struct.unpack_from(">H", tag, 8)
        count = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}[function]
        g, a, b, c, d, e, f = _PARAMETRIC[function](*(v / 65536 for v in struct.unpack_from(f">{count}i", tag, 12)))
        values = np.where(levels >= d, np.maximum(a * levels + b, 0) ** g + e, c * levels + f)
    else:
        raise ValueError(f"unknown ICC tone curve type {tag[:4]!r}")
    return np.clip(values, 0, 1)


def _apply_matrix_shaper(colour: np.ndarray, shaper: _MatrixShaper) -> np.ndarray:
    """16-bit RGB ``colour`` ``(H, W, 3)`` converted by ``shaper`` to 16-bit sRGB (out-of-gamut colours clipped,
    as littlecms clips them), a band of rows at a time."""
    height, width = colour.shape[:2]
    converted = np.empty((height, width, 3), np.uint16)
    matrix, offset = shaper.matrix.T.astype(np.float32), shaper.offset.astype(np.float32)
    rows = max(1, _BAND // max(width, 1))
    for top in range(0, height, rows):
        band = colour[top:top + rows]
        linear = np.stack([shaper.curves[channel][band[..., channel]] for channel in range(3)], axis=-1) @ matrix
        linear -= offset
        converted[top:top + rows] = np.rint(_srgb_encode(np.clip(linear, 0, 1)) * 65535)
    return converted


def _srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] as sRGB values: the inverse of :data:`_SRGB_CURVE`."""
    g, a, b, c, d = _SRGB_CURVE
    return np.where(linear >= c * d, (np.maximum(linear, c * d) ** (1 / g) - b) / a, linear / c)


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


def _warn_profile(path: Path, profile: bytes, why: str, instead: str = "its colours are read as sRGB") -> None:
    """Say that the colour ``profile`` of the photo at ``path`` was not applied, why, and what is done
    ``instead`` (the warning points at the caller of :func:`vidcolor.io.images.read_image`)."""
    try:
        name = f" '{ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile))).strip()}'"
    except (OSError, ImageCms.PyCMSError):
        name = ""
    warnings.warn(f"{path}: its colour profile{name} was not applied ({why}), so {instead}; "
                  "convert it to sRGB first for exact colour", category=VidcolorWarning, stacklevel=4)
