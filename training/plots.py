"""PNG figures: loss curves, image sheets and metric bar charts (matplotlib, no display needed)."""

from __future__ import annotations

import csv
import functools
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from vidcolor.io.output import atomic_output  # noqa: E402


# fonts with Chinese, Japanese and Korean glyphs, which DejaVu Sans lacks: folder names fall back on those installed
FALLBACK_FAMILIES = ("Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK KR", "Source Han Sans",
                     "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "IPAGothic", "IPAexGothic",
                     "TakaoGothic", "NanumGothic", "AR PL UMing CN", "Microsoft YaHei", "Yu Gothic", "Malgun Gothic")


@functools.cache
def label_fonts() -> tuple[tuple[str, ...], frozenset[int]]:
    """The font families for labels (DejaVu Sans, then the installed :data:`FALLBACK_FAMILIES`, which matplotlib
    falls back along character by character) and the code points they have glyphs for together."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    families = ("DejaVu Sans", *(family for family in FALLBACK_FAMILIES if family in installed))
    covered: set[int] = set()
    for family in families:
        path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        covered.update(FT2Font(path).get_charmap())
    return families, frozenset(covered)


def readable_label(text: str) -> str:
    """``text`` with each character no label font has a glyph for written as its ``\\uXXXX`` escape: a readable
    name instead of a box, and no "Glyph missing from font" warning."""
    covered = label_fonts()[1]
    return "".join(char if ord(char) in covered else ascii(char)[1:-1] for char in text)


def save_figure(figure: plt.Figure, out_png: str | os.PathLike) -> None:
    """Save ``figure`` through a temporary file renamed into place (Ctrl-C never leaves half a PNG), and close it."""
    try:
        with atomic_output(Path(out_png)) as temporary:
            figure.savefig(temporary, dpi=100)
    finally:
        plt.close(figure)


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if len(values) < window or window < 2:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def loss_curve(csv_path: str | os.PathLike, out_png: str | os.PathLike, window: int = 25) -> None:
    """Plot every loss column of a run's ``losses.csv`` against the step, smoothed by a running mean."""
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return
    columns = {"l1": "L1 (ab/110)", "gan_g": "generator GAN", "gan_d": "discriminator"}
    figure, axes = plt.subplots(1, len(columns), figsize=(5 * len(columns), 3.5))
    for axis, (column, title) in zip(axes, columns.items()):
        points = [(int(row["step"]), float(row[column])) for row in rows if row[column] != ""]
        if points:
            steps, values = map(np.array, zip(*points))
            smooth = _smooth(values, window)
            axis.plot(steps, values, alpha=0.25, color="tab:blue")
            # a single step (a run of one, or the first of a stage) is a line of one point: mark it
            axis.plot(steps[len(steps) - len(smooth) :], smooth, color="tab:blue", marker="o" if len(steps) == 1 else "")
        for row_a, row_b in zip(rows, rows[1:]):
            if row_a["stage"] != row_b["stage"]:
                axis.axvline(int(row_b["step"]), color="grey", linestyle="--", linewidth=0.8)
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    figure.tight_layout()
    save_figure(figure, out_png)


def holdout_curve(csv_path: str | os.PathLike, out_png: str | os.PathLike) -> None:
    """Plot a run's ``holdout.csv``: PSNR beside the grey baseline (a star on the best L1-stage scoring) and
    colourfulness beside the truth, per step."""
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return
    steps = [int(row["step"]) for row in rows]
    panels = {"held-out PSNR (dB)": {"model": "psnr", "grey (ab = 0)": "psnr_grey"},
              "held-out colourfulness": {"model": "colourfulness", "truth": "colourfulness_truth"}}
    best = max((row for row in rows if row["stage"] == "pretrain"), key=lambda row: float(row["psnr"]), default=None)
    figure, axes = plt.subplots(1, len(panels), figsize=(10, 3.5))
    for axis, (title, lines) in zip(axes, panels.items()):
        if best is not None and "psnr" in lines.values():
            axis.scatter([int(best["step"])], [float(best["psnr"])], marker="*", s=200, color="tab:green", zorder=3,
                         label="best L1-stage weights")
        for label, column in lines.items():
            # the first scoring (step 0) alone is a line of one point: mark the baselines' points too
            style = {"marker": "o"} if label == "model" else {"linestyle": "--", "color": "grey",
                                                               "marker": "o" if len(rows) == 1 else ""}
            axis.plot(steps, [float(row[column]) for row in rows], label=label, **style)
        for row_a, row_b in zip(rows, rows[1:]):
            if row_a["stage"] != row_b["stage"]:
                axis.axvline(int(row_b["step"]), color="grey", linestyle=":", linewidth=0.8)
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        axis.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, out_png)


def image_sheet(rows: list[list[np.ndarray | None]], column_titles: list[str], out_png: str | os.PathLike) -> None:
    """Save a grid of RGB images (float [0, 1], ``(H, W, 3)``); ``None`` leaves a cell blank."""
    n_rows, n_columns = len(rows), len(column_titles)
    figure, axes = plt.subplots(n_rows, n_columns, figsize=(3 * n_columns, 3 * n_rows), squeeze=False)
    for row_index, row in enumerate(rows):
        for column_index in range(n_columns):
            axis = axes[row_index][column_index]
            axis.axis("off")
            image = row[column_index] if column_index < len(row) else None
            if image is not None:
                axis.imshow(np.clip(image, 0.0, 1.0))
            if row_index == 0:
                axis.set_title(column_titles[column_index])
    figure.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    save_figure(figure, out_png)


def metric_bars(
    groups: list[str],
    series: dict[str, dict[str, list[float]]],
    out_png: str | os.PathLike,
) -> None:
    """One panel per metric, grouped bars per data folder: ``series[metric][label] = values per group``."""
    figure, axes = plt.subplots(1, len(series), figsize=(max(6, 1.2 * len(groups)) * len(series) / 1.5, 4), squeeze=False)
    positions = np.arange(len(groups))
    for axis, (metric, bars) in zip(axes[0], series.items()):
        width = 0.8 / len(bars)
        for index, (label, values) in enumerate(bars.items()):
            container = axis.bar(positions + (index - (len(bars) - 1) / 2) * width, values, width, label=label)
            axis.bar_label(container, fmt="%.3g", fontsize=7)
        axis.set_xticks(positions, [readable_label(group) for group in groups], rotation=30, ha="right",
                        fontfamily=list(label_fonts()[0]))
        axis.set_title(metric)
        axis.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, out_png)


def trade_off(
    points: list[tuple[str, float, float]], truth_colourfulness: float, out_png: str | os.PathLike, title: str = ""
) -> None:
    """PSNR against colourfulness, one labelled point per setting ``(label, colourfulness, psnr)``, joined in
    order, with the truth's colourfulness as a dashed line."""
    _, colours, psnrs = zip(*points)
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(colours, psnrs, marker="o")
    for label, x, y in points:
        axis.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    axis.axvline(truth_colourfulness, color="grey", linestyle="--", label="truth colourfulness")
    axis.set_xlabel("colourfulness")
    axis.set_ylabel("PSNR (dB)")
    axis.set_title(title)
    axis.legend(fontsize=8)
    figure.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    save_figure(figure, out_png)
