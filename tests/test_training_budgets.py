"""Trainer: which optimiser each stage steps with which settings, and minute budgets counted in minutes across resumes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch
from training_photos import CROP, tiny_config

from training import trainer as trainer_module
from training.config import StageBudget
from training.data import random_crops, to_model_pair
from training.trainer import Trainer, resume_trainer


def _batch(bank) -> tuple[torch.Tensor, torch.Tensor]:
    return to_model_pair(random_crops(bank.images[:4], CROP, torch.Generator().manual_seed(0)))


def test_each_stage_steps_its_own_adam_with_the_pix2pix_settings(photo_dir: Path, bank, tmp_path: Path) -> None:
    """Guards against the GAN stage stepping the L1 stage's optimiser (its moments, lr and betas) or wrong betas."""
    trainer = Trainer(tiny_config(photo_dir, pretrain_lr=1e-4, gan_lr=2e-4), tmp_path, torch.device("cpu"), bank=bank)
    groups = {name: getattr(trainer, name).param_groups[0] for name in
              ("pretrain_optimizer", "gan_g_optimizer", "gan_d_optimizer")}
    assert {name: (group["lr"], group["betas"]) for name, group in groups.items()} == {
        "pretrain_optimizer": (1e-4, (0.9, 0.999)), "gan_g_optimizer": (2e-4, (0.5, 0.999)),
        "gan_d_optimizer": (2e-4, (0.5, 0.999))}
    generator_parameters = len(list(trainer.generator.parameters()))
    discriminator_parameters = len(list(trainer.discriminator.parameters()))

    trainer.pretrain_step(*_batch(bank))
    assert len(trainer.pretrain_optimizer.state) == generator_parameters
    assert not trainer.gan_g_optimizer.state and not trainer.gan_d_optimizer.state

    trainer.gan_step(*_batch(bank))
    assert len(trainer.gan_g_optimizer.state) == generator_parameters
    assert len(trainer.gan_d_optimizer.state) == discriminator_parameters
    assert all(state["step"].item() == 1 for state in trainer.pretrain_optimizer.state.values())  # not stepped again


def _ten_seconds_a_step(monkeypatch) -> None:
    """Each reading of the trainer's clock is 10 s after the last: every training step lasts 10 s."""
    clock = iter(range(0, 10**6, 10))
    monkeypatch.setattr(trainer_module, "time", SimpleNamespace(monotonic=lambda: float(next(clock))))


def test_a_minutes_budget_counts_minutes_and_the_time_trained_before_a_resume(photo_dir: Path, bank, tmp_path: Path,
                                                                             monkeypatch) -> None:
    """Guards against a budget read as seconds (a stage ending after one step), a resume restarting its clock, or
    the next stage finishing the epoch the clock cut short."""
    _ten_seconds_a_step(monkeypatch)
    config = tiny_config(photo_dir, pretrain=StageBudget(minutes=0.5))  # 30 s: 3 steps, then 1 GAN epoch
    whole = Trainer(config, tmp_path / "whole", torch.device("cpu"), bank=bank)
    whole.run(progress=False)
    assert (whole.stage_steps["pretrain"], whole.stage_seconds["pretrain"], whole.stage) == (3, 30.0, None)
    assert whole.stage_steps["gan"] == 2  # a whole epoch of its own, not the rest of the L1 stage's cut-short one

    interrupted = Trainer(config, tmp_path / "split", torch.device("cpu"), bank=bank)
    interrupted.run(max_steps=2, progress=False)
    assert interrupted.stage_seconds["pretrain"] == 20.0
    del interrupted
    resumed = resume_trainer(tmp_path / "split", torch.device("cpu"), bank=bank)
    assert resumed.stage_seconds["pretrain"] == 20.0
    resumed.run(progress=False)
    assert (resumed.stage_steps["pretrain"], resumed.stage_seconds["pretrain"], resumed.stage) == (3, 30.0, None)
