"""Colour-strength calibration: finds the right ab scale, reports colourfulness, and the stored value is applied."""

import numpy as np
import pytest
from PIL import Image
from skimage.color import lab2rgb

from tests.helpers import ConstantColour
from training.calibrate import calibrate, spread
from training.calibrate import main as calibrate_main
from training.metrics import colourfulness
from vidcolor.errors import InputError
from vidcolor.models import create_generator, read_metadata, save_generator, update_metadata
from vidcolor.worker import Colorizer


def _flat_photos(tmp_path):
    """Flat photos of Lab (L, 40, -30) for three lightnesses."""
    paths = []
    for index, lightness in enumerate((45, 60, 75)):
        lab = np.zeros((32, 32, 3))
        lab[...] = (lightness, 40, -30)
        rgb = (lab2rgb(lab) * 255).round().astype(np.uint8)
        paths.append(tmp_path / f"flat{index}.png")
        Image.fromarray(rgb).save(paths[-1])
    return paths


def test_calibration_finds_the_scale_of_a_too_faint_model(tmp_path):
    """The model predicts half the photos' colour, so 2.0 is the PSNR-best scale and the first to reach the truth."""
    paths = _flat_photos(tmp_path)
    faint = Colorizer(ConstantColour(20 / 110, -15 / 110), device="cpu", render_size=32)
    calibration = calibrate(faint, paths, candidates=(1.0, 1.5, 2.0, 2.5))
    by_scale = {score.scale: score for score in calibration.scores}
    assert calibration.best_psnr().scale == 2.0
    assert by_scale[2.0].psnr > by_scale[1.0].psnr + 10
    truth = np.mean([colourfulness(np.asarray(Image.open(path), dtype=np.float32) / 255) for path in paths])
    assert calibration.truth_colourfulness == pytest.approx(truth)
    assert by_scale[2.0].colourfulness == pytest.approx(truth, rel=0.05)
    assert by_scale[1.0].colourfulness == pytest.approx(truth / 2, rel=0.1)
    assert calibration.reaching(0.7).scale == 1.5
    assert calibration.reaching(0.95).scale == 2.0
    assert calibration.reaching(2.0) is None


def test_unreadable_photos_are_skipped_and_not_counted(tmp_path):
    paths = _flat_photos(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    faint = Colorizer(ConstantColour(20 / 110, -15 / 110), device="cpu", render_size=32)
    calibration = calibrate(faint, [*paths, tmp_path / "broken.png"], candidates=(1.0, 2.0))
    assert calibration.photos == 3
    assert (calibration.skipped.grey, calibration.skipped.unreadable) == (0, 1)  # the report says so (was silent)


def test_calibration_of_grey_photos_only_is_an_error(tmp_path):
    path = tmp_path / "grey.png"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(path)
    faint = Colorizer(ConstantColour(0.1, 0.1), device="cpu", render_size=32)
    with pytest.raises(InputError, match="no colour photos"):
        calibrate(faint, [path])


def test_stored_saturation_is_applied_and_multiplied(tmp_path):
    path = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), path, "tiny-unet")
    update_metadata(path, {"inference": {"saturation": 1.7}})
    assert read_metadata(path)["inference"]["saturation"] == 1.7
    assert read_metadata(path)["architecture"] == "tiny-unet"
    assert Colorizer.from_weights(path, device="cpu").calibration == pytest.approx(1.7)
    doubled = Colorizer.from_weights(path, device="cpu", saturation=2.0)
    assert (doubled.calibration, doubled.saturation) == (pytest.approx(1.7), 2.0)
    raw = Colorizer.from_weights(path, device="cpu", saturation=2.0, calibrated=False)
    assert (raw.calibration, raw.saturation) == (1.0, 2.0)


def test_spread_picks_evenly_and_keeps_short_lists(tmp_path):
    paths = [tmp_path / f"{i:02d}.png" for i in range(10)]
    assert spread(paths, 20) == paths
    assert spread(paths, 3) == [paths[0], paths[4], paths[9]]


def test_command_stores_the_best_scale_plots_the_trade_and_refuses_an_unreachable_ratio(tmp_path, monkeypatch, capsys):
    weights = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), weights, "tiny-unet")
    _flat_photos(tmp_path)
    base = ["calibrate", "--weights", str(weights), "--data", str(tmp_path), "--device", "cpu"]
    monkeypatch.setattr("sys.argv", base + ["--plot", str(tmp_path / "trade.png")])
    calibrate_main()
    printed = capsys.readouterr().out
    chosen = [line for line in printed.splitlines() if line.endswith("<- chosen")]
    assert len(chosen) == 1 and "truth colourfulness" in printed
    assert read_metadata(weights)["inference"]["saturation"] == pytest.approx(float(chosen[0].split()[1][:-1]))
    assert read_metadata(weights)["inference"]["calibrated_on"] == f"3 photos of {tmp_path}"  # not --count's 300
    assert (tmp_path / "trade.png").stat().st_size > 0
    monkeypatch.setattr("sys.argv", base + ["--colour-ratio", "1000"])
    with pytest.raises(SystemExit) as stopped:
        calibrate_main()
    assert stopped.value.code == 1
    assert "no candidate scale reaches 1000" in capsys.readouterr().err


