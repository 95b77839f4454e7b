"""Score a colouriser on a folder of colour photos, per sub-folder and overall, beside the grey baseline.

Each photo is turned grey by the colouriser itself (it keeps the photo's Lab L and predicts ab), so
the model and the grey baseline (the same L with ab = 0) start from exactly the same input.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vidcolor.color import lab_to_rgb, rgb_to_lab
from vidcolor.errors import InputError, OutputError, first_line, shown_name
from vidcolor.io.images import read_image
from vidcolor.io.output import atomic_output
from vidcolor.worker import Colorizer, check_free_memory, row_bands

from . import plots
from .data import UNREADABLE, find_images, is_grey
from .metrics import DATA_RANGE, colourfulness, psnr, ssim

log = logging.getLogger(__name__)

OVERALL = "overall"
SHEET_COLUMNS = ["grey", "colourised", "truth"]
SAVED_NAMES = ("evaluation.csv", "evaluation.md", "evaluation.png", "samples.png")  # by save_table
# scoring one photo (read, coloured, grey baseline, metrics), peak over the model: 163 measured at 24 MP, rounded up;
# mostly the metrics' float64 copies on the CPU, so counted on any device
SCORING_BYTES_PER_PIXEL = 170


@dataclass
class ScoreRow:
    """Mean scores of one group of photos; ``grey`` is the ab = 0 baseline, ``truth`` the original."""

    group: str
    photos: int
    psnr_model: float
    psnr_grey: float
    ssim_model: float
    ssim_grey: float
    colourfulness_model: float
    colourfulness_grey: float
    colourfulness_truth: float


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """An image file as RGB float32 ``(H, W, 3)`` in [0, 1], read as the tool reads a photo
    (:func:`vidcolor.io.images.read_image`): upright by its EXIF orientation (a phone photo stored sideways
    would be scored on a sideways sky), converted from its colour profile to sRGB (Adobe RGB, CMYK), at its
    own bit depth; transparency is left out."""
    return read_image(Path(path)).rgb


def readable_rgb(path: str | os.PathLike) -> np.ndarray | None:
    """:func:`read_rgb`, or ``None`` for a file that cannot be read as a photo. A damaged file can make an image
    library fail in any way (a corrupt TIFF tag: ``AttributeError``, ``IndexError``), so one bad file never stops
    an evaluation; such an unforeseen failure is logged with the file's name."""
    try:
        return read_rgb(path)
    except UNREADABLE:
        return None
    except Exception as error:  # noqa: BLE001 - an evaluation goes on past any damaged file
        log.warning("skipped %s: %s: %s", shown_name(str(path)), type(error).__name__, first_line(error))
        return None


def is_grey_photo(rgb: np.ndarray) -> bool:
    """:func:`training.data.is_grey` for a float RGB photo in [0, 1], as :func:`read_rgb` returns it."""
    return is_grey((rgb * 255).round().astype(np.uint8))


@dataclass
class SkippedPhotos:
    """How many photos :func:`colour_photos` passed over, and why."""

    grey: int = 0
    unreadable: int = 0  # or smaller than asked for


def colour_photos(paths: Iterable[Path], skipped: SkippedPhotos, min_side: int = 1) -> Iterator[tuple[Path, np.ndarray]]:
    """``(path, rgb)`` for each photo with colour truth, ``rgb`` as :func:`read_rgb` gives it; grey,
    unreadable and photos under ``min_side`` px on a side are counted in ``skipped`` instead."""
    for path in paths:
        rgb = readable_rgb(path)
        if rgb is None:
            skipped.unreadable += 1
        elif is_grey_photo(rgb):
            skipped.grey += 1
        elif min(rgb.shape[:2]) < min_side:
            skipped.unreadable += 1
        else:
            yield path, rgb


def grey_baseline(rgb: np.ndarray) -> np.ndarray:
    """The photo's own Lab L with ab = 0, back in RGB: what an uncoloured grey photo looks like. Worked out in
    bands of rows (the maths is per pixel), so a big scan's float64 temporaries stay small."""
    grey = np.empty(rgb.shape, np.float32)
    for band in row_bands(*rgb.shape[:2]):
        lab = rgb_to_lab(torch.from_numpy(rgb[band]).permute(2, 0, 1).double())
        lab[1:] = 0.0
        grey[band] = lab_to_rgb(lab).permute(1, 2, 0).numpy()
    return grey


