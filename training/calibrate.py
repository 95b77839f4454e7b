"""Calibrate a model's colour strength: the ab scale stored with the weights and applied at inference.

An L1-trained generator predicts colour too faintly (the conditional median), a GAN-trained one may
overshoot. One scalar fixes most of that. Each candidate scale is scored on photos with known colour:
PSNR against the truth and colourfulness beside the truth's, so the trade between faithful and vivid
colour is visible (``--plot``). By default the PSNR-best scale is stored; ``--colour-ratio R`` stores
the smallest scale whose colourfulness reaches R x the truth's. The value goes into the weights'
metadata (``inference.saturation``), applied by :meth:`vidcolor.worker.Colorizer.from_weights`; the
user's ``--saturation`` multiplies it. Calibrate on training photos, never on the photos you report.

    python -m training.calibrate --weights model.safetensors --data ../shared/data/train --count 300
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vidcolor.color import lab_to_rgb
from vidcolor.errors import InputError, OutputError, VidcolorError
from vidcolor.models import update_metadata
from vidcolor.worker import Colorizer

from . import plots
from .arguments import positive_number, whole_number
from .data import find_images
from .evaluate import SkippedPhotos, colour_photos
from .metrics import colourfulness, psnr

PLOT_SUFFIXES = frozenset({".png", ".pdf", ".svg", ".jpg", ".jpeg"})
CANDIDATES = tuple(np.round(np.arange(0.5, 2.51, 0.1), 2))


@dataclass(frozen=True)
class ScaleScore:
    """Mean scores of one ab scale over the calibration photos."""

    scale: float
    psnr: float
    colourfulness: float


@dataclass(frozen=True)
class Calibration:
    """Scores per candidate scale, the truth's mean colourfulness for reference, and how many photos they cover."""

    scores: list[ScaleScore]
    truth_colourfulness: float
    photos: int
    skipped: SkippedPhotos = field(default_factory=SkippedPhotos)

    def best_psnr(self) -> ScaleScore:
        """The scale with the highest mean PSNR."""
        return max(self.scores, key=lambda score: score.psnr)

    def reaching(self, colour_ratio: float) -> ScaleScore | None:
        """The smallest scale whose colourfulness is at least ``colour_ratio`` x the truth's (``None`` if none)."""
        target = colour_ratio * self.truth_colourfulness
        reached = [score for score in self.scores if score.colourfulness >= target]
        return min(reached, key=lambda score: score.scale) if reached else None


@torch.inference_mode()
def calibrate(colorizer: Colorizer, paths: list[Path], candidates: tuple[float, ...] = CANDIDATES) -> Calibration:
    """Score each ab scale in ``candidates`` on ``paths`` (grey and unreadable photos are skipped)."""
    psnrs: dict[float, list[float]] = {float(scale): [] for scale in candidates}
    colours: dict[float, list[float]] = {float(scale): [] for scale in candidates}
    truth_colours: list[float] = []
    skipped = SkippedPhotos()
    for _, rgb in colour_photos(tqdm(paths, unit="photo", desc="calibrating"), skipped):
        truth_colours.append(colourfulness(rgb))
        lightness, ab = colorizer.predict_full_size(rgb)
        for scale in psnrs:
            output = lab_to_rgb(torch.cat([lightness, ab * scale], dim=1))[0].permute(1, 2, 0).cpu().numpy()
            psnrs[scale].append(psnr(rgb, output))
            colours[scale].append(colourfulness(output))
    if not truth_colours:
        raise InputError(f"no colour photos to calibrate on ({skipped.grey} grey, {skipped.unreadable} unreadable)")
    scores = [ScaleScore(scale, float(np.mean(psnrs[scale])), float(np.mean(colours[scale]))) for scale in psnrs]
    return Calibration(scores, float(np.mean(truth_colours)), len(truth_colours), skipped)


