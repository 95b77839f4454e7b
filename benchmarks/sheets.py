"""Side-by-side sheets for the model card: validation photos and real archival photos.

    python benchmarks/sheets.py --val ../shared/data/val --archival ../shared/data/archival_photos \\
        [--weights W] [--count 12] [--out test_results]

Writes ``val_sheet.png`` (grey | colourised | truth) and ``archival_sheet.png`` (grey | colourised),
picking ``--count`` photos evenly spread over each folder (sorted by path, so reruns pick the same;
unreadable ones are left out). A folder without a readable photo is an error, and its sheet is not written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's packages

from benchmarks._cli import positive_int, run  # noqa: E402
from training.calibrate import spread  # noqa: E402
from training.data import find_images  # noqa: E402
from training.evaluate import sample_sheet  # noqa: E402
from vidcolor.errors import InputError  # noqa: E402
from vidcolor.worker import Colorizer  # noqa: E402


def write_sheet(folder: Path, count: int, colorizer: Colorizer, out_png: Path) -> int:
    """The sheet of ``count`` photos spread over ``folder``; returns its rows, InputError when there are none."""
    rows = sample_sheet(spread(find_images(folder), count), colorizer, out_png)
    if not rows:
        raise InputError(f"no readable photos in {folder}; {out_png} was not written")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--val", type=Path, required=True)
    parser.add_argument("--archival", type=Path, required=True)
    parser.add_argument("--weights", type=Path, default=None, help="default: the bundled model")
    parser.add_argument("--count", type=positive_int, default=12)
    parser.add_argument("--out", type=Path, default=Path("test_results"))
    args = parser.parse_args()
    colorizer = Colorizer.from_weights(args.weights)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, folder in (("val_sheet.png", args.val), ("archival_sheet.png", args.archival)):
        rows = write_sheet(folder, args.count, colorizer, args.out / name)
        print(f"{args.out / name}: {rows} photos")


if __name__ == "__main__":
    run(main)
