"""Training photos: found recursively, decoded once into one uint8 tensor, cropped and flipped in batches.

Every usable photo is centre-cropped to a square and resized so its side is ``ceil(crop * 1.25)``;
random resized crops and horizontal flips are then one ``grid_sample`` call per batch, on whatever
device holds the bank (the GPU on CUDA), followed by the Lab conversion there.
"""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from vidcolor.color import lab_from_normalized, lab_to_rgb, normalize_ab, normalize_l, rgb_to_lab
from vidcolor.errors import InputError
from vidcolor.io.colour_profiles import convert_to_srgb
from vidcolor.io.images import LoadedImage, is_image_suffix, quantised, read_image

log = logging.getLogger(__name__)

BANK_MARGIN = 1.25
GREY_CHROMA_LIMIT = 2.0  # mean |R-G| + |G-B| (0..255) below this counts as a grey photo
NEUTRAL_GREY = 128 / 255  # what transparent parts of a photo are laid over
# what reading a file that is not a usable photo raises (the tool's reader says it with InputError)
UNREADABLE = (InputError, OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError)


@dataclass
class ImageBank:
    """Square uint8 photos ``(N, S, S, 3)`` plus where they came from, what was skipped and which of them
    were smaller than the crop (upscaled, so blurrier than the rest)."""

    images: torch.Tensor
    sources: list[str]
    skipped_grey: list[str] = field(default_factory=list)
    skipped_corrupt: list[str] = field(default_factory=list)
    upscaled: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device | str) -> "ImageBank":
        """The same bank with its pixels on ``device``."""
        return ImageBank(self.images.to(device), self.sources, self.skipped_grey, self.skipped_corrupt, self.upscaled)

    def subset(self, indices: torch.Tensor) -> "ImageBank":
        """The photos at ``indices`` (the skip and upscale lists stay with the subset, they describe the same data)."""
        picked = indices.tolist()
        return ImageBank(self.images[indices.to(self.images.device)], [self.sources[i] for i in picked],
                         self.skipped_grey, self.skipped_corrupt, self.upscaled)


def find_images(root: str | os.PathLike) -> list[Path]:
    """Every photo under ``root`` (recursively, sorted), by file suffix; symlinked folders are followed,
    each real folder once (a link back up the tree cannot loop), under the first of its names in sorted order
    (not the file system's listing order, which differs between copies of a folder)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root} is a file, not a folder of photos" if root.exists() else f"data folder not found: {root}")
    seen: set[str] = set()
    found = []
    for folder, subfolders, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders.clear()
            continue
        seen.add(real)
        subfolders.sort()  # walked in this order: which name of a folder linked twice is kept must not vary
        found.extend(path for path in map(Path(folder).joinpath, files) if is_image_suffix(path) and path.is_file())
    return sorted(found)


def is_grey(rgb: np.ndarray) -> bool:
    """True when an RGB uint8 photo carries (almost) no colour."""
    pixels = rgb.astype(np.int16)
    chroma = np.abs(pixels[..., 0] - pixels[..., 1]) + np.abs(pixels[..., 1] - pixels[..., 2])
    return float(chroma.mean()) < GREY_CHROMA_LIMIT


@dataclass(frozen=True)
class Square:
    """A photo as its centre square resized to the bank's side, and its own short side before that."""

    pixels: np.ndarray
    short_side: int


def read_square(path: Path, side: int, upscale: bool = True) -> Square | None:
    """Read ``path`` as the tool reads a photo (:func:`vidcolor.io.images.read_image`: upright by its EXIF
    orientation, converted from its colour profile to sRGB, CMYK through its profile), lay transparency over
    neutral grey, centre-crop to a square and resize it to ``side`` (a smaller photo keeps its own short side
    without ``upscale``); ``None`` if grey.

    A baseline JPEG, most photos, is decoded by Pillow at a reduced scale first (``draft``), the rest at full size
    by the tool's reader. Raises ``InputError``/``OSError``/``ValueError`` for files that are not readable images.
    """
    with Image.open(path) as image:
        if image.mode in ("L", "LA", "1", "I", "I;16", "F"):
            return None
        short_side = min(image.size)
        side = side if upscale else min(side, short_side)
        rgb = _jpeg_rgb(path, image, side) if image.format in ("JPEG", "MPO") and image.mode == "RGB" else None
    if rgb is None:
        rgb = _over_grey(read_image(path))
    pixels = np.asarray(_centre_square(rgb, side), dtype=np.uint8)
    return None if is_grey(pixels) else Square(pixels, short_side)


