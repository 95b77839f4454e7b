"""The training tools: calibrate's stored scale, soup's and pack's command lines, restored RNG states, and the
loss log a resumed run continues."""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors import safe_open
from training_photos import colour_photo

from training import calibrate as calibrate_module
from training import pack as pack_module
from training import soup as soup_module
from training.history import COLUMNS, LossHistory
from training.run_checkpoint import restore_rng, rng_state
from vidcolor.errors import OutputError
from vidcolor.models import create_generator, read_metadata, save_generator, update_metadata
from vidcolor.worker import Colorizer


def _colour_photos(folder: Path, count: int, size: tuple[int, int] = (40, 48)) -> Path:
    """``count`` colour photos (PNG) in ``folder``."""
    folder.mkdir(parents=True)
    for index in range(count):
        Image.fromarray(colour_photo(index, size)).save(folder / f"{index}.png")
    return folder


def _random_weights(path: Path, seed: int = 0) -> Path:
    """A tiny generator with random weights, saved to ``path``."""
    torch.manual_seed(seed)
    save_generator(create_generator("tiny-unet", pretrained=False), path, "tiny-unet")
    return path


def _calibrate_command(monkeypatch, capsys, *arguments: str) -> list[str]:
    """The score lines ``python -m training.calibrate ARGUMENTS`` prints, without the mark of the chosen one."""
    monkeypatch.setattr("sys.argv", ["calibrate", "--device", "cpu", *arguments])
    calibrate_module.main()
    lines = capsys.readouterr().out.splitlines()
    return [line.removesuffix("  <- chosen") for line in lines if line.startswith("saturation ")]


def test_calibrate_stores_the_psnr_best_scale_or_the_smallest_reaching_the_colour_ratio(tmp_path: Path, monkeypatch,
                                                                                       capsys) -> None:
    weights = _random_weights(tmp_path / "model.safetensors")
    photos = _colour_photos(tmp_path / "photos", 3)
    calibration = calibrate_module.calibrate(Colorizer.from_weights(weights, device="cpu", calibrated=False),
                                             sorted(photos.iterdir()))
    scores, truth = calibration.scores, calibration.truth_colourfulness
    best = max(scores, key=lambda score: score.psnr).scale
    plain = _calibrate_command(monkeypatch, capsys, "--weights", str(weights), "--data", str(photos))
    assert [line.split()[1] for line in plain] == [f"{tenths / 10:.2f}:" for tenths in range(5, 26)]  # 0.5 to 2.5
    assert read_metadata(weights)["inference"]["saturation"] == pytest.approx(best)
    # a ratio between the colourfulness of two scales, neither of them the PSNR-best one
    ratios = [(score.scale, score.colourfulness / truth) for score in scores]
    below, above = next((low, high) for low, high in zip(ratios, ratios[1:]) if high[0] != best and low[1] < high[1])
    ratio = (below[1] + above[1]) / 2
    expected = min(scale for scale, reached in ratios if reached >= ratio)
    assert expected != best
    update_metadata(weights, {"inference": {"saturation": 2.0}})  # a calibrated model calibrated again
    again = _calibrate_command(monkeypatch, capsys, "--weights", str(weights), "--data", str(photos),
                               "--colour-ratio", str(ratio))
    assert read_metadata(weights)["inference"]["saturation"] == pytest.approx(expected)
    assert again == plain  # scored as the model predicts, not through the scale stored before



def test_calibrate_refuses_weights_in_a_folder_it_may_read_but_not_write_before_scoring(tmp_path: Path, monkeypatch,
                                                                                         capsys) -> None:
    weights = _random_weights(tmp_path / "model.safetensors")
    photos = _colour_photos(tmp_path / "photos", 1)
    access = os.access
    monkeypatch.setattr(calibrate_module.os, "access",
                        lambda path, mode: access(path, mode) and not (str(path) == str(tmp_path) and mode & os.W_OK))

    def never(*args, **kwargs):
        raise AssertionError("scored photos for weights it cannot update")

    monkeypatch.setattr(calibrate_module, "calibrate", never)
    with pytest.raises(SystemExit) as stopped:
        _calibrate_command(monkeypatch, capsys, "--weights", str(weights), "--data", str(photos))
    assert stopped.value.code == 1
    error = capsys.readouterr().err
    assert error.startswith(f"Error: cannot store the scale in {weights}: its folder {tmp_path} is read-only")
    assert "inference" not in read_metadata(weights)


def test_calibrate_scores_count_photos_spread_through_the_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    weights = _random_weights(tmp_path / "model.safetensors")
    photos = _colour_photos(tmp_path / "photos", 3)
    _calibrate_command(monkeypatch, capsys, "--weights", str(weights), "--data", str(photos), "--count", "2")
    assert read_metadata(weights)["inference"]["calibrated_on"] == f"2 photos of {photos}"


