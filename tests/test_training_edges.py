"""Training on awkward ground: a full disk, a foreign checkpoint, a run of a single step."""

from __future__ import annotations

import errno
import shutil
import signal
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from training_photos import tiny_config

from training import data, plots
from training.cli import _QuietFileHandler, train_command
from training.config import CHECKPOINT_NAME
from training.history import LossHistory
from training.holdout import HoldoutLog, HoldoutScore
from training.trainer import Trainer, read_checkpoint
from vidcolor.errors import OutputError

resource = pytest.importorskip("resource")


def test_a_checkpoint_that_outgrows_the_disk_says_why_and_keeps_the_last_one(photo_dir: Path, bank,
                                                                           tmp_path: Path) -> None:
    """torch.save loses the reason of a failed write: the run stopped on 'RuntimeError: [enforce fail at
    inline_container.cc:672] . unexpected pos ...', which reads as a bug, not as a full disk."""
    trainer = Trainer(tiny_config(photo_dir), tmp_path, torch.device("cpu"), bank=bank)
    trainer.run(max_steps=1, progress=False)
    trainer.step += 1  # so that a checkpoint written after all would show
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, limits[1]))
    try:
        with pytest.raises(OutputError, match=f"cannot write {tmp_path / CHECKPOINT_NAME} \\(File too large\\); "
                                              f"free some space or make {tmp_path} writable, then continue from its last "
                                              f"checkpoint with --resume {tmp_path}$"):
            trainer.save_checkpoint()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous_handler)
    assert read_checkpoint(tmp_path)["progress"]["step"] == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_ctrl_c_inside_a_checkpoint_write_is_still_ctrl_c(photo_dir: Path, bank, tmp_path: Path,
                                                          monkeypatch) -> None:
    """The checkpoint goes through Python's file writes; torch would turn Ctrl-C inside one into a RuntimeError."""
    trainer = Trainer(tiny_config(photo_dir), tmp_path, torch.device("cpu"), bank=bank)
    real_save = torch.save

    class InterruptedFile:
        """The file under the checkpoint writer, interrupted after its first write."""

        def __init__(self, handle) -> None:
            self.handle, self.writes = handle, 0

        def write(self, data: bytes) -> int:
            self.writes += 1
            if self.writes > 1:
                raise KeyboardInterrupt
            return self.handle.write(data)

        def flush(self) -> None:
            self.handle.flush()

    def interrupted_save(state, target) -> None:
        target.handle = InterruptedFile(target.handle)
        real_save(state, target)

    monkeypatch.setattr(torch, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        trainer.save_checkpoint()
    assert list(tmp_path.iterdir()) == [tmp_path / "losses.csv"]


def _full_disk(*args, **kwargs) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _train_one_tiny_epoch(photo_dir: Path, run: Path):
    """`vidcolor train` of a tiny model for one L1 epoch on ``photo_dir`` into ``run``; click's result."""
    return CliRunner().invoke(train_command, ["--data", str(photo_dir), "--out", str(run), "--arch", "tiny-unet",
                                              "--no-pretrained", "--crop", "32", "--batch-size", "4",
                                              "--pretrain-epochs", "1", "--device", "cpu"])


def test_a_loss_row_on_a_full_disk_is_one_line_that_says_where_the_run_stands(photo_dir: Path, tmp_path: Path,
                                                                              monkeypatch) -> None:
    monkeypatch.setattr(LossHistory, "append", _full_disk)
    run = tmp_path / "run"
    result = _train_one_tiny_epoch(photo_dir, run)
    assert result.exit_code == 1
    assert f"Error: cannot write {run / 'losses.csv'} (No space left on device); free some space" in result.output
    assert "VIDCOLOR_DEBUG" not in result.output and "start the run again" in result.output


def test_a_checkpoint_of_an_architecture_this_version_lacks_is_refused_before_decoding(photo_dir: Path, bank,
                                                                                     tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(photo_dir), tmp_path / "run", torch.device("cpu"), bank=bank)
    trainer.run(max_steps=1, progress=False)
    state = torch.load(tmp_path / "run" / CHECKPOINT_NAME, weights_only=False)
    state["config"]["arch"] = "lite9-unet"
    torch.save(state, tmp_path / "run" / CHECKPOINT_NAME)
    result = CliRunner().invoke(train_command, ["--resume", str(tmp_path / "run"), "--device", "cpu"])
    assert result.exit_code == 2
    assert "--arch lite9-unet, which this version of vidcolor does not have" in result.output
    assert "decoded" not in result.output


def test_a_loss_curve_of_a_single_step_shows_it_on_whole_steps(tmp_path: Path, monkeypatch) -> None:
    """One step (or one GAN step after the L1 stage) was a line of one point: an empty panel, its step axis
    ticked 0.900 .. 1.100."""
    history = LossHistory(tmp_path / "losses.csv")
    history.append("pretrain", 0, 1, 0.5, 8.0, {"l1": 0.3})
    history.append("gan", 0, 2, 0.5, 8.0, {"l1": 0.3, "gan_g": 1.4, "gan_d": 0.7})
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, out_png: figures.append(figure))
    plots.loss_curve(history.path, tmp_path / "loss_curve.png")
    for axis in figures[0].axes:
        assert any(len(line.get_xdata()) > 1 or line.get_marker() not in ("None", None, "")
                   for line in axis.lines), axis.get_title()
        assert all(tick == int(tick) for tick in axis.get_xticks()), axis.get_title()