def load_square(path: Path, side: int) -> np.ndarray | None:
    """:func:`read_square`'s pixels, ``None`` if grey."""
    square = read_square(path, side)
    return None if square is None else square.pixels


def _jpeg_rgb(path: Path, image: Image.Image, side: int) -> Image.Image:
    """An RGB JPEG decoded at the smallest scale that still covers ``side``, upright, in sRGB."""
    image.draft("RGB", (side, side))
    upright = ImageOps.exif_transpose(image)
    profile = image.info.get("icc_profile")
    return Image.fromarray(_in_srgb(np.asarray(upright), profile, path)) if profile else upright


_SRGB_PROFILES: set[bytes] = set()  # profiles seen to leave pixels as they are (sRGB's own, or unusable ones)


def _in_srgb(pixels: np.ndarray, profile: bytes, path: Path) -> np.ndarray:
    """8-bit RGB ``pixels`` converted from their ICC ``profile`` to sRGB; a profile that already proved to leave
    pixels alone is not tried again (most cameras embed sRGB's, and trying costs more than decoding)."""
    if profile in _SRGB_PROFILES:
        return pixels
    converted = convert_to_srgb(pixels, profile, path)
    if converted is pixels:
        _SRGB_PROFILES.add(profile)
    return converted


def _over_grey(photo: LoadedImage) -> Image.Image:
    """The photo's 8-bit RGB; with transparency it is laid over neutral grey (the colour under transparent
    pixels is arbitrary, often black, and would be learnt as the colour of whatever lies there)."""
    rgb = photo.rgb
    if photo.alpha is not None:
        coverage = photo.alpha[..., None]
        rgb = rgb * coverage + NEUTRAL_GREY * (1 - coverage)
    return Image.fromarray(quantised(rgb, 255, np.uint8))


def _centre_square(image: Image.Image, side: int) -> Image.Image:
    """The centre square of ``image`` resized (bicubic) to ``side``."""
    short = min(image.size)
    left, top = (image.width - short) // 2, (image.height - short) // 2
    return image.crop((left, top, left + short, top + short)).resize((side, side), Image.Resampling.BICUBIC)


def bank_side(crop: int) -> int:
    """Side of the stored squares for a given crop size (a margin for random resized crops)."""
    return math.ceil(crop * BANK_MARGIN)


def square_or_reason(path: Path, side: int, upscale: bool = True) -> Square | str:
    """The photo as a ``side``-px centre :class:`Square` (see :func:`read_square`), or why it was skipped
    (``"grey"`` or ``"corrupt"``)."""
    try:
        square = read_square(path, side, upscale)
    except UNREADABLE:
        return "corrupt"
    return "grey" if square is None else square


def load_or_reason(path: Path, side: int) -> np.ndarray | str:
    """The pixels of :func:`square_or_reason`, or why the photo was skipped."""
    result = square_or_reason(path, side)
    return result if isinstance(result, str) else result.pixels


def collect_images(folders: list[str | os.PathLike]) -> list[Path]:
    """Every photo under each of ``folders``, in folder order then sorted path order; a photo reached
    through two folders (one inside the other, or one given twice) is kept once, so it cannot be both
    trained on and held out."""
    seen: set[Path] = set()
    paths = []
    for folder in folders:
        for path in find_images(folder):
            if path.resolve() not in seen:
                seen.add(path.resolve())
                paths.append(path)
    if not paths:
        raise InputError(f"no photos found under {', '.join(map(str, folders))}")
    return paths