def test_a_plot_that_cannot_be_written_is_one_line_after_the_scale_is_stored(tmp_path, monkeypatch, capsys):
    """`--plot` under a file gave a traceback after all the scoring, and the scale was never stored."""
    weights = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), weights, "tiny-unet")
    _flat_photos(tmp_path)
    (tmp_path / "a_file").write_text("x")
    monkeypatch.setattr("sys.argv", ["calibrate", "--weights", str(weights), "--data", str(tmp_path), "--device", "cpu",
                                     "--plot", str(tmp_path / "a_file" / "trade.png")])
    with pytest.raises(SystemExit) as stopped:
        calibrate_main()
    assert stopped.value.code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and errors[0].startswith("Error: cannot write the plot")
    assert errors[0].endswith("the scale is stored")
    assert "saturation" in read_metadata(weights)["inference"]


@pytest.mark.parametrize("option, value", [("--count", "-1"), ("--count", "0"), ("--colour-ratio", "-1"),
                                           ("--colour-ratio", "nan")])
def test_command_refuses_bad_numbers_before_touching_the_weights(tmp_path, monkeypatch, capsys, option, value):
    weights = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), weights, "tiny-unet")
    before = weights.read_bytes()
    _flat_photos(tmp_path)
    monkeypatch.setattr("sys.argv", ["calibrate", "--weights", str(weights), "--data", str(tmp_path), option, value])
    with pytest.raises(SystemExit) as stopped:
        calibrate_main()
    assert stopped.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err
    assert weights.read_bytes() == before


def test_a_plot_name_matplotlib_cannot_write_is_refused_before_scoring(tmp_path, monkeypatch, capsys):
    weights = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), weights, "tiny-unet")
    monkeypatch.setattr("sys.argv", ["calibrate", "--weights", str(weights), "--data", str(tmp_path),
                                     "--plot", str(tmp_path / "trade.xyz")])
    with pytest.raises(SystemExit) as stopped:
        calibrate_main()
    assert stopped.value.code == 2 and "--plot" in capsys.readouterr().err
    assert "inference" not in read_metadata(weights)


def test_weights_in_a_read_only_folder_are_refused_before_the_scoring(tmp_path, monkeypatch, capsys):
    """The scale could not be stored: a traceback came after minutes of scoring, and the scores were lost."""
    import training.calibrate as calibrate_module

    weights = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), weights, "tiny-unet")
    _flat_photos(tmp_path)
    writable = calibrate_module.os.access
    monkeypatch.setattr(calibrate_module.os, "access",
                        lambda path, mode: False if str(path) == str(tmp_path) else writable(path, mode))

    def never(*args, **kwargs):
        raise AssertionError("scored photos for weights it cannot update")

    monkeypatch.setattr(calibrate_module, "calibrate", never)
    monkeypatch.setattr("sys.argv", ["calibrate", "--weights", str(weights), "--data", str(tmp_path), "--device", "cpu"])
    with pytest.raises(SystemExit) as stopped:
        calibrate_main()
    assert stopped.value.code == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"Error: cannot store the scale in {weights}")


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError(28, "No space left on device")])
def test_ctrl_c_or_a_full_disk_while_storing_the_scale_is_one_line_and_keeps_the_weights(tmp_path, monkeypatch, capsys,
                                                                                       failure):
    """Ctrl-C during the scoring or the rewrite, or a disk that filled up, ended in a traceback."""
    from vidcolor.models import checkpoint

    weights = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), weights, "tiny-unet")
    before = weights.read_bytes()
    _flat_photos(tmp_path)

    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(checkpoint, "save", fail)
    monkeypatch.setattr("sys.argv", ["calibrate", "--weights", str(weights), "--data", str(tmp_path), "--device", "cpu"])
    with pytest.raises(SystemExit) as stopped:
        calibrate_main()
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Error")]
    if failure is KeyboardInterrupt:
        assert stopped.value.code == 130 and errors == ["Error: interrupted"]
    else:
        assert stopped.value.code == 1 and len(errors) == 1 and "No space left on device" in errors[0]
    assert weights.read_bytes() == before
    assert [path.name for path in tmp_path.iterdir() if "partial" in path.name] == []
