"""Synthetic test images: real files written with Pillow, OpenCV or tifffile."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import ExifTags, Image

MODES = ("L", "RGB", "RGBA", "CMYK", "P", "I;16", "RGB16")


def mark_box(size: tuple[int, int]) -> tuple[slice, slice]:
    """Rows/columns of the flat top-left rectangle (pure cyan in CMYK images)."""
    width, height = size
    return slice(0, height // 3), slice(0, width // 3)


def pattern(size: tuple[int, int]) -> np.ndarray:
    """``(H, W, 3)`` float64 in [0, 1]: gradients, a flat rectangle and a disc (no symmetry)."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / max(width - 1, 1), y / max(height - 1, 1)
    rgb = np.stack([u, v, 0.2 + 0.6 * u * (1.0 - v)], axis=-1)
    rgb[mark_box(size)] = (0.9, 0.2, 0.1)
    disc = (x - 0.7 * width) ** 2 + (y - 0.65 * height) ** 2 < (min(width, height) / 5) ** 2
    rgb[disc] = (0.1, 0.3, 0.8)
    return rgb


def _exif(orientation: int | None) -> dict[str, bytes]:
    if orientation is None:
        return {}
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return {"exif": exif.tobytes()}


def _pillow_image(rgb: np.ndarray, mode: str) -> Image.Image:
    eight_bit = np.rint(rgb * 255).astype(np.uint8)
    if mode == "L":
        return Image.fromarray(np.rint(rgb.mean(axis=2) * 255).astype(np.uint8))
    if mode == "RGBA":
        alpha = np.rint(np.linspace(0, 255, rgb.shape[1]))[None, :].repeat(rgb.shape[0], axis=0)
        return Image.fromarray(np.dstack([eight_bit, alpha.astype(np.uint8)]))
    if mode == "CMYK":
        cmyk = np.zeros((*rgb.shape[:2], 4), dtype=np.uint8)
        cmyk[..., :3] = 255 - eight_bit
        cmyk[mark_box((rgb.shape[1], rgb.shape[0]))] = (255, 0, 0, 0)
        return Image.fromarray(cmyk, mode="CMYK")
    if mode == "P":
        return Image.fromarray(eight_bit).quantize(colors=64)
    return Image.fromarray(eight_bit)


def make_image(
    path: Path,
    *,
    size: tuple[int, int] = (96, 64),
    mode: str = "RGB",
    exif_orientation: int | None = None,
) -> Path:
    """Write a test image of ``size`` = (width, height) pixels as stored (before orientation).

    ``mode`` is a Pillow mode ("L", "RGB", "RGBA", "CMYK", "P"), "I;16" (16-bit grey) or
    "RGB16" (16-bit colour; PNG or TIFF only). The format follows ``path``'s extension.
    ``exif_orientation`` adds an orientation tag (not possible for 16-bit colour PNG).
    """
    path = Path(path)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    rgb = pattern(size)
    is_tiff = path.suffix.lower() in (".tif", ".tiff")
    if mode in ("I;16", "RGB16"):
        deep = np.rint((rgb.mean(axis=2) if mode == "I;16" else rgb) * 65535).astype(np.uint16)
        if is_tiff:
            tags = [] if exif_orientation is None else [(274, "H", 1, exif_orientation, True)]
            photometric = "minisblack" if deep.ndim == 2 else "rgb"
            tifffile.imwrite(path, deep, photometric=photometric, extratags=tags)
        elif mode == "I;16":
            Image.fromarray(deep).save(path, **_exif(exif_orientation))
        elif exif_orientation is None and path.suffix.lower() == ".png":
            cv2.imwrite(str(path), cv2.cvtColor(deep, cv2.COLOR_RGB2BGR))
        else:
            raise ValueError("16-bit colour needs .png (without orientation) or .tif")
        return path
    _pillow_image(rgb, mode).save(path, **_exif(exif_orientation))
    return path
