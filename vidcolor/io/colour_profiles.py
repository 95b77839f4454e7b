"""Photo pixels converted from their embedded ICC colour profile to sRGB with littlecms (Pillow's ImageCms).

Grey and RGB profiles are converted for 8-bit pixels, grey ones for 16-bit grey too (alpha kept, grey kept
grey); pixels already in sRGB are left alone, and a profile that cannot be applied is named in a warning, its
pixels then read as sRGB. CMYK pictures are converted through their profile, or without one by subtracting
the inks from white.
"""

from __future__ import annotations

from pathlib import Path

import io
import struct
import warnings

import numpy as np
from PIL import Image, ImageCms

from vidcolor.errors import VidcolorWarning

_SRGB = ImageCms.createProfile("sRGB")
# sRGB's tone curve as an ICC parametric curve (type 3): gamma, a, b, c, d
_SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)


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
    if deep and not (grey and grey_profile):
        _warn_profile(path, profile, "littlecms, as Pillow offers it, converts 16-bit pixels from grey profiles only")
        return pixels
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