def test_soup_command_stores_float16_unless_fp32_and_names_each_share(tmp_path: Path, monkeypatch, capsys) -> None:
    first, second = _random_weights(tmp_path / "a.safetensors", 1), _random_weights(tmp_path / "b.safetensors", 2)
    for extra, dtype in (((), torch.float16), (("--fp32",), torch.float32)):
        out = tmp_path / f"blend_{dtype}.safetensors"
        monkeypatch.setattr("sys.argv", ["soup", str(first), str(second), "--weight", "0.25", "--out", str(out),
                                         *extra])
        soup_module.main()
        assert capsys.readouterr().out == f"wrote {out}: 0.75 x a.safetensors + 0.25 x b.safetensors\n"
        with safe_open(out, "pt") as stored:
            floats = {stored.get_tensor(name).dtype for name in stored.keys()} - {torch.int64}
        assert floats == {dtype}


def test_soup_never_writes_over_its_second_model(tmp_path: Path) -> None:
    first, second = _random_weights(tmp_path / "a.safetensors", 1), _random_weights(tmp_path / "b.safetensors", 2)
    before = second.read_bytes()
    with pytest.raises(OutputError, match="would overwrite the input"):
        soup_module.soup(first, second, 0.5, second, overwrite=True)
    assert second.read_bytes() == before


def test_pack_command_takes_its_size_quality_format_and_step(tmp_path: Path, monkeypatch, capsys) -> None:
    photos = _colour_photos(tmp_path / "photos", 4, size=(60, 72))
    total = {}
    for quality in (10, 95):
        out = tmp_path / f"packed{quality}"
        monkeypatch.setattr("sys.argv", ["pack", "--data", str(photos), "--out", str(out), "--size", "24",
                                         "--quality", str(quality), "--format", "webp", "--every", "2"])
        pack_module.main()
        assert capsys.readouterr().out.startswith("2 packed, 0 grey, 0 corrupt; ")
        files = sorted(out.iterdir())
        assert [path.name for path in files] == ["0.webp", "2.webp"]
        for path in files:
            with Image.open(path) as image:
                assert (image.format, image.size) == ("WEBP", (24, 24))
        total[quality] = sum(path.stat().st_size for path in files)
    assert total[10] < total[95]
    monkeypatch.setattr("sys.argv", ["pack", "--data", str(photos), "--out", str(tmp_path / "defaults")])
    pack_module.main()  # every photo, as JPEG, at its own size (under the default 208 px)
    for path in sorted((tmp_path / "defaults").iterdir()):
        with Image.open(path) as image:
            assert (path.suffix, image.format, image.size) == (".jpg", "JPEG", (60, 60))
    assert len(list((tmp_path / "defaults").iterdir())) == 4


def test_restored_rng_states_draw_what_the_saved_ones_would() -> None:
    """Every generator a checkpoint holds continues where it was saved: the data one, torch's and Python's."""
    data_rng = torch.Generator().manual_seed(3)
    saved = rng_state(data_rng, torch.device("cpu"))
    expected = (torch.rand(4, generator=data_rng), torch.rand(4), random.random())
    torch.manual_seed(99)
    random.seed(99)
    data_rng.manual_seed(99)
    restore_rng(saved, data_rng, torch.device("cpu"))
    drawn = (torch.rand(4, generator=data_rng), torch.rand(4), random.random())
    assert torch.equal(drawn[0], expected[0]) and torch.equal(drawn[1], expected[1]) and drawn[2] == expected[2]


def _logged_steps(path: Path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_a_resumed_run_whose_loss_log_was_deleted_starts_it_again_with_its_header(tmp_path: Path) -> None:
    path = tmp_path / "losses.csv"
    log = LossHistory(path, fresh=False)
    log.truncate(0)
    log.append("gan", 0, 1, 1.5, 2.0, {"l1": 0.25})
    assert _logged_steps(path) == [COLUMNS, ["gan", "1", "1", "1.50", "2.00", "0.250000", "", ""]]


def test_a_loss_row_cut_inside_its_step_number_is_dropped_on_resume(tmp_path: Path) -> None:
    """Step 12's row cut after its first digit reads as step 1: it must not join the log as a second step 1."""
    path = tmp_path / "losses.csv"
    log = LossHistory(path)
    for step in range(1, 12):
        log.append("pretrain", 0, step, step, 8.0, {"l1": 0.5})
    with open(path, "a", newline="") as handle:
        handle.write("pretrain,1,1")
    log.truncate(11)
    assert [row[2] for row in _logged_steps(path)] == ["step", *map(str, range(1, 12))]
