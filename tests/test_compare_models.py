"""The model comparison benchmark: PSNR at the colour goal is read off each model's scale curve."""

import sys

import numpy as np
import pytest
from PIL import Image

from benchmarks.compare_models import ModelCurve, main
from training.calibrate import Calibration, ScaleScore
from vidcolor.models import create_generator, save_generator


def test_psnr_at_the_colour_goal_is_interpolated_between_scales():
    scores = [ScaleScore(0.0, 20.0, 0.0), ScaleScore(1.0, 24.0, 30.0), ScaleScore(2.0, 22.0, 50.0)]
    curve = ModelCurve("m", Calibration(scores, truth_colourfulness=40.0, photos=3))
    assert curve.grey_psnr == 20.0
    assert curve.psnr_at_colour(0.85) == pytest.approx(24.0 - 2.0 * (34.0 - 30.0) / 20.0)  # colour 34 of 40
    assert curve.psnr_at_colour(1.5) is None  # no scale reaches 60


def test_two_models_give_a_table_row_each_and_a_picture(tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for index in range(2):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(photos / f"p{index}.png")
    weights = []
    for seed in (0, 1):
        weights.append(tmp_path / f"tiny{seed}.safetensors")
        save_generator(create_generator("tiny-unet"), weights[-1], "tiny-unet", input_size=64)
    out = tmp_path / "report" / "compare"
    monkeypatch.setattr(sys, "argv", ["compare_models", "--data", str(photos), "--out", str(out), "--device", "cpu",
                                      "--weights", *map(str, weights), "--labels", "first", "second"])
    main()
    table = out.with_suffix(".md").read_text()
    assert "| first | " in table and "| second | " in table
    assert "2 colour photos" in table
    with Image.open(out.with_suffix(".png")) as picture:
        assert picture.size[0] > 300