def _group_of(path: Path, root: Path) -> str:
    """The table row of a photo: its top-level sub-folder, ``FOLDER/`` for photos directly in ``root`` (so a
    sub-folder of the same name stays its own row), ``overall/`` for a sub-folder named like the total; see
    :func:`vidcolor.errors.shown_name` for names that are no UTF-8."""
    parts = path.relative_to(root).parts
    if len(parts) == 1:
        return shown_name(f"{root.resolve().name}/")
    return shown_name(f"{parts[0]}/" if parts[0] == OVERALL else parts[0])


def _mean_row(group: str, scores: list[tuple[float, ...]]) -> ScoreRow:
    means = np.mean(np.array(scores, dtype=np.float64), axis=0)
    return ScoreRow(group, len(scores), *(float(value) for value in means))


def evaluate(data_dir: str | os.PathLike, colorizer: Colorizer, progress: bool = True) -> list[ScoreRow]:
    """Mean scores per top-level sub-folder of ``data_dir``, then ``overall`` (the mean over all photos).

    Grey and unreadable photos are skipped (and logged): they have no colour truth to compare with; so are
    photos under 3 px on a side, too small for SSIM. A photo that would need more memory than is free
    (:data:`SCORING_BYTES_PER_PIXEL` a pixel) is an :class:`InputError` naming it, not a process killed half-way.
    """
    root = Path(data_dir)
    by_group: dict[str, list[tuple[float, ...]]] = {}
    skipped = SkippedPhotos()
    photos = tqdm(find_images(root), desc="evaluating", disable=not progress)
    for path, truth in colour_photos(photos, skipped, min_side=3):
        check_free_memory(shown_name(str(path)), truth.shape[1], truth.shape[0], SCORING_BYTES_PER_PIXEL, "scoring")
        output = colorizer.colorize_rgb(truth)
        grey = grey_baseline(truth)
        scores = (psnr(truth, output), psnr(truth, grey), ssim(truth, output), ssim(truth, grey),
                  colourfulness(output), colourfulness(grey), colourfulness(truth))
        by_group.setdefault(_group_of(path, root), []).append(scores)
    if skipped.grey or skipped.unreadable:
        log.info("skipped %d grey and %d unreadable or tiny photos in %s", skipped.grey, skipped.unreadable, root)
    if not by_group:
        raise InputError(f"no colour photos to evaluate in {root}")
    rows = [_mean_row(group, scores) for group, scores in sorted(by_group.items())]
    rows.append(_mean_row(OVERALL, [score for scores in by_group.values() for score in scores]))
    return rows


