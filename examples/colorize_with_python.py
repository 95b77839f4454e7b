"""Use vidcolor from Python: one model, several files, custom encoder and smoothing settings.

    python examples/colorize_with_python.py old_film.mp4 old_photo.jpg --out colour/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vidcolor import Colorizer, EncodeSettings, TemporalOptions, colorize_image, colorize_video
from vidcolor.io.probe import media_kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    colorizer = Colorizer.from_weights(saturation=1.2)  # bundled model, 20 % more colour
    settings = EncodeSettings(codec="libx264", crf=20, preset="slow")
    steady = TemporalOptions(strength=0.85)  # hold colour a little more firmly than the default
    for path in args.inputs:
        target = args.out / path.name
        if media_kind(path) == "image":
            result = colorize_image(path, target, colorizer, overwrite=True)
            print(f"{result.output}: {result.width}x{result.height}")
        else:
            result = colorize_video(path, target, colorizer, settings=settings, temporal=steady, overwrite=True)
            print(f"{result.output}: {result.frames} frames, {result.cuts} scene cuts")


if __name__ == "__main__":
    main()