def spread(paths: list[Path], count: int) -> list[Path]:
    """``count`` paths evenly spaced through the sorted list (all of them when there are fewer)."""
    paths = sorted(paths)
    if len(paths) <= count:
        return paths
    return [paths[int(index)] for index in np.linspace(0, len(paths) - 1, count)]


def check_writable(weights: Path) -> None:
    """:class:`OutputError` when the scale could not be stored in ``weights``, which is rewritten through a
    temporary file in its folder: checked before the scoring, which takes minutes."""
    folder = weights.absolute().parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot store the scale in {weights}: its folder {folder} is read-only or not yours; "
                          "copy the weights into a writable folder and calibrate the copy")


def report(calibration: Calibration, chosen: ScaleScore) -> str:
    """One line per scale (PSNR, colourfulness and its ratio to the truth), the chosen one marked."""
    truth = calibration.truth_colourfulness
    lines = [f"saturation {score.scale:.2f}: PSNR {score.psnr:.3f} dB, colourfulness {score.colourfulness:.1f} "
             f"({score.colourfulness / truth:.2f} x truth){'  <- chosen' if score == chosen else ''}"
             for score in calibration.scores]
    skipped = calibration.skipped
    return "\n".join(lines + [f"truth colourfulness {truth:.1f} over {calibration.photos} colour photos "
                              f"({skipped.grey} grey and {skipped.unreadable} unreadable skipped)"])


def main() -> None:
    """Score the candidate scales on ``--data`` and store the chosen one in ``--weights``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="colour photos (training photos, not the val set)")
    parser.add_argument("--count", type=whole_number(1), default=300, help="photos to score, spread through the folder")
    parser.add_argument("--colour-ratio", type=positive_number, default=None,
                        help="store the smallest scale reaching this x the truth's colourfulness (default: best PSNR)")
    parser.add_argument("--plot", type=Path, default=None,
                        help="save PSNR against colourfulness per scale as a picture (.png, .pdf, .svg or .jpg)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.plot is not None and args.plot.suffix.lower() not in PLOT_SUFFIXES:
        parser.error(f"--plot {args.plot} needs one of {', '.join(sorted(PLOT_SUFFIXES))}")
    try:
        _calibrate_and_store(args, parser)
    except KeyboardInterrupt:  # the weights are rewritten through a temporary file: whole, with or without the scale
        parser.exit(130, "Error: interrupted\n")


def _calibrate_and_store(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Score the scales, print them, store the chosen one and draw the plot; errors end in one line."""
    try:
        colorizer = Colorizer.from_weights(args.weights, device=args.device, saturation=1.0, calibrated=False)
        check_writable(args.weights)
        calibration = calibrate(colorizer, spread(find_images(args.data), args.count))
    except (OSError, VidcolorError) as error:
        parser.exit(1, f"Error: {error}\n")
    chosen = calibration.best_psnr()
    if args.colour_ratio is not None:
        chosen = calibration.reaching(args.colour_ratio)
        if chosen is None:
            parser.exit(1, f"Error: no candidate scale reaches {args.colour_ratio} x the truth's colourfulness\n")
    print(report(calibration, chosen))
    try:
        update_metadata(args.weights, {"inference": {"saturation": chosen.scale,
                                                     "calibrated_on": f"{calibration.photos} photos of {args.data}"}})
    except VidcolorError as error:  # a full disk, say
        parser.exit(1, f"Error: {error}\n")
    print(f"{args.weights}: inference saturation set to {chosen.scale:.2f}")
    if args.plot is not None:  # after the scale is stored: a plot that cannot be written must not lose it
        try:
            plots.trade_off(
                [(f"{score.scale:.1f}", score.colourfulness, score.psnr) for score in calibration.scores],
                calibration.truth_colourfulness, args.plot,
                title=f"colour scale on {args.data.name} ({calibration.photos} photos)")
        except OSError as error:
            parser.exit(1, f"Error: cannot write the plot {args.plot} ({error.strerror or error}); "
                           "the scale is stored\n")


if __name__ == "__main__":
    main()