def test_ctrl_c_while_decoding_stops_without_decoding_the_rest(tmp_path: Path, monkeypatch) -> None:
    """The decoding threads worked through every queued photo before Ctrl-C took effect: minutes on a large
    data set."""
    decoded = []

    def slow_square(path: Path, side: int) -> str:
        time.sleep(0.01)
        decoded.append(path)
        return "grey"

    def interrupted_after_one(results, **kwargs):
        yield next(iter(results))
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "square_or_reason", slow_square)
    monkeypatch.setattr(data, "tqdm", interrupted_after_one)
    with pytest.raises(KeyboardInterrupt):
        data.build_bank([tmp_path / f"{index}.png" for index in range(200)], 32, workers=2)
    assert len(decoded) < 20


def test_a_holdout_curve_of_the_first_scoring_alone_shows_its_baselines(tmp_path: Path, monkeypatch) -> None:
    """At step 0 (before the first output epoch, hours on a large data set) the grey and truth lines were
    dashed lines of one point: not drawn."""
    scores = HoldoutLog(tmp_path / "holdout.csv")
    scores.append("pretrain", 0, 0, HoldoutScore(l1=0.3, psnr=22.0, psnr_grey=21.0, colourfulness=5.0,
                                                 colourfulness_truth=30.0))
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, out_png: figures.append(figure))
    plots.holdout_curve(scores.path, tmp_path / "holdout.png")
    for axis in figures[0].axes:
        assert all(line.get_marker() not in ("None", None, "") for line in axis.lines), axis.get_title()
        assert all(tick == int(tick) for tick in axis.get_xticks()), axis.get_title()


def test_a_resume_whose_val_folder_moved_names_the_val_folder(photo_dir: Path, bank, tmp_path: Path) -> None:
    """It said 'data folder not found: VAL', sending the user to look at --data."""
    val = tmp_path / "val"
    shutil.copytree(photo_dir / "street", val)
    trainer = Trainer(tiny_config(photo_dir, val=str(val)), tmp_path / "run", torch.device("cpu"), bank=bank)
    trainer.run(max_steps=1, progress=False)
    shutil.rmtree(val)
    result = CliRunner().invoke(train_command, ["--resume", str(tmp_path / "run"), "--device", "cpu"])
    assert result.exit_code == 1
    assert f"Error: --val folder not found: {val}; the run shows the photos it started with" in result.output


def test_an_out_folder_that_cannot_be_made_is_one_line(photo_dir: Path, tmp_path: Path) -> None:
    """It was 'Error: NotADirectoryError: ...' (or PermissionError on a read-only drive), a bug's report."""
    (tmp_path / "file").write_text("in the way")
    run = tmp_path / "file" / "run"
    result = CliRunner().invoke(train_command, ["--data", str(photo_dir), "--out", str(run), "--arch", "tiny-unet",
                                                "--no-pretrained", "--crop", "32", "--pretrain-epochs", "1"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot create the run folder {run} (Not a directory); choose another --out")
    assert result.output.count("\n") == 1


def test_a_full_disk_that_train_log_meets_too_leaves_the_one_line_error(photo_dir: Path, tmp_path: Path,
                                                                        monkeypatch) -> None:
    """On a full disk the log file's own writes failed as well: logging printed '--- Logging error ---' and a
    traceback per line, and the closing line for train.log replaced the run's error with an OSError."""
    class FullDiskFile:
        def write(self, text: str = "") -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        flush = write
        close = write

        def __enter__(self) -> FullDiskFile:
            return self

        def __exit__(self, *exc_info) -> None:
            self.close()

    monkeypatch.setattr(LossHistory, "append", _full_disk)
    monkeypatch.setattr(_QuietFileHandler, "_open", lambda self: FullDiskFile())
    monkeypatch.setattr("training.cli.open", lambda *args, **kwargs: FullDiskFile(), raising=False)
    run = tmp_path / "run"
    result = _train_one_tiny_epoch(photo_dir, run)
    assert result.exit_code == 1
    assert f"Error: cannot write {run / 'losses.csv'} (No space left on device)" in result.output
    assert "Logging error" not in result.output and "Traceback" not in result.output
