"""Synthetic test images: real files written with Pillow, OpenCV or tifffile."""

from __future__ import annotations

from pathlib import Path

import struct
import zlib

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


# linear sRGB -> CIE XYZ seen under D50 (Bradford-adapted, as ICC profiles store sRGB)
_SRGB_TO_D50 = np.array([[0.4360747, 0.3850649, 0.1430804], [0.2225045, 0.7168786, 0.0606169],
                         [0.0139322, 0.0971045, 0.7141733]])


def press_coverage(ink: np.ndarray) -> np.ndarray:
    """The share of paper an ink covers on the press :func:`icc_profile` ("cmyk") describes, for ink
    values in [0, 1]: dots spread, so a 50 % dot covers 65 %."""
    return ink + 0.6 * ink * (1 - ink)


def press_linear_rgb(cmyk: np.ndarray) -> np.ndarray:
    """Linear sRGB light that the press of :func:`icc_profile` ("cmyk") reflects for ink values in [0, 1]:
    cyan, magenta and yellow absorb red, green and blue, black all three (white paper, full ink black)."""
    cover = press_coverage(np.asarray(cmyk, dtype=np.float64))
    return (1 - cover[..., :3]) * (1 - cover[..., 3:])


def _icc_cmyk_lut(points: int = 9) -> bytes:
    """An ICC lut16 (A2B0) from CMYK to XYZ for :func:`press_linear_rgb`: the dot spread in the input
    curves, then a grid of ``points`` a side over the inks' coverage."""
    ramp = np.linspace(0, 1, 256)
    curves = np.rint(np.tile(press_coverage(ramp), 4) * 65535).astype(">u2")
    steps = np.linspace(0, 1, points)
    cover = np.stack(np.meshgrid(steps, steps, steps, steps, indexing="ij"), axis=-1).reshape(-1, 4)  # cyan slowest
    xyz = (1 - cover[:, :3]) * (1 - cover[:, 3:]) @ _SRGB_TO_D50.T
    grid = np.rint(xyz * 32768).astype(">u2")  # u1Fixed15, as a lut16 encodes XYZ
    identity = struct.pack(">9i", *(65536 if row == col else 0 for row in range(3) for col in range(3)))
    body = (bytes([4, 3, points, 0]) + identity + struct.pack(">HH", 256, 2) + curves.tobytes() + grid.tobytes()
            + np.tile(np.array([0, 65535], ">u2"), 3).tobytes())
    return _icc_tag(b"mft2", body)


def icc_profile(kind: str) -> bytes:
    """A minimal ICC v2 profile built by hand: "grey-2.2" (Gray Gamma 2.2, as scanners embed), "adobe-rgb"
    (Adobe RGB (1998): a wider gamut than sRGB's, gamma 563/256) or "cmyk" (a press with dot spread, as
    :func:`press_linear_rgb` describes it)."""
    name = {"grey-2.2": "Gray Gamma 2.2", "adobe-rgb": "Adobe RGB (1998)", "cmyk": "Test Press CMYK"}[kind]
    description = name.encode() + b"\x00"
    d50 = _icc_xyz(0.9642, 1.0, 0.8249)  # the ICC's reference white
    tags = {b"desc": _icc_tag(b"desc", struct.pack(">I", len(description)) + description + b"\x00" * 78),
            b"wtpt": d50}
    if kind == "grey-2.2":
        tags[b"kTRC"] = _icc_gamma(2.2)
    elif kind == "cmyk":
        tags[b"A2B0"] = _icc_cmyk_lut()
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
    device, space = {"grey-2.2": (b"mntr", b"GRAY"), "adobe-rgb": (b"mntr", b"RGB "), "cmyk": (b"prtr", b"CMYK")}[kind]
    header = (struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + device + space + b"XYZ "
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


def with_icc_tags(profile: bytes, replaced: dict[bytes, bytes]) -> bytes:
    """``profile`` (as :func:`icc_profile` builds them) with the tags in ``replaced`` set to the data given (a tag's
    type signature first), added where it had none."""
    tags = {}
    for index in range(struct.unpack_from(">I", profile, 128)[0]):
        signature, offset, size = struct.unpack_from(">4sII", profile, 132 + 12 * index)
        tags[signature] = profile[offset:offset + size]
    tags.update(replaced)
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for signature, body in tags.items():
        body += b"\x00" * (-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    return struct.pack(">I", offset + len(data)) + profile[4:128] + struct.pack(">I", len(tags)) + table + data


def icc_curve_table(values: np.ndarray) -> bytes:
    """An ICC tone curve sampled as a table (``values`` in [0, 1] over evenly spaced inputs)."""
    table = np.rint(np.asarray(values) * 65535).astype(">u2")
    return _icc_tag(b"curv", struct.pack(">I", table.size) + table.tobytes())


def icc_parametric_curve(function: int, *parameters: float) -> bytes:
    """An ICC parametric tone curve of ``function`` type 0 to 4 with its ``parameters`` (g, a, b, c, d, e, f)."""
    return _icc_tag(b"para", struct.pack(f">HH{len(parameters)}i", function, 0,
                                         *(round(value * 65536) for value in parameters)))


def icc_rgb_table() -> bytes:
    """An ICC lut16 (A2B0) from RGB to XYZ: the colorants of :func:`icc_profile` ("adobe-rgb") on a 2-point grid
    with linear input curves, the way a table-based (scanner calibration) profile describes colour."""
    colorants = np.array([[0.60974, 0.20528, 0.14919], [0.31111, 0.62567, 0.06322], [0.01947, 0.06087, 0.74457]])
    corners = np.stack(np.meshgrid([0, 1], [0, 1], [0, 1], indexing="ij"), axis=-1).reshape(-1, 3)  # red slowest
    grid = np.rint(corners @ colorants.T * 32768).astype(">u2")  # u1Fixed15, as a lut16 encodes XYZ
    identity = struct.pack(">9i", *(65536 if row == col else 0 for row in range(3) for col in range(3)))
    ramp = np.tile(np.array([0, 65535], ">u2"), 3).tobytes()
    return _icc_tag(b"mft2", bytes([3, 3, 2, 0]) + identity + struct.pack(">HH", 2, 2) + ramp + grid.tobytes()
                    + ramp)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, ``kind``, ``data`` and their CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def with_png_chunk(path: Path, kind: bytes, data: bytes) -> Path:
    """Insert a ``kind`` chunk holding ``data`` right after the PNG's header chunk (IHDR)."""
    png = path.read_bytes()
    end_of_header = 8 + 8 + 13 + 4  # signature, then IHDR: length, type, 13 bytes, CRC
    path.write_bytes(png[:end_of_header] + png_chunk(kind, data) + png[end_of_header:])
    return path


def srgb_encoded(linear: np.ndarray) -> np.ndarray:
    """Linear light as sRGB values in [0, 1]."""
    return np.where(linear > 0.0031308, 1.055 * np.maximum(linear, 1e-12) ** (1 / 2.4) - 0.055, 12.92 * linear)
