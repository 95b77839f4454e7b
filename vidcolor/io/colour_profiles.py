"""Photo pixels converted from their embedded ICC colour profile to sRGB with littlecms (Pillow's ImageCms).

Grey and RGB profiles are converted for 8-bit pixels (alpha kept, grey kept grey); pixels already in sRGB are
left alone, and a profile that cannot be applied is named in a warning, its pixels then read as sRGB.
"""

from __future__ import annotations

from pathlib import Path

import io
import warnings

import numpy as np
from PIL import Image, ImageCms

from vidcolor.errors import VidcolorWarning

_SRGB = ImageCms.createProfile("sRGB")


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
    """Say that the colour ``profile`` of the photo at ``path`` was not applied, and why (the warning points
    at the caller of :func:`vidcolor.io.images.read_image`)."""
    try:
        name = f" '{ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile))).strip()}'"
    except (OSError, ImageCms.PyCMSError):
        name = ""
    warnings.warn(f"{path}: its colour profile{name} was not applied ({why}), so its colours are read as sRGB; "
                  "convert it to sRGB first for exact colour", category=VidcolorWarning, stacklevel=4)
