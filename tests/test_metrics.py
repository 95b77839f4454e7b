"""Metrics against hand-computed values, and the evaluation table on a tiny folder."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torch import nn

from training.cli import evaluate_command
from training.evaluate import OVERALL, evaluate, grey_baseline, read_rgb, sample_rows, sample_sheet, save_table
from tests.image_media import icc_profile
from training.metrics import colourfulness, psnr, ssim
from vidcolor.io.images import read_image
from vidcolor.models import create_generator, save_generator
from vidcolor.worker import Colorizer


class _GreyModel(nn.Module):
    """Predicts ab = 0 everywhere: the colouriser's output must then equal the grey baseline."""

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        return torch.zeros(l_norm.shape[0], 2, *l_norm.shape[2:])


def test_psnr_of_a_uniform_error_is_hand_computed() -> None:
    truth = np.zeros((8, 8, 3), np.float32)
    off_by_a_tenth = np.full((8, 8, 3), 0.1, np.float32)
    assert psnr(truth, off_by_a_tenth) == pytest.approx(10 * math.log10(1.0 / 0.01))  # MSE 0.01 -> 20 dB
    assert psnr(truth, truth) == math.inf


def test_ssim_is_one_for_identical_images_and_lower_otherwise() -> None:
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (16, 16, 3)).astype(np.float32)
    assert ssim(image, image) == pytest.approx(1.0)
    assert ssim(image, np.clip(image + rng.normal(0, 0.2, image.shape), 0, 1)) < 0.9


def test_colourfulness_is_hand_computed() -> None:
    grey = np.full((4, 4, 3), 0.5)
    red = np.zeros((4, 4, 3))
    red[..., 0] = 1.0
    half_red_half_green = red.copy()
    half_red_half_green[:, 2:] = [0.0, 1.0, 0.0]
    assert colourfulness(grey) == 0.0
    # pure red: rg = 255, yb = 127.5, no spread -> 0.3 * sqrt(255^2 + 127.5^2)
    assert colourfulness(red) == pytest.approx(0.3 * math.hypot(255, 127.5))
    # red | green: rg = +-255 (std 255, mean 0), yb = 127.5 (std 0) -> 255 + 0.3 * 127.5
    assert colourfulness(half_red_half_green) == pytest.approx(255 + 0.3 * 127.5)


def test_metrics_reject_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="same"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))


