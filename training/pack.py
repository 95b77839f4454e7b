"""Pack photo folders into a small training set to carry to a remote GPU machine.

    python -m training.pack --data ../shared/data/train --out packed/train --size 160 --quality 70 --format webp

Each colour photo becomes its centre square resized to ``--size`` px (a smaller one keeps its own size: an
upscaled copy would only cost bytes and hide from training that the photo is small), saved as JPEG or WebP in
``--out`` (sub-folders mirrored, so per-source counts stay visible); grey and unreadable photos are
skipped. The photos are written into a hidden ``.NAME.partial`` folder beside ``--out``, renamed to ``--out``
at the end, so a pack cut short (an error, Ctrl-C) leaves no folder that looks complete. Measured on
../shared/data/train at 160 px: JPEG q75 6.9 KB a photo, WebP q70 about 4.7 KB (about 30 % smaller). Train on
the packed folder with ``vidcolor train --data packed/train ...`` (crops up to size / 1.25).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from vidcolor.errors import InputError, OutputError, VidcolorError

from .arguments import whole_number
from .data import find_images, square_or_reason


def pack(source: Path, target: Path, size: int = 208, quality: int = 90, every: int = 1, suffix: str = ".jpg") -> dict[str, int]:
    """Write the packed copies of the photos under ``source`` into ``target`` (JPEG or WebP by ``suffix``); returns the counts.

    ``target`` must lie outside ``source`` (and not hold it): the copies would replace or join the photos;
    it must be new or empty, so that one pack is one set of photos. The copies appear in ``target`` only once
    all are written (see :func:`partial_folder`)."""
    inside, outside = Path(source).resolve(), Path(target).resolve()
    if inside == outside or inside in outside.parents or outside in inside.parents:
        raise OutputError(f"--out {target} overlaps --data {source}; pack into a folder outside it")
    if target.exists() and not target.is_dir():
        raise OutputError(f"--out {target} is a file; pack into a new folder")
    if target.is_dir() and any(target.iterdir()):
        raise OutputError(f"--out {target} is not empty: packing into it would mix two sets of photos; "
                          "choose a new folder")
    partial = partial_folder(outside)
    shutil.rmtree(partial, ignore_errors=True)  # left by a pack that was killed
    try:
        counts = _pack_into(source, partial, size, quality, every, suffix)
        partial.replace(outside)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return counts


def partial_folder(target: Path) -> Path:
    """The hidden folder beside ``target`` that a pack is written into before it is renamed to ``target``."""
    return target.with_name(f".{target.name}.partial")


def _pack_into(source: Path, target: Path, size: int, quality: int, every: int, suffix: str) -> dict[str, int]:
    """Write the packed copies into ``target`` (which need not exist yet); returns the counts."""
    counts = {"packed": 0, "grey": 0, "corrupt": 0}
    written: set[Path] = set()
    for path in tqdm(find_images(source)[::every], unit="photo", desc="packing"):
        square = square_or_reason(path, size, upscale=False)
        if isinstance(square, str):
            counts[square] += 1
            continue
        destination = (target / path.relative_to(source)).with_suffix(suffix)
        if destination in written:  # x.jpg and x.png: the second keeps its suffix in the name (x.png.jpg)
            destination = destination.with_name(path.name + suffix)
        written.add(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(square.pixels).save(destination, quality=quality)
        counts["packed"] += 1
    if not counts["packed"]:
        raise InputError(f"no colour photos under {source} ({counts['grey']} grey, {counts['corrupt']} unreadable)")
    return counts


def main() -> None:
    """Pack ``--data`` into ``--out`` and print the counts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=whole_number(1), default=208)
    parser.add_argument("--quality", type=whole_number(1, 100), default=90)
    parser.add_argument("--every", type=whole_number(1), default=1, help="keep every N-th photo")
    parser.add_argument("--format", choices=["jpg", "webp"], default="jpg", help="webp is about 30%% smaller than jpg")
    args = parser.parse_args()
    try:
        counts = pack(args.data, args.out, args.size, args.quality, args.every, suffix=f".{args.format}")
    except KeyboardInterrupt:
        parser.exit(130, "Error: interrupted; nothing was packed\n")
    except (VidcolorError, OSError) as error:
        parser.exit(1, f"Error: {error}\n")
    size = sum(path.stat().st_size for path in args.out.rglob("*") if path.is_file())
    print(", ".join(f"{count} {name}" for name, count in counts.items()) + f"; {size / 2**20:.1f} MiB in {args.out}")


if __name__ == "__main__":
    main()