def build_bank(paths: list[Path], crop: int, workers: int | None = None, progress: bool = True) -> ImageBank:
    """Decode every colour photo in ``paths`` once (``workers`` threads, default one per core, at most 16);
    grey and unreadable files are skipped and counted, and so are photos smaller than ``crop`` (kept, upscaled)."""
    side = bank_side(crop)
    workers = workers or min(16, os.cpu_count() or 1)
    images = np.empty((len(paths), side, side, 3), dtype=np.uint8)
    sources: list[str] = []
    grey: list[str] = []
    corrupt: list[str] = []
    upscaled: list[str] = []
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        results = pool.map(lambda path: square_or_reason(path, side), paths)
        for path, result in tqdm(zip(paths, results), total=len(paths), desc="decoding", disable=not progress):
            if isinstance(result, str):
                (grey if result == "grey" else corrupt).append(str(path))
                continue
            if result.short_side < crop:
                upscaled.append(str(path))
            images[len(sources)] = result.pixels
            sources.append(str(path))
    finally:  # on Ctrl-C or an error, the photos still queued are dropped, not decoded first
        pool.shutdown(cancel_futures=True)
    log.info("decoded %d photos at %dx%d (%d of them upscaled, smaller than the %d px crop); "
             "skipped %d grey and %d unreadable", len(sources), side, side, len(upscaled), crop, len(grey), len(corrupt))
    if not sources:
        raise InputError("none of the photos is a readable colour photo")
    return ImageBank(torch.from_numpy(images[: len(sources)]), sources, grey, corrupt, upscaled)


def random_crops(
    images: torch.Tensor,
    crop: int,
    generator: torch.Generator,
    min_scale: float = 0.5,
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> torch.Tensor:
    """Random resized crops (area ``min_scale``..1, aspect ``ratio``) with random horizontal flips.

    ``images`` is uint8 ``(B, S, S, 3)``; returns float RGB ``(B, 3, crop, crop)`` in [0, 1] on the same
    device. Random numbers come from ``generator`` (a CPU generator), so runs are reproducible.
    """
    batch = images.shape[0]
    area = torch.empty(batch).uniform_(min_scale, 1.0, generator=generator)
    log_ratio = torch.empty(batch).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=generator)
    aspect = log_ratio.exp()
    width = (area * aspect).sqrt().clamp(max=1.0)
    height = (area / aspect).sqrt().clamp(max=1.0)
    shift_x = (torch.rand(batch, generator=generator) * 2 - 1) * (1 - width)
    shift_y = (torch.rand(batch, generator=generator) * 2 - 1) * (1 - height)
    flip = torch.where(torch.rand(batch, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0] = width * flip
    theta[:, 0, 2] = shift_x
    theta[:, 1, 1] = height
    theta[:, 1, 2] = shift_y
    pixels = images.permute(0, 3, 1, 2).float().div_(255.0)
    grid = F.affine_grid(theta.to(pixels.device), [batch, 3, crop, crop], align_corners=False)
    return F.grid_sample(pixels, grid, mode="bilinear", padding_mode="border", align_corners=False).clamp_(0.0, 1.0)


def centre_crops(images: torch.Tensor, crop: int) -> torch.Tensor:
    """Deterministic centre crops ``(B, 3, crop, crop)`` in [0, 1] of a uint8 ``(B, S, S, 3)`` batch."""
    side = images.shape[1]
    start = (side - crop) // 2
    window = images[:, start : start + crop, start : start + crop]
    return window.permute(0, 3, 1, 2).float().div(255.0)


def to_model_pair(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised (L ``(B,1,H,W)``, ab ``(B,2,H,W)``) of an RGB batch in [0, 1], channels_last like the nets."""
    lab = rgb_to_lab(rgb)
    return (normalize_l(lab[:, :1]).contiguous(memory_format=torch.channels_last),
            normalize_ab(lab[:, 1:]).contiguous(memory_format=torch.channels_last))


def predicted_and_grey_images(l_norm: torch.Tensor, predicted: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """RGB ``(B, H, W, 3)`` in [0, 1] of the model's colour and of the grey baseline (ab = 0) for one L batch."""
    colour = lab_to_rgb(lab_from_normalized(l_norm, predicted))
    grey = lab_to_rgb(lab_from_normalized(l_norm, torch.zeros_like(predicted)))
    return as_images(colour), as_images(grey)


def as_images(batch: torch.Tensor) -> np.ndarray:
    """An image batch ``(B, 3, H, W)`` as ``(B, H, W, 3)`` NumPy on the CPU."""
    return batch.permute(0, 2, 3, 1).cpu().numpy()


def coco_sample_dir() -> Path:
    """fastai's COCO sample (the seed's data set), downloaded on first use: ``untar_data(URLs.COCO_SAMPLE)``."""
    from fastai.data.external import URLs, untar_data

    try:
        return Path(untar_data(URLs.COCO_SAMPLE)) / "train_sample"
    except OSError as error:  # urllib's URLError (no network) is an OSError
        raise InputError(f"cannot download fastai's COCO sample ({getattr(error, 'reason', error)}); "
                         "check the internet connection, or pass a local folder of photos") from error