@pytest.fixture(scope="module")
def val_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sub-folders of small colour photos, plus one grey photo that must be skipped."""
    root = tmp_path_factory.mktemp("val")
    rng = np.random.default_rng(1)
    for folder, count in (("birds", 2), ("cities", 3)):
        (root / folder).mkdir()
        for index in range(count):
            pixels = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / folder / f"{index}.png")
    Image.fromarray(np.full((24, 24), 90, np.uint8)).save(root / "cities" / "grey.png")
    return root


def test_evaluate_scores_each_folder_beside_the_grey_baseline(val_dir: Path, tmp_path: Path) -> None:
    rows = evaluate(val_dir, Colorizer(_GreyModel(), device="cpu", render_size=32), progress=False)
    assert [(row.group, row.photos) for row in rows] == [("birds", 2), ("cities", 3), (OVERALL, 5)]
    truths = [read_rgb(path) for path in sorted(val_dir.glob("*/[0-9].png"))]
    expected_psnr = np.mean([psnr(truth, grey_baseline(truth)) for truth in truths])
    expected_colour = np.mean([colourfulness(truth) for truth in truths])
    overall = rows[-1]
    assert overall.psnr_model == pytest.approx(overall.psnr_grey, abs=1e-3)
    assert overall.psnr_grey == pytest.approx(expected_psnr)
    assert overall.colourfulness_model == pytest.approx(0.0, abs=0.05)
    assert overall.colourfulness_truth == pytest.approx(expected_colour)
    assert overall.colourfulness_truth > 50  # random pixels are very colourful

    csv_path, md_path, png_path = save_table(rows, tmp_path)
    with open(csv_path, newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [row["group"] for row in table] == ["birds", "cities", OVERALL]
    assert float(table[-1]["psnr_grey"]) == pytest.approx(expected_psnr)
    assert "| overall | 5 |" in md_path.read_text()
    assert png_path.stat().st_size > 1000


def test_sample_sheet_leaves_truth_blank_for_grey_photos(val_dir: Path, tmp_path: Path) -> None:
    colorizer = Colorizer(_GreyModel(), device="cpu", render_size=32)
    photos = [val_dir / "birds" / "0.png", val_dir / "cities" / "grey.png"]
    rows = sample_rows(photos, colorizer)
    assert [[cell is None for cell in row] for row in rows] == [[False, False, False], [False, False, True]]
    assert rows[0][1].shape == (24, 40, 3)  # colourised at the photo's own size
    np.testing.assert_allclose(rows[0][1], rows[0][0], atol=1e-4)  # ab = 0 model -> the grey baseline
    sample_sheet(photos, colorizer, tmp_path / "sheet.png")
    assert Image.open(tmp_path / "sheet.png").size == (900, 600)  # 3 columns x 2 rows of 3-inch cells at 100 dpi


def _evaluate(data: Path, tmp_path: Path, *options: str) -> "click.testing.Result":  # noqa: F821
    """``vidcolor evaluate`` of an untrained tiny-unet on ``data`` at render size 32."""
    weights = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), weights, "tiny-unet", input_size=32)
    return CliRunner().invoke(evaluate_command, ["--data", str(data), "--weights", str(weights), "--render-size", "32",
                                                 "--device", "cpu", *options])


def test_evaluate_command_writes_the_table(val_dir: Path, tmp_path: Path) -> None:
    result = _evaluate(val_dir, tmp_path, "--out", str(tmp_path / "eval"), "--samples", "2")
    assert result.exit_code == 0, result.output
    assert "| overall | 5 |" in result.output
    assert sorted(path.name for path in (tmp_path / "eval").iterdir()) == [
        "evaluation.csv", "evaluation.md", "evaluation.png", "samples.png"]


def test_evaluate_command_saturation_zero_is_the_grey_baseline(val_dir: Path, tmp_path: Path) -> None:
    result = _evaluate(val_dir, tmp_path, "--saturation", "0", "--out", str(tmp_path / "eval"))
    assert result.exit_code == 0, result.output
    assert "--saturation 0" in result.output
    with open(tmp_path / "eval" / "evaluation.csv", newline="") as handle:
        overall = list(csv.DictReader(handle))[-1]
    assert float(overall["psnr_model"]) == pytest.approx(float(overall["psnr_grey"]), abs=1e-3)
    assert float(overall["colourfulness_model"]) == pytest.approx(0.0, abs=0.05)


def test_evaluate_command_skips_unreadable_and_tiny_photos_and_says_so(val_dir: Path, tmp_path: Path) -> None:
    """An unreadable last photo (always on the sample sheet) failed the command after the table was written;
    a photo under 7 px on a side stopped the whole evaluation in SSIM."""
    data = tmp_path / "data"
    shutil.copytree(val_dir, data)
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, (6, 40, 3), dtype=np.uint8)).save(data / "birds" / "strip.png")
    Image.fromarray(rng.integers(0, 256, (2, 40, 3), dtype=np.uint8)).save(data / "birds" / "sliver.png")
    (data / "cities" / "zz_broken.jpg").write_bytes(b"not a jpeg")
    result = _evaluate(data, tmp_path, "--out", str(tmp_path / "eval"), "--samples", "3")
    assert result.exit_code == 0, result.output
    assert "| birds | 3 |" in result.output and "| overall | 6 |" in result.output
    assert "skipped 1 grey and 2 unreadable or tiny photos" in result.output
    assert (tmp_path / "eval" / "samples.png").is_file()


def test_ssim_window_shrinks_for_photos_under_seven_pixels() -> None:
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 1, (5, 30, 3))
    noisy = np.clip(truth + rng.normal(0, 0.1, truth.shape), 0, 1)
    assert ssim(truth, truth) == pytest.approx(1.0)
    assert 0 < ssim(truth, noisy) < 1
    with pytest.raises(ValueError, match="too small"):
        ssim(truth[:2], noisy[:2])


def test_photos_at_the_top_and_a_folder_named_overall_keep_rows_of_their_own(val_dir: Path, tmp_path: Path) -> None:
    """Top-level photos merged with a sub-folder named like the data folder, and a sub-folder named `overall`
    gave a second `overall` row."""
    data = tmp_path / "ov"
    shutil.copytree(val_dir / "birds", data / "overall")
    shutil.copytree(val_dir / "cities", data / "ov")
    shutil.copy(next((val_dir / "birds").glob("*.png")), data / "loose.png")
    rows = evaluate(data, Colorizer(_GreyModel(), device="cpu", render_size=32), progress=False)
    assert [(row.group, row.photos) for row in rows] == [("ov", 3), ("ov/", 1), ("overall/", 2), (OVERALL, 6)]


def test_the_sample_sheet_fills_up_past_unreadable_picks_and_replaces_an_old_one(val_dir: Path, tmp_path: Path) -> None:
    """A picked photo that could not be read left the sheet a row short; a second evaluation with
    `--samples 0` left the first one's sheet beside its own table."""
    data = tmp_path / "data"
    shutil.copytree(val_dir, data)
    (data / "birds" / "0_broken.png").write_bytes(b"not a png")
    colorizer = Colorizer(_GreyModel(), device="cpu", render_size=32)
    photos = sorted(data.rglob("*.png"))
    assert sample_sheet(photos, colorizer, tmp_path / "sheet.png", count=3) == 3
    assert len(sample_rows(photos, colorizer)) == len(photos) - 1

    weights = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), weights, "tiny-unet")
    out = tmp_path / "out"
    first = CliRunner().invoke(evaluate_command, ["--data", str(data), "--weights", str(weights), "--out", str(out),
                                                  "--render-size", "32", "--samples", "2"])
    assert first.exit_code == 0, first.output
    assert (out / "samples.png").is_file()
    second = CliRunner().invoke(evaluate_command, ["--data", str(data), "--weights", str(weights), "--out", str(out),
                                                   "--render-size", "32", "--samples", "0"])
    assert second.exit_code == 0, second.output
    assert not (out / "samples.png").exists()


