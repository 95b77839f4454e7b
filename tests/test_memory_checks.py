"""Pictures too big for the free memory are refused in one line, before the work, not killed by the system half-way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tests.helpers import ConstantColour
from training.cli import evaluate_command
from training.evaluate import SCORING_BYTES_PER_PIXEL
from vidcolor.errors import InputError
from vidcolor.worker import ARRAY_BYTES_PER_PIXEL, Colorizer

HEIGHT, WIDTH = 24, 32


def _free_memory(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    monkeypatch.setattr("vidcolor.worker.free_memory_bytes", lambda: free)


def test_colorize_rgb_refuses_an_array_too_big_for_the_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 30000x30000 array on the CPU drove the machine into swap or the OOM killer: the photo path checked the
    free memory, colorize_rgb did not."""
    colorizer = Colorizer(ConstantColour(0.2, -0.1), device="cpu", render_size=64)
    array = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    _free_memory(monkeypatch, ARRAY_BYTES_PER_PIXEL * WIDTH * HEIGHT - 1)
    with pytest.raises(InputError) as refused:
        colorizer.colorize_rgb(array)
    assert str(refused.value).startswith(f"the array is {WIDTH}x{HEIGHT} (0 MP): colouring it needs about ")
    assert "\n" not in str(refused.value)
    _free_memory(monkeypatch, ARRAY_BYTES_PER_PIXEL * WIDTH * HEIGHT)
    assert colorizer.colorize_rgb(array).shape == (HEIGHT, WIDTH, 3)


def test_a_bad_array_is_named_before_the_memory_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    colorizer = Colorizer(ConstantColour(0.2, -0.1), device="cpu", render_size=64)
    _free_memory(monkeypatch, 0)
    with pytest.raises(ValueError, match="shape"):
        colorizer.colorize_rgb(np.zeros((HEIGHT, WIDTH), np.uint8))


def test_evaluate_refuses_a_photo_too_big_for_the_free_memory(tmp_path: Path, weights: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Scoring a photo takes about twice the memory colouring does (the metrics' float64 copies): a big scan
    was killed by the system half-way through an evaluation, without a word."""
    data = tmp_path / "data"
    (data / "scans").mkdir(parents=True)
    rgb = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(data / "scans" / "big.png")
    out = tmp_path / "eval"
    arguments = ["--data", str(data), "--weights", str(weights), "--render-size", "32", "--device", "cpu",
                 "--out", str(out), "--samples", "0"]
    _free_memory(monkeypatch, SCORING_BYTES_PER_PIXEL * WIDTH * HEIGHT - 1)
    result = CliRunner().invoke(evaluate_command, arguments)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]  # after the progress bar
    assert len(errors) == 1 and "big.png is 32x24 (0 MP): scoring it needs about" in errors[0], result.stderr
    assert "Traceback" not in result.output and not out.exists()
    _free_memory(monkeypatch, SCORING_BYTES_PER_PIXEL * WIDTH * HEIGHT)
    result = CliRunner().invoke(evaluate_command, arguments)
    assert result.exit_code == 0, result.output
    assert (out / "evaluation.csv").is_file()
