"""Side-by-side sheets for the model card: validation photos and real archival photos.

    python benchmarks/sheets.py --val ../shared/data/val --archival ../shared/data/archival_photos \
        [--weights W] [--count 12] --out test_results

Writes ``val_sheet.png`` (grey | colourised | truth) and ``archival_sheet.png`` (grey | colourised),
picking ``--count`` photos evenly spread over each folder (sorted by path, so reruns pick the same).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.calibrate import spread
from training.data import find_images
from training.evaluate import sample_sheet
from vidcolor.worker import Colorizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--val", type=Path, required=True)
    parser.add_argument("--archival", type=Path, required=True)
    parser.add_argument("--weights", type=Path, default=None, help="default: the bundled model")
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("test_results"))
    args = parser.parse_args()
    colorizer = Colorizer.from_weights(args.weights)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, folder in (("val_sheet.png", args.val), ("archival_sheet.png", args.archival)):
        sample_sheet(spread(find_images(folder), args.count), colorizer, args.out / name)
        print(args.out / name)


if __name__ == "__main__":
    main()
