"""`vidcolor evaluate` on awkward folders: odd names, damaged files, and Ctrl-C while the table is saved."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import training.evaluate as evaluate_module
import training.plots
from training.cli import evaluate_command
from training.evaluate import ScoreRow, markdown_table


def _photo(path: Path, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(path)


def _evaluate(data: Path, weights: Path, *options: str):
    return CliRunner().invoke(evaluate_command, ["--data", str(data), "--weights", str(weights), "--render-size", "32",
                                                 "--device", "cpu", *options])


def test_a_folder_name_that_is_no_utf8_is_shown_escaped_and_the_table_is_saved(tmp_path: Path, weights: Path) -> None:
    """A sub-folder named in Latin-1 bytes (an old archive) failed the command with a UnicodeEncodeError while the
    CSV was written, after the whole evaluation had run."""
    data = tmp_path / "data"
    _photo(data / os.fsdecode(b"caf\xe9") / "a.png")
    result = _evaluate(data, weights, "--out", str(tmp_path / "eval"))
    assert result.exit_code == 0, result.output
    with open(tmp_path / "eval" / "evaluation.csv", newline="", encoding="utf-8") as handle:
        assert [row["group"] for row in csv.DictReader(handle)] == ["caf\\xe9", "overall"]
    assert "| caf\\xe9 | 1 |" in (tmp_path / "eval" / "evaluation.md").read_text(encoding="utf-8")


def test_a_pipe_in_a_folder_name_keeps_the_markdown_table_in_its_columns() -> None:
    """A folder named `a|b` split its row into one cell more than the header has."""
    row = ScoreRow("a|b", 1, 20.0, 19.0, 0.9, 0.8, 30.0, 0.0, 40.0)
    header, _, line = markdown_table([row], "t").splitlines()[-3:]
    cells = [cell.strip() for cell in line.replace("\\|", "\0").strip("|").split("|")]
    assert len(cells) == header.strip("|").count("|") + 1
    assert cells[0] == "a\0b"


def test_a_damaged_tiff_is_skipped_and_named_not_the_end_of_the_evaluation(tmp_path: Path, weights: Path) -> None:
    """A TIFF whose header points at no directory made the image libraries raise IndexError, which stopped the whole
    evaluation (and the sample sheet) with one line about an IndexError."""
    data = tmp_path / "data"
    _photo(data / "a.png")
    stored = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), (200, 30, 30), np.uint8)).save(stored, format="TIFF")
    damaged = bytearray(stored.getvalue())
    damaged[4] = 0  # the offset of the first image directory
    (data / "b.tif").write_bytes(bytes(damaged))
    result = _evaluate(data, weights, "--out", str(tmp_path / "eval"), "--samples", "2")
    assert result.exit_code == 0, result.output
    assert "| overall | 1 |" in result.output
    assert "skipped 0 grey and 1 unreadable or tiny photos" in result.output and "IndexError" not in result.output
    assert (tmp_path / "eval" / "samples.png").is_file()


def test_a_photo_that_fails_in_an_unforeseen_way_is_skipped_and_named(tmp_path: Path, weights: Path,
                                                                       monkeypatch) -> None:
    """A reader failing with something other than an input error (a library's AttributeError on a damaged file)
    stopped the whole evaluation."""
    data = tmp_path / "data"
    _photo(data / "a.png")
    _photo(data / "b.png")
    read_rgb = evaluate_module.read_rgb

    def fails_on_b(path):
        if Path(path).name == "b.png":
            raise AttributeError("'int' object has no attribute 'name'")
        return read_rgb(path)

    monkeypatch.setattr(evaluate_module, "read_rgb", fails_on_b)
    result = _evaluate(data, weights)
    assert result.exit_code == 0, result.output
    assert "| overall | 1 |" in result.output
    assert f"skipped {data / 'b.png'}: AttributeError: 'int' object has no attribute 'name'" in result.output


@pytest.mark.parametrize("interrupted", ["metric_bars", "image_sheet"])
def test_ctrl_c_while_saving_leaves_the_earlier_evaluation_whole(tmp_path: Path, weights: Path, monkeypatch,
                                                                 interrupted: str) -> None:
    """Ctrl-C while the chart or the sample sheet was drawn left the new CSV (and Markdown) beside the earlier
    evaluation's chart, or the new table without any sheet, and said that no output was written."""
    data, out = tmp_path / "data", tmp_path / "eval"
    _photo(data / "a.png")
    first = _evaluate(data, weights, "--out", str(out), "--samples", "1")
    assert first.exit_code == 0, first.output
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert sorted(before) == ["evaluation.csv", "evaluation.md", "evaluation.png", "samples.png"]

    def ctrl_c(*_: object) -> None:
        raise KeyboardInterrupt

    _photo(data / "b.png", seed=1)
    monkeypatch.setattr(training.plots, interrupted, ctrl_c)
    second = _evaluate(data, weights, "--out", str(out), "--samples", "1")
    assert second.exit_code == 130, second.output
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


@pytest.mark.parametrize("name", ["evaluation.md", "samples.png"])
def test_a_folder_at_the_name_of_a_saved_file_is_refused_before_the_work(tmp_path: Path, weights: Path,
                                                                         name: str) -> None:
    """A folder named `evaluation.md` (or `samples.png`) in --out failed with an IsADirectoryError after the whole
    evaluation, with the chart and the sheet already renamed into place beside it."""
    data, out = tmp_path / "data", tmp_path / "eval"
    _photo(data / "a.png")
    (out / name).mkdir(parents=True)
    result = _evaluate(data, weights, "--out", str(out), "--samples", "0")
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[-1] == (f"Error: {out / name} is a folder, so the evaluation cannot be saved "
                                              "there; move it or choose another output folder")
    assert "evaluating" not in result.output
    assert [path.name for path in out.iterdir()] == [name]


def test_data_given_twice_is_refused_not_cut_to_the_last_folder(tmp_path: Path, weights: Path) -> None:
    """`--data A --data B`, as `vidcolor train` takes it, scored B alone without a word."""
    _photo(tmp_path / "a" / "1.png")
    _photo(tmp_path / "b" / "1.png", seed=1)
    result = CliRunner().invoke(evaluate_command, ["--data", str(tmp_path / "a"), "--data", str(tmp_path / "b"),
                                                  "--weights", str(weights), "--device", "cpu"])
    assert result.exit_code == 2, result.output
    assert "Invalid value for --data: given 2 times, but evaluate scores one folder" in result.output
    assert "| overall |" not in result.output
