"""Pack photo folders into a small training set to carry to a remote GPU machine.

    python -m training.pack --data ../shared/data/train --out packed/train --size 160 --quality 70 --format webp

Each colour photo becomes its centre square resized to ``--size`` px, saved as JPEG or WebP in
``--out`` (sub-folders mirrored, so per-source counts stay visible); grey and unreadable photos are
skipped. Measured on ../shared/data/train at 160 px: JPEG q75 6.9 KB a photo, WebP q70 about 4.7 KB (about 30 %
smaller). Train on the packed folder with ``vidcolor train --data packed/train
...`` (crops up to size / 1.25).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from vidcolor.errors import InputError, OutputError, VidcolorError

from .arguments import whole_number
from .data import find_images, load_or_reason


def pack(source: Path, target: Path, size: int = 208, quality: int = 90, every: int = 1, suffix: str = ".jpg") -> dict[str, int]:
    """Write the packed copies of the photos under ``source`` into ``target`` (JPEG or WebP by ``suffix``); returns the counts.

    ``target`` must lie outside ``source`` (and not hold it): the copies would replace or join the photos;
    it must be new or empty, so that one pack is one set of photos."""
    inside, outside = Path(source).resolve(), Path(target).resolve()
    if inside == outside or inside in outside.parents or outside in inside.parents:
        raise OutputError(f"--out {target} overlaps --data {source}; pack into a folder outside it")
    if target.is_dir() and any(target.iterdir()):
        raise OutputError(f"--out {target} is not empty: packing into it would mix two sets of photos; "
                          "choose a new folder")
    counts = {"packed": 0, "grey": 0, "corrupt": 0}
    written: set[Path] = set()
    for path in tqdm(find_images(source)[::every], unit="photo", desc="packing"):
        pixels = load_or_reason(path, size)
        if isinstance(pixels, str):
            counts[pixels] += 1
            continue
        destination = (target / path.relative_to(source)).with_suffix(suffix)
        if destination in written:  # x.jpg and x.png: the second keeps its suffix in the name (x.png.jpg)
            destination = destination.with_name(path.name + suffix)
        written.add(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(destination, quality=quality)
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
    except (VidcolorError, OSError) as error:
        parser.exit(1, f"Error: {error}\n")
    print(", ".join(f"{count} {name}" for name, count in counts.items()))


if __name__ == "__main__":
    main()