def test_evaluate_refuses_an_out_folder_inside_its_data_and_names_the_top_row_from_dot(
        val_dir: Path, tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "photos"
    shutil.copytree(val_dir / "birds", data)
    weights = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), weights, "tiny-unet")
    inside = CliRunner().invoke(evaluate_command, ["--data", str(data), "--weights", str(weights), "--out",
                                                   str(data / "eval"), "--render-size", "32"])
    assert inside.exit_code == 2 and "is inside --data" in inside.output and not (data / "eval").exists()
    monkeypatch.chdir(data)
    rows = evaluate(Path("."), Colorizer(_GreyModel(), device="cpu", render_size=32), progress=False)
    assert rows[0].group == "photos/"


def test_photos_are_scored_upright_by_their_exif_orientation(tmp_path):
    """A phone photo stored sideways (orientation 6) was coloured and scored sideways, unlike in the tool."""
    stored = np.zeros((40, 60, 3), np.uint8)  # 60 wide, 40 high: red left half, blue right half
    stored[:, :30, 0], stored[:, 30:, 2] = 200, 200
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show
    Image.fromarray(stored).save(tmp_path / "sideways.jpg", exif=exif, quality=95)
    upright = read_rgb(tmp_path / "sideways.jpg")
    assert upright.shape == (60, 40, 3)
    assert upright[:10, :, 0].mean() > 0.6 and upright[-10:, :, 2].mean() > 0.6  # red on top, blue below


