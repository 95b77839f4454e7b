"""Compare generators on one folder of colour photos across colour scales: PSNR against colourfulness.

Every model is run once per photo at the render size (256) and its ab is scaled by each candidate
factor (0 is the grey baseline), exactly as ``training/calibrate.py`` scores one model; so a model's
curve shows every PSNR/colourfulness pair its colour strength can buy, and two models compare at equal
colourfulness, not only at their stored scale. Writes a Markdown table (PSNR where the colourfulness
reaches 0.85 x the truth's, interpolated between scales; the best PSNR and its scale) and a picture.

    python benchmarks/compare_models.py --data ../shared/data/val --out test_results/gpu_run_val_curves \\
        --weights vidcolor/models/weights/default.safetensors run/snapshots/pretrain_epoch027_partial.safetensors \\
        --labels shipped "GPU L1"
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's packages

from benchmarks._cli import run  # noqa: E402
from training.calibrate import Calibration, calibrate  # noqa: E402
from training.data import find_images  # noqa: E402
from vidcolor.worker import Colorizer  # noqa: E402

SCALES = (0.0, 0.6, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2.0)
COLOUR_GOAL = 0.85


@dataclass(frozen=True)
class ModelCurve:
    """One model's scores per scale on the folder."""

    label: str
    calibration: Calibration

    def psnr_at_colour(self, ratio: float) -> float | None:
        """PSNR where the colourfulness reaches ``ratio`` x the truth's (linear between scales), ``None`` if never."""
        scores = sorted((s for s in self.calibration.scores if s.scale > 0), key=lambda s: s.scale)
        target = ratio * self.calibration.truth_colourfulness
        colours = [s.colourfulness for s in scores]
        if colours[-1] < target:
            return None
        return float(np.interp(target, colours, [s.psnr for s in scores]))

    @property
    def grey_psnr(self) -> float:
        """PSNR of the grey baseline (scale 0)."""
        return next(s.psnr for s in self.calibration.scores if s.scale == 0)


def markdown(curves: list[ModelCurve], title: str) -> str:
    """The comparison table: grey baseline, best PSNR and its scale, PSNR at the colour goal."""
    truth = curves[0].calibration.truth_colourfulness
    lines = [f"# {title}", "",
             f"{curves[0].calibration.photos} colour photos, render size 256; truth colourfulness {truth:.1f}. "
             f"'at {COLOUR_GOAL} x colour': PSNR where the output's colourfulness reaches {COLOUR_GOAL} x the truth's "
             "(interpolated between scales).", "",
             "| model | PSNR grey | best PSNR (scale, colourfulness) | PSNR at 1.0 (colourfulness) | "
             f"PSNR at {COLOUR_GOAL} x colour |", "|---|---|---|---|---|"]
    for curve in curves:
        best = curve.calibration.best_psnr()
        unit = next(s for s in curve.calibration.scores if s.scale == 1.0)
        at_goal = curve.psnr_at_colour(COLOUR_GOAL)
        lines.append(f"| {curve.label} | {curve.grey_psnr:.2f} | {best.psnr:.2f} ({best.scale:.1f}, {best.colourfulness:.1f}) | "
                     f"{unit.psnr:.2f} ({unit.colourfulness:.1f}) | {'—' if at_goal is None else f'{at_goal:.2f}'} |")
    return "\n".join(lines) + "\n"


def plot(curves: list[ModelCurve], title: str, out_png: Path) -> None:
    """Each model's PSNR against colourfulness over the scales, with the goal region shaded."""
    truth = curves[0].calibration.truth_colourfulness
    grey = curves[0].grey_psnr
    figure, axis = plt.subplots(figsize=(8, 5))
    for curve in curves:
        scores = sorted((s for s in curve.calibration.scores if s.scale > 0), key=lambda s: s.scale)
        line, = axis.plot([s.colourfulness for s in scores], [s.psnr for s in scores], marker="o", markersize=3,
                          label=curve.label)
        unit = next(s for s in scores if s.scale == 1.0)
        axis.plot(unit.colourfulness, unit.psnr, marker="s", color=line.get_color())
    axis.axhline(grey, color="black", linestyle="--", linewidth=0.8, label="grey baseline")
    axis.axvline(truth, color="grey", linestyle=":", linewidth=0.8, label="truth colourfulness")
    (left, right), (bottom, top) = axis.get_xlim(), axis.get_ylim()
    right, top = max(right, truth * 1.05), max(top, grey + 2)
    axis.fill_between([COLOUR_GOAL * truth, right], grey + 1.5, top, color="green", alpha=0.1,
                      label=f"goal: grey + 1.5 dB, colour >= {COLOUR_GOAL} x truth")
    axis.set_xlim(left, right)
    axis.set_ylim(bottom, top)
    axis.set_xlabel("colourfulness of the output (squares: scale 1.0)")
    axis.set_ylabel("PSNR (dB)")
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=7)
    figure.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_png, dpi=100)
    plt.close(figure)


def main() -> None:
    """Score each ``--weights`` file on ``--data`` and write ``OUT.md`` and ``OUT.png``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", nargs="+", type=Path, required=True, help="generator .safetensors files")
    parser.add_argument("--data", type=Path, required=True, help="colour photos with known truth")
    parser.add_argument("--labels", nargs="+", default=None, help="one label per weights file (default: file names)")
    parser.add_argument("--out", type=Path, required=True, help="path stem of the .md and .png written")
    parser.add_argument("--title", default=None)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    labels = args.labels or [path.stem for path in args.weights]
    if len(labels) != len(args.weights):
        parser.error("give one --labels entry per weights file")
    paths = find_images(args.data)
    # every file is loaded (and checked) before the first is scored, which takes minutes on a full folder
    colorizers = [Colorizer.from_weights(path, device=args.device, calibrated=False) for path in args.weights]
    curves = [ModelCurve(label, calibrate(colorizer, paths, SCALES)) for label, colorizer in zip(labels, colorizers)]
    title = args.title or f"models on {args.data}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(markdown(curves, title))
    plot(curves, title, args.out.with_suffix(".png"))
    print(markdown(curves, title))


if __name__ == "__main__":
    run(main)
