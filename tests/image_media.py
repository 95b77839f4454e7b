"""Synthetic test images: real files written with Pillow, OpenCV or tifffile."""

from __future__ import annotations

from pathlib import Path

import struct

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


def _icc_tag(kind: bytes, body: bytes) -> bytes:
    """An ICC tag's data: type signature, 4 reserved bytes, body, padded to 4 bytes."""
    data = kind + b"\x00" * 4 + body
    return data + b"\x00" * (-len(data) % 4)


def _icc_xyz(x: float, y: float, z: float) -> bytes:
    """An ICC XYZ tag (s15Fixed16 numbers)."""
    return _icc_tag(b"XYZ ", struct.pack(">3i", *(round(value * 65536) for value in (x, y, z))))


def _icc_gamma(gamma: float) -> bytes:
    """An ICC tone curve that is a pure power law."""
    return _icc_tag(b"curv", struct.pack(">IH", 1, round(gamma * 256)))


def icc_profile(kind: str) -> bytes:
    """A minimal ICC v2 display profile built by hand: "grey-2.2" (Gray Gamma 2.2, as scanners embed) or
    "adobe-rgb" (Adobe RGB (1998): a wider gamut than sRGB's, gamma 563/256)."""
    name = {"grey-2.2": "Gray Gamma 2.2", "adobe-rgb": "Adobe RGB (1998)"}[kind]
    description = name.encode() + b"\x00"
    d50 = _icc_xyz(0.9642, 1.0, 0.8249)  # the ICC's reference white
    tags = {b"desc": _icc_tag(b"desc", struct.pack(">I", len(description)) + description + b"\x00" * 78),
            b"wtpt": d50}
    if kind == "grey-2.2":
        tags[b"kTRC"] = _icc_gamma(2.2)
    else:  # the primaries adapted to D50, as the ICC's connection space wants
        primaries = {b"rXYZ": (0.60974, 0.31111, 0.01947), b"gXYZ": (0.20528, 0.62567, 0.06087),
                     b"bXYZ": (0.14919, 0.06322, 0.74457)}
        tags.update({signature: _icc_xyz(*xyz) for signature, xyz in primaries.items()})
        tags.update({signature: _icc_gamma(563 / 256) for signature in (b"rTRC", b"gTRC", b"bTRC")})
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for signature, body in tags.items():
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    space = b"GRAY" if kind == "grey-2.2" else b"RGB "
    header = (struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntr" + space + b"XYZ "
              + b"\x00" * 12 + b"acsp" + b"\x00" * 28  # date; platform, flags, device, attributes, intent
              + d50[8:] + b"\x00" * 48)  # the illuminant; creator, ID and reserved bytes
    return header + struct.pack(">I", len(tags)) + table + data


def add_orientation(path: Path, orientation: int) -> Path:
    """Give a little-endian classic TIFF (as OpenCV writes them) an Orientation tag: a copy of its first
    directory with the tag added goes at the end of the file, and the header points to it."""
    data = bytearray(path.read_bytes())
    if data[:4] != b"II*\x00":
        raise ValueError(f"{path} is not a little-endian classic TIFF")
    first = struct.unpack_from("<I", data, 4)[0]
    count = struct.unpack_from("<H", data, first)[0]
    entries = [bytes(data[first + 2 + 12 * i : first + 14 + 12 * i]) for i in range(count)]
    following = bytes(data[first + 2 + 12 * count : first + 6 + 12 * count])
    entries = sorted([*entries, struct.pack("<HHII", 274, 3, 1, orientation)], key=lambda entry: entry[:2][::-1])
    data += b"\x00" * (len(data) % 2)  # directories start on a word boundary
    struct.pack_into("<I", data, 4, len(data))
    data += struct.pack("<H", len(entries)) + b"".join(entries) + following
    path.write_bytes(bytes(data))
    return path
