"""`vidcolor train` as a user runs it across resumes: what a resumed run is given again, and what it says."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from training_photos import tiny_config

from training import trainer as trainer_module
from training.cli import train_command
from training.config import StageBudget
from training.holdout import HoldoutScore
from training.trainer import Trainer

try:
    import fcntl
except ImportError:  # Windows: no flock, nothing is locked
    fcntl = None


def _resume(run_dir: Path, *options: str):
    return CliRunner().invoke(train_command, ["--resume", str(run_dir), "--threads", "1", *options])


def test_an_l1_budget_given_after_the_gan_stage_began_is_refused_not_ignored(photo_dir: Path, bank,
                                                                             tmp_path: Path) -> None:
    """The L1 stage cannot train again once the GAN stage has trained on top of it: a resume given a longer L1
    budget started, trained nothing, and exited 0 as if it had done what was asked."""
    run_dir = tmp_path / "run"
    trainer = Trainer(tiny_config(photo_dir, pretrain=StageBudget(epochs=1)), run_dir, torch.device("cpu"), bank=bank)
    trainer.run(max_steps=3, progress=False)  # 2 L1 steps, then 1 GAN step
    assert trainer.stage_steps == {"pretrain": 2, "gan": 1}
    before = (run_dir / "checkpoint.pt").read_bytes()
    for option in ("--pretrain-epochs", "--pretrain-minutes"):
        result = _resume(run_dir, option, "5")
        assert result.exit_code == 2, result.output
        error = result.output.strip().splitlines()[-1]
        assert error.startswith(f"Error: Invalid value for {option}: the run's GAN stage has trained (1 steps)")
        assert "--gan-epochs" in error
    assert (run_dir / "checkpoint.pt").read_bytes() == before


def test_an_l1_budget_given_after_patience_ended_the_stage_needs_a_larger_patience(photo_dir: Path, bank,
                                                                                    tmp_path: Path, monkeypatch) -> None:
    """An L1 stage ended by --patience stays ended under a longer budget alone: the resume trained nothing."""
    flat = HoldoutScore(l1=0.3, psnr=20.0, psnr_grey=19.0, colourfulness=5.0, colourfulness_truth=30.0)
    monkeypatch.setattr(trainer_module, "score_holdout", lambda *args: flat)  # never better than the start
    run_dir = tmp_path / "run"
    config = tiny_config(photo_dir, pretrain=StageBudget(epochs=3), gan=StageBudget(), holdout=0.25, patience=1)
    trainer = Trainer(config, run_dir, torch.device("cpu"), bank=bank)
    trainer.run(progress=False)
    assert trainer.stage is None and trainer.epoch == 0 and trainer.stage_epochs["pretrain"] == 1

    refused = _resume(run_dir, "--pretrain-epochs", "5")
    assert refused.exit_code == 2, refused.output
    assert "ended early, after 1 held-out scorings without a gain; give --patience above 1" in refused.output
    assert _resume(run_dir, "--pretrain-epochs", "5", "--patience", "1").exit_code == 2

    longer = _resume(run_dir, "--pretrain-epochs", "2", "--patience", "2")
    assert longer.exit_code == 0, longer.output
    assert "nothing to train" not in (run_dir / "train.log").read_text()


def test_a_resume_with_nothing_left_to_train_says_so(photo_dir: Path, bank, tmp_path: Path) -> None:
    """Budgets count the whole run: a resume of a finished run trained nothing and said nothing about it."""
    run_dir = tmp_path / "run"
    Trainer(tiny_config(photo_dir, gan=StageBudget()), run_dir, torch.device("cpu"), bank=bank).run(progress=False)
    result = _resume(run_dir)
    assert result.exit_code == 0, result.output
    log = (run_dir / "train.log").read_text()
    assert "nothing to train: every stage has spent its budget" in log and "--gan-epochs" in log


@pytest.mark.skipif(fcntl is None, reason="needs flock")
def test_a_second_run_on_a_folder_being_trained_is_refused_and_leaves_it_alone(photo_dir: Path, bank,
                                                                              tmp_path: Path) -> None:
    """A resume started twice (or a new run given the same --out) trained into the same folder at once: loss rows of
    both runs interleaved in losses.csv, and both wrote checkpoint.pt through the same temporary file."""
    run_dir = tmp_path / "run"
    Trainer(tiny_config(photo_dir), run_dir, torch.device("cpu"), bank=bank).run(max_steps=1, progress=False)
    (run_dir / "train.log").write_text("the first run's log\n")
    starting = tmp_path / "starting"  # a new run that has no checkpoint yet
    starting.mkdir()
    (starting / "train.log").write_text("the first run's log\n")
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    for folder, arguments in ((run_dir, ["--resume", str(run_dir), "--pretrain-epochs", "3"]),
                              (starting, ["--data", str(photo_dir), "--out", str(starting), "--arch", "tiny-unet",
                                          "--no-pretrained", "--crop", "32", "--pretrain-epochs", "1"])):
        with open(folder / "train.log", "rb") as first_run:
            fcntl.flock(first_run, fcntl.LOCK_EX)
            result = CliRunner().invoke(train_command, arguments)
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines()[-1] == (
            f"Error: {folder} is being trained by another run right now (its train.log is locked); "
            "wait for that run to end, or stop it first")
    assert {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == before