def test_photos_are_scored_in_srgb_as_the_tool_reads_them(tmp_path: Path) -> None:
    """The truth of an Adobe RGB photo was scored on its stored values while the photo command converts it
    to sRGB first: a perfect colouriser lost points for colours the truth never showed."""
    stored = np.random.default_rng(4).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    stored[:4] = (200, 40, 40)
    Image.fromarray(stored).save(tmp_path / "adobe.png", icc_profile=icc_profile("adobe-rgb"))
    truth = read_rgb(tmp_path / "adobe.png")
    np.testing.assert_array_equal(truth, read_image(tmp_path / "adobe.png").rgb)
    assert truth[0, 0, 0] - truth[0, 0, 1] > (200 - 40) / 255 + 0.05  # sRGB needs a stronger red


def test_an_interrupted_save_keeps_the_previous_table_chart_and_loss_log(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C while a figure or a CSV is written left half a file (or a loss log cut back to its header)."""
    import matplotlib.pyplot as plt

    from training.history import LossHistory
    from training.plots import save_figure

    chart = tmp_path / "evaluation.png"
    save_figure(plt.figure(), chart)
    before = chart.read_bytes()

    def interrupted_savefig(self, path, **_):
        Path(path).write_bytes(b"half a PNG")
        raise KeyboardInterrupt

    monkeypatch.setattr(plt.Figure, "savefig", interrupted_savefig)
    with pytest.raises(KeyboardInterrupt):
        save_figure(plt.figure(), chart)
    assert chart.read_bytes() == before and sorted(tmp_path.iterdir()) == [chart]

    log = LossHistory(tmp_path / "losses.csv")
    for step in (1, 2, 3):
        log.append("pretrain", 0, step, 0.1 * step, 10.0, {"l1": 0.5})
    rows = (tmp_path / "losses.csv").read_text()

    def interrupted_writerows(self, rows):
        raise KeyboardInterrupt

    monkeypatch.setattr(csv.DictWriter, "writerows", interrupted_writerows)
    with pytest.raises(KeyboardInterrupt):
        log.truncate(2)
    assert (tmp_path / "losses.csv").read_text() == rows


def test_big_photos_are_scored_in_pieces_with_the_numbers_of_the_whole(monkeypatch) -> None:
    """A 12 MP photo took 3.8 GB to score (the grey baseline and SSIM in float64 at once); the grey baseline is now
    worked out in bands of rows and SSIM channel by channel, with the same numbers."""
    from skimage.metrics import structural_similarity

    from vidcolor.color import lab_to_rgb, rgb_to_lab

    rng = np.random.default_rng(3)
    truth = rng.random((70, 50, 3)).astype(np.float32)
    image = np.clip(truth + rng.normal(0, 0.1, truth.shape), 0, 1).astype(np.float32)
    monkeypatch.setattr("vidcolor.worker.BAND_PIXELS", 50 * 8)  # bands of 8 rows, the last one shorter
    lab = rgb_to_lab(torch.from_numpy(truth).permute(2, 0, 1).double())
    lab[1:] = 0.0
    whole = lab_to_rgb(lab).permute(1, 2, 0).numpy().astype(np.float32)
    np.testing.assert_array_equal(grey_baseline(truth), whole)
    expected = structural_similarity(truth.astype(np.float64), image.astype(np.float64), data_range=1.0, channel_axis=2)
    assert ssim(truth, image) == pytest.approx(expected, abs=1e-12)


def test_yellow_blue_spread_counts_as_its_standard_deviation():
    """A mis-weighted yellow-blue spread would misreport how colourful the model's output is in the model card."""
    half_blue = np.zeros((4, 4, 3))
    half_blue[:, :2, 2] = 1.0  # rg = 0 everywhere; yb = -255 or 0: std 127.5, mean -127.5
    assert colourfulness(half_blue) == pytest.approx(127.5 + 0.3 * 127.5)
    blue_and_yellow = np.zeros((2, 2, 3))
    blue_and_yellow[0, :, 2] = 1.0
    blue_and_yellow[1, :, :2] = 1.0  # rg = 0; yb = -255 or 255: std 255, mean 0
    assert colourfulness(blue_and_yellow) == pytest.approx(255.0)
