"""`vidcolor evaluate`'s numbers against scikit-image and hand-computed values, with a model that adds colour."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import lab2rgb, rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torch import nn

import training.plots
from training.evaluate import OVERALL, ScoreRow, evaluate, markdown_table, sample_rows, save_table
from training.metrics import colourfulness
from vidcolor.worker import Colorizer


class _ReddeningModel(nn.Module):
    """Predicts the same reddish ab everywhere, so its output differs from the grey baseline and from the truth."""

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        ab = torch.zeros(l_norm.shape[0], 2, *l_norm.shape[2:])
        ab[:, 0] = 0.3
        return ab


def _colorizer() -> Colorizer:
    return Colorizer(_ReddeningModel(), device="cpu", render_size=32)


def _save(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _reference_grey(truth: np.ndarray) -> np.ndarray:
    """The truth's CIE L with a = b = 0, by scikit-image."""
    lab = rgb2lab(truth.astype(np.float64))
    lab[..., 1:] = 0.0
    return lab2rgb(lab)


def _reference_colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk 2003 on 0..255, written out."""
    red, green, blue = (rgb[..., channel].astype(np.float64) * 255 for channel in range(3))
    rg, yb = red - green, (red + green) / 2 - blue
    return math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())


def _reference_scores(path: Path, colorizer: Colorizer) -> list[float]:
    """The seven scores of one photo, in :class:`ScoreRow` order, from scikit-image and the formula above."""
    truth = np.asarray(Image.open(path).convert("RGB"), np.float64) / 255
    output = colorizer.colorize_rgb(truth.astype(np.float32)).astype(np.float64)
    grey = _reference_grey(truth)
    return [peak_signal_noise_ratio(truth, output, data_range=1.0), peak_signal_noise_ratio(truth, grey, data_range=1.0),
            structural_similarity(truth, output, data_range=1.0, channel_axis=2),
            structural_similarity(truth, grey, data_range=1.0, channel_axis=2),
            _reference_colourfulness(output), _reference_colourfulness(grey), _reference_colourfulness(truth)]


def _scores(row: ScoreRow) -> list[float]:
    return [row.psnr_model, row.psnr_grey, row.ssim_model, row.ssim_grey,
            row.colourfulness_model, row.colourfulness_grey, row.colourfulness_truth]


def test_each_row_holds_the_reference_scores_and_overall_weighs_every_photo_alike(tmp_path: Path) -> None:
    """One smooth photo in `calm`, three noisy ones in `loud`: each column is its own metric of the model's output,
    the grey baseline or the truth, and the overall row is the mean over the four photos, not over the two folders."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:24, 0:32]
    smooth = np.stack([x * 8, y * 10, np.full_like(x, 60)], axis=-1).astype(np.uint8)
    _save(tmp_path / "calm" / "0.png", smooth)
    for index in range(3):
        _save(tmp_path / "loud" / f"{index}.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    colorizer = _colorizer()
    rows = evaluate(tmp_path, colorizer, progress=False)

    expected = {folder: [_reference_scores(path, colorizer) for path in sorted((tmp_path / folder).glob("*.png"))]
                for folder in ("calm", "loud")}
    every_photo = expected["calm"] + expected["loud"]
    assert [(row.group, row.photos) for row in rows] == [("calm", 1), ("loud", 3), (OVERALL, 4)]
    for row, photos in zip(rows, [expected["calm"], expected["loud"], every_photo]):
        assert _scores(row) == pytest.approx(list(np.mean(photos, axis=0)), rel=1e-4, abs=1e-4), row.group
    model, grey = rows[-1].psnr_model, rows[-1].psnr_grey
    assert abs(model - grey) > 0.5  # the model's colour is scored, not the grey baseline's
    assert rows[-1].colourfulness_model > rows[-1].colourfulness_grey + 5


def test_photos_in_deeper_folders_count_in_their_top_level_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    for relative in ("birds/a.png", "birds/owls/b.png", "birds/owls/snowy/c.png", "cities/d.png"):
        _save(tmp_path / relative, rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    rows = evaluate(tmp_path, _colorizer(), progress=False)
    assert [(row.group, row.photos) for row in rows] == [("birds", 3), ("cities", 1), (OVERALL, 4)]


def test_a_photo_three_pixels_high_is_scored_and_one_two_pixels_high_is_skipped(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    _save(tmp_path / "strips" / "three.png", rng.integers(0, 256, (3, 20, 3), dtype=np.uint8))
    _save(tmp_path / "strips" / "two.png", rng.integers(0, 256, (2, 20, 3), dtype=np.uint8))
    rows = evaluate(tmp_path, _colorizer(), progress=False)
    assert [(row.group, row.photos) for row in rows] == [("strips", 1), (OVERALL, 1)]


def test_the_markdown_table_puts_each_score_under_its_own_heading() -> None:
    row = ScoreRow("birds", 4, 23.456, 21.987, 0.87654, 0.81234, 31.25, 0.04, 44.75)
    header, _, line = markdown_table([row], "t").splitlines()[-3:]
    cells = dict(zip([cell.strip() for cell in header.strip("|").split("|")],
                     [cell.strip() for cell in line.strip("|").split("|")]))
    assert cells == {"folder": "birds", "photos": "4", "PSNR model": "23.46", "PSNR grey": "21.99",
                     "SSIM model": "0.8765", "SSIM grey": "0.8123", "colourfulness model": "31.2",
                     "colourfulness grey": "0.0", "colourfulness truth": "44.8"}


def test_the_chart_shows_each_rows_model_grey_and_truth_scores(tmp_path: Path, monkeypatch) -> None:
    drawn = {}
    monkeypatch.setattr(training.plots, "metric_bars", lambda groups, series, out_png: drawn.update(
        groups=groups, series=series) or Path(out_png).write_bytes(b"png"))
    rows = [ScoreRow("birds", 2, 23.0, 21.0, 0.8, 0.7, 30.0, 0.5, 40.0),
            ScoreRow(OVERALL, 2, 24.0, 22.0, 0.9, 0.6, 31.0, 0.25, 41.0)]
    save_table(rows, tmp_path)
    assert drawn == {"groups": ["birds", OVERALL], "series": {
        "PSNR (dB)": {"model": [23.0, 24.0], "grey": [21.0, 22.0]},
        "SSIM": {"model": [0.8, 0.9], "grey": [0.7, 0.6]},
        "colourfulness": {"model": [30.0, 31.0], "grey": [0.5, 0.25], "truth": [40.0, 41.0]}}}


def test_a_sample_row_is_grey_then_colourised_then_truth(tmp_path: Path) -> None:
    truth = np.random.default_rng(8).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    _save(tmp_path / "a.png", truth)
    colorizer = _colorizer()
    [(grey, colourised, shown_truth)] = sample_rows([tmp_path / "a.png"], colorizer)
    np.testing.assert_allclose(grey, _reference_grey(truth / 255), atol=1e-4)
    np.testing.assert_array_equal(colourised, colorizer.colorize_rgb(truth.astype(np.float32) / 255))
    np.testing.assert_array_equal(shown_truth, truth.astype(np.float32) / 255)
    assert colourfulness(colourised) > colourfulness(grey) + 5


def test_colourfulness_adds_the_red_green_and_yellow_blue_spreads_in_quadrature() -> None:
    red_and_blue = np.zeros((2, 2, 3))
    red_and_blue[:, 0, 0] = 1.0
    red_and_blue[:, 1, 2] = 1.0  # rg = 255 or 0 (mean 127.5, std 127.5); yb = 127.5 or -255 (mean -63.75, std 191.25)
    expected = math.hypot(127.5, 191.25) + 0.3 * math.hypot(127.5, 63.75)
    assert colourfulness(red_and_blue) == pytest.approx(expected)
    assert colourfulness(red_and_blue) == pytest.approx(_reference_colourfulness(red_and_blue))


class _ModeRecordingModel(_ReddeningModel):
    """:class:`_ReddeningModel` that notes whether it was called in training mode."""

    def __init__(self) -> None:
        super().__init__()
        self.called_training: list[bool] = []

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        self.called_training.append(self.training)
        return super().forward(l_norm)


def test_the_training_sample_sheet_is_predicted_in_eval_mode_and_gives_grey_predicted_truth() -> None:
    """The per-epoch sheet's photos go through the generator in eval mode, which is left training afterwards."""
    from training.data import centre_crops
    from training.samples import predict_preview
    from training.steps import Precision

    generator = _ModeRecordingModel()
    preview = centre_crops(torch.from_numpy(np.random.default_rng(9).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)), 16)
    grey, predicted, truth = predict_preview(generator, preview, torch.device("cpu"), Precision("cpu"))
    assert generator.called_training == [False] and generator.training
    np.testing.assert_array_equal(truth, preview.permute(0, 2, 3, 1).numpy())
    for index in range(2):
        np.testing.assert_allclose(grey[index], _reference_grey(truth[index]), atol=1e-4)
        assert colourfulness(predicted[index]) > colourfulness(grey[index]) + 5


def test_the_training_sample_sheet_shows_grey_then_predicted_then_truth_columns(tmp_path: Path) -> None:
    """Each photo is one row of three 3-inch cells at 100 dpi; read back, the columns hold grey, predicted, truth."""
    from training.samples import write_sample_sheet

    def solid(colour: tuple[float, float, float]) -> np.ndarray:
        return np.broadcast_to(np.array(colour, np.float32), (2, 8, 8, 3))

    write_sample_sheet(solid((0.5, 0.5, 0.5)), solid((1.0, 0.0, 0.0)), solid((0.0, 0.0, 1.0)), tmp_path / "s.png")
    sheet = np.asarray(Image.open(tmp_path / "s.png").convert("RGB"))
    assert sheet.shape == (600, 900, 3)
    for row in range(2):
        centres = [sheet[150 + 300 * row, 150 + 300 * column] for column in range(3)]
        np.testing.assert_allclose(centres, [(128, 128, 128), (255, 0, 0), (0, 0, 255)], atol=1, err_msg=f"row {row}")
