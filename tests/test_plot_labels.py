"""Folder names in scripts DejaVu Sans lacks (Chinese, Japanese, Korean) are drawn readably on evaluation.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from training import plots
from training.cli import evaluate_command


@pytest.fixture
def fresh_fonts() -> Iterator[None]:
    """The label fonts worked out afresh, and again after the test (they are cached per process)."""
    plots.label_fonts.cache_clear()
    yield
    plots.label_fonts.cache_clear()


def _missing_glyphs(recwarn: pytest.WarningsRecorder) -> list[str]:
    return [str(warning.message) for warning in recwarn if "missing from font" in str(warning.message)]


def test_cjk_folder_names_draw_without_missing_glyph_warnings(tmp_path: Path, weights: Path,
                                                              recwarn: pytest.WarningsRecorder) -> None:
    """Chinese, Japanese and Korean folder names were drawn as boxes on evaluation.png, with a "Glyph ... missing
    from font(s) DejaVu Sans" warning on the terminal for each character."""
    data = tmp_path / "data"
    for index, folder in enumerate(["東京", "서울", "写真 2024"]):
        (data / folder).mkdir(parents=True)
        rgb = np.random.default_rng(index).integers(0, 256, (24, 32, 3), dtype=np.uint8)
        Image.fromarray(rgb).save(data / folder / "a.png")
    result = CliRunner().invoke(evaluate_command, ["--data", str(data), "--render-size", "32", "--device", "cpu",
                                                   "--weights", str(weights), "--out", str(tmp_path / "eval"),
                                                   "--samples", "0"])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "eval" / "evaluation.png") as chart:
        assert chart.size[0] > 100
    assert not _missing_glyphs(recwarn)
    assert "missing from font" not in result.output


def test_an_installed_font_with_the_glyphs_is_used_and_the_rest_escaped(tmp_path: Path, fresh_fonts: None,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        recwarn: pytest.WarningsRecorder) -> None:
    """A character DejaVu Sans lacks is drawn from a fallback font that has it (STIX, shipped with matplotlib,
    standing in for a CJK font); one no font has is written as its escape."""
    monkeypatch.setattr(plots, "FALLBACK_FAMILIES", ("STIXGeneral",))
    assert plots.label_fonts()[0] == ("DejaVu Sans", "STIXGeneral")
    assert plots.readable_label("\u210a東 x") == "\u210a\\u6771 x"  # SCRIPT SMALL G: in STIX, not DejaVu Sans
    plots.metric_bars(["\u210a東", "x"], {"PSNR": {"model": [1.0, 2.0]}}, tmp_path / "chart.png")
    assert (tmp_path / "chart.png").is_file()
    assert not _missing_glyphs(recwarn)
