"""Use vidcolor from Python: one model, several files, custom encoder and smoothing settings.

    python examples/colorize_with_python.py old_film.mp4 old_photo.jpg --out colour/ [--overwrite]

Each input is written under ``--out`` with its own name; an existing output is replaced only with
``--overwrite``. Errors are one line (``error: ...``) and a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vidcolor import (Colorizer, EncodeSettings, OutputError, TemporalOptions, VidcolorError, colorize_image,
                      colorize_video)
from vidcolor.io.probe import media_kind


def check_distinct_names(inputs: list[Path]) -> None:
    """Refuse two inputs whose outputs would be one file (``a/x.jpg`` and ``b/x.jpg``), before any work."""
    seen: dict[str, Path] = {}
    for path in inputs:
        if path.name in seen:
            raise OutputError(f"{seen[path.name]} and {path} would both be written as {path.name}; "
                                "colour them into different --out folders")
        seen[path.name] = path


def check_outputs(inputs: list[Path], out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` that is a file, or an output there that exists without ``overwrite``, before any work."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file, not a folder; choose a folder for the colour versions")
    for path in inputs:
        if (out / path.name).exists() and not overwrite:
            raise OutputError(f"output {out / path.name} already exists; pass --overwrite to replace it")


def colorize_all(inputs: list[Path], out: Path, overwrite: bool) -> None:
    """Colour every input into ``out``, loading the model once; every input and output is checked first."""
    check_distinct_names(inputs)
    kinds = [media_kind(path) for path in inputs]  # a missing or unreadable input is named before any work
    check_outputs(inputs, out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    colorizer = Colorizer.from_weights(saturation=1.2)  # bundled model, 20 % more colour
    settings = EncodeSettings(crf=20, preset="slow")  # the codec each output file type takes (libx264 for .mp4)
    steady = TemporalOptions(strength=0.85)  # hold colour a little more firmly than the default
    for path, kind in zip(inputs, kinds):
        target = out / path.name
        if kind == "image":
            result = colorize_image(path, target, colorizer, overwrite=overwrite)
            print(f"{result.output}: {result.width}x{result.height}")
        else:
            result = colorize_video(path, target, colorizer, settings=settings, temporal=steady, overwrite=overwrite)
            print(f"{result.output}: {result.frames} frames, {result.cuts} scene cuts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--overwrite", action="store_true", help="replace outputs that exist")
    args = parser.parse_args()
    try:
        colorize_all(args.inputs, args.out, args.overwrite)
    except (VidcolorError, OSError) as error:  # messages meant for users: one line, no traceback
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