def markdown_table(rows: list[ScoreRow], title: str) -> str:
    """The rows as a Markdown table under ``title``, with a line saying how each number is computed."""
    header = ["folder", "photos", "PSNR model", "PSNR grey", "SSIM model", "SSIM grey",
              "colourfulness model", "colourfulness grey", "colourfulness truth"]
    lines = [f"# {title}", "",
             f"PSNR (dB) and SSIM on RGB in [0, 1] (data_range={DATA_RANGE:g}) against the original colour photo; "
             "colourfulness: Hasler & Suesstrunk 2003 on RGB 0..255. 'grey' is the baseline with ab = 0.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        values = astuple(row)
        group = values[0].replace("|", "\\|")  # a folder named a|b stays one cell
        cells = [group, str(values[1])] + [f"{values[2]:.2f}", f"{values[3]:.2f}", f"{values[4]:.4f}",
                                           f"{values[5]:.4f}", f"{values[6]:.1f}", f"{values[7]:.1f}", f"{values[8]:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def save_table(rows: list[ScoreRow], out_dir: str | os.PathLike, title: str = "Evaluation",
               samples: list[list[np.ndarray | None]] | None = None) -> list[Path]:
    """Write ``evaluation.csv``, ``evaluation.md``, the bar chart ``evaluation.png`` and, given ``samples`` rows
    (:func:`sample_rows`), the sheet ``samples.png``; returns their paths. Each goes to a temporary file first;
    all are renamed into place together at the end, and an earlier evaluation's sheet is removed then when there
    are no ``samples``, so a failure or Ctrl-C leaves the earlier evaluation's files as they were, never a mix."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    *paths, sheet = (out / name for name in SAVED_NAMES)
    with ExitStack() as stack:
        csv_file, markdown_file, chart_file = (stack.enter_context(atomic_output(path)) for path in paths)
        with open(csv_file, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([field.name for field in fields(ScoreRow)])
            writer.writerows(astuple(row) for row in rows)
        markdown_file.write_text(markdown_table(rows, title), encoding="utf-8")
        _metric_chart(rows, chart_file)
        if samples:
            plots.image_sheet(samples, SHEET_COLUMNS, stack.enter_context(atomic_output(sheet)))
    if samples:
        paths.append(sheet)
    else:
        sheet.unlink(missing_ok=True)
    return paths


def check_saved_names(out_dir: Path) -> None:
    """Refuse, before any work, an ``out_dir`` where a folder stands at the name of a file :func:`save_table` writes."""
    for name in SAVED_NAMES:
        if (Path(out_dir) / name).is_dir():
            raise OutputError(f"{Path(out_dir) / name} is a folder, so the evaluation cannot be saved there; move it "
                              "or choose another output folder")


def _metric_chart(rows: list[ScoreRow], out_png: Path) -> None:
    """The bar chart of the rows' scores, model beside grey (and truth for colourfulness), one group of bars a row."""
    groups = [row.group for row in rows]
    series = {
        "PSNR (dB)": {"model": [row.psnr_model for row in rows], "grey": [row.psnr_grey for row in rows]},
        "SSIM": {"model": [row.ssim_model for row in rows], "grey": [row.ssim_grey for row in rows]},
        "colourfulness": {"model": [row.colourfulness_model for row in rows],
                          "grey": [row.colourfulness_grey for row in rows],
                          "truth": [row.colourfulness_truth for row in rows]},
    }
    plots.metric_bars(groups, series, out_png)


@contextmanager
def output_folder(path: Path) -> Iterator[Path]:
    """Create the folder ``path`` (and its missing parents) before the work in the body, so that one that cannot
    be made fails first; when the body fails, the folders made here are removed again if they are still empty
    (a failed evaluation leaves no empty folder behind, while files it finished stay)."""
    path = Path(path)
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    try:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"cannot create the folder {path}: {error.strerror or error}; choose another one") from error
        yield path
    except BaseException:
        _remove_empty(missing)
        raise


def _remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (the deepest first) that exist and are empty, up to the first that is not empty."""
    for folder in folders:
        if not folder.is_dir():
            continue
        try:
            folder.rmdir()
        except OSError:
            return


def sample_rows(paths: list[str | os.PathLike], colorizer: Colorizer,
                count: int | None = None) -> list[list[np.ndarray | None]]:
    """For each readable photo, in order, up to ``count`` of them: [grey, colourised, truth], with truth
    ``None`` when the photo itself is grey; an unreadable photo gives way to the next."""
    rows: list[list[np.ndarray | None]] = []
    for path in paths:
        if count is not None and len(rows) == count:
            break
        rgb = readable_rgb(path)
        if rgb is None:
            continue
        has_colour = not is_grey_photo(rgb)
        rows.append([grey_baseline(rgb), colorizer.colorize_rgb(rgb), rgb if has_colour else None])
    return rows


def sample_sheet(paths: list[str | os.PathLike], colorizer: Colorizer, out_png: str | os.PathLike,
                 count: int | None = None) -> int:
    """Side-by-side sheet, one readable photo a row (the first ``count`` readable ones of ``paths``): grey |
    colourised | truth (truth only for colour photos). Returns the number of rows; with none, no file is written."""
    rows = sample_rows(paths, colorizer, count)
    if rows:
        plots.image_sheet(rows, SHEET_COLUMNS, out_png)
    return len(rows)
