"""Held-out scoring: the split, the scores against hand-computed values, early stopping on the best weights."""

from __future__ import annotations

import csv
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import ConstantColour
from training_photos import CROP, tiny_config

from training import trainer as trainer_module
from training.cli import train_command
from training.config import StageBudget
from training.data import centre_crops, to_model_pair
from training.holdout import BestWeights, HoldoutScore, score_holdout, split_bank
from training.metrics import colourfulness, psnr
from training.trainer import Trainer, resume_trainer
from vidcolor.color import lab_from_normalized, lab_to_rgb
from vidcolor.errors import InputError
from vidcolor.models import load_generator, read_metadata


def _holdout_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "holdout.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_split_is_reproducible_disjoint_and_leaves_photos_to_train(bank) -> None:
    kept, held = split_bank(bank, 0.25, seed=3)
    again_kept, again_held = split_bank(bank, 0.25, seed=3)
    assert (len(kept), len(held)) == (6, 2)
    assert held.sources == again_held.sources and kept.sources == again_kept.sources
    assert not set(kept.sources) & set(held.sources)
    assert sorted(kept.sources + held.sources) == sorted(bank.sources)
    for part in (kept, held):
        for index, source in enumerate(part.sources):
            assert torch.equal(part.images[index], bank.images[bank.sources.index(source)])
    assert split_bank(bank, 0.0, seed=3) == (bank, None)
    with pytest.raises(InputError, match="no photos to train on"):
        split_bank(bank.subset(torch.tensor([0])), 0.5, seed=0)


def test_scores_match_values_computed_by_hand(bank) -> None:
    """A constant-colour generator: its PSNR/colourfulness equal skimage's and the metric module's on each crop."""
    ab_constant = (0.2, -0.3)
    score = score_holdout(ConstantColour(*ab_constant), bank, CROP, nullcontext)

    truth = centre_crops(bank.images, CROP)
    l_norm, ab_norm = to_model_pair(truth)
    predicted = torch.tensor(ab_constant).view(1, 2, 1, 1).expand_as(ab_norm)
    coloured = lab_to_rgb(lab_from_normalized(l_norm, predicted)).clamp(0, 1)
    grey = lab_to_rgb(lab_from_normalized(l_norm, torch.zeros_like(ab_norm))).clamp(0, 1)
    as_images = lambda batch: batch.permute(0, 2, 3, 1).numpy()  # noqa: E731
    expected = HoldoutScore(
        l1=(predicted - ab_norm).abs().mean().item(),
        psnr=float(np.mean([psnr(t, c) for t, c in zip(as_images(truth), as_images(coloured))])),
        psnr_grey=float(np.mean([psnr(t, g) for t, g in zip(as_images(truth), as_images(grey))])),
        colourfulness=float(np.mean([colourfulness(c) for c in as_images(coloured)])),
        colourfulness_truth=float(np.mean([colourfulness(t) for t in as_images(truth)])),
    )
    for name, value in expected.__dict__.items():
        assert getattr(score, name) == pytest.approx(value, rel=1e-5), name
    assert score.colourfulness > 10 and score.psnr != score.psnr_grey


def _scripted_run(photo_dir: Path, bank, run_dir: Path, monkeypatch, psnrs: list[float]) -> tuple[Trainer, list[dict]]:
    """Up to 10 L1 epochs (1 step each), patience 2, with the held-out PSNRs given; also the weights at each scoring."""
    scripted = iter(psnrs)
    weights_at_scoring: list[dict[str, torch.Tensor]] = []

    def fake_score(generator, holdout, crop, autocast) -> HoldoutScore:
        weights_at_scoring.append({name: value.clone() for name, value in generator.state_dict().items()})
        return HoldoutScore(l1=0.1, psnr=next(scripted), psnr_grey=19.0, colourfulness=5.0, colourfulness_truth=9.0)

    monkeypatch.setattr(trainer_module, "score_holdout", fake_score)
    config = tiny_config(photo_dir, pretrain=StageBudget(epochs=10), gan=StageBudget(), holdout=0.25, patience=2,
                         pretrain_lr=1e-2)
    trainer = Trainer(config, run_dir, torch.device("cpu"), bank=bank)
    trainer.run(progress=False)
    return trainer, weights_at_scoring


def _assert_same_weights(model: torch.nn.Module, expected: dict[str, torch.Tensor]) -> None:
    for name, value in model.state_dict().items():
        assert torch.equal(value, expected[name]), name


def test_l1_stage_stops_when_patience_runs_out_and_ends_on_its_best_weights(photo_dir: Path, bank, tmp_path: Path,
                                                                            monkeypatch) -> None:
    """Held-out PSNRs 20 (start), 22, 21, 21.5: best after step 1; patience 2 ends the stage after epoch 3."""
    trainer, weights_at_scoring = _scripted_run(photo_dir, bank, tmp_path, monkeypatch, [20.0, 22.0, 21.0, 21.5])
    assert trainer.stage_epochs["pretrain"] == 3 and trainer.stage is None
    assert (trainer.best.step, trainer.best.psnr) == (1, 22.0)
    assert not all(torch.equal(value, weights_at_scoring[1][name]) for name, value in weights_at_scoring[3].items())
    _assert_same_weights(trainer.generator, weights_at_scoring[1])
    rows = _holdout_rows(tmp_path)
    assert [(row["step"], float(row["psnr"])) for row in rows] == [("0", 20.0), ("1", 22.0), ("2", 21.0), ("3", 21.5)]
    trainer.export(tmp_path / "model.safetensors")
    holdout = read_metadata(tmp_path / "model.safetensors")["training"]["holdout"]
    assert holdout == {"photos": 2, "fraction": 0.25, "patience": 2, "best_l1_stage": {"step": 1, "psnr": 22.0}}


def test_a_fine_tune_that_only_hurts_gives_back_its_starting_weights(photo_dir: Path, bank, tmp_path: Path,
                                                                     monkeypatch) -> None:
    trainer, weights_at_scoring = _scripted_run(photo_dir, bank, tmp_path, monkeypatch, [22.0, 21.0, 20.0])
    assert trainer.stage_epochs["pretrain"] == 2 and trainer.best.step == 0
    _assert_same_weights(trainer.generator, weights_at_scoring[0])


def test_held_out_photos_are_scored_plotted_snapshotted_and_survive_a_resume(photo_dir: Path, bank, tmp_path: Path) -> None:
    """A real run (3 L1 epochs + 1 GAN epoch, 1 step each) against the same run stopped after step 2 and resumed."""
    config = tiny_config(photo_dir, pretrain=StageBudget(epochs=3), holdout=0.25, snapshots=True, pretrain_lr=1e-2)
    whole = Trainer(config, tmp_path / "whole", torch.device("cpu"), bank=bank)
    whole.run(progress=False)

    rows = _holdout_rows(tmp_path / "whole")
    assert [(row["stage"], row["epoch"], row["step"]) for row in rows] == [
        ("pretrain", "0", "0"), ("pretrain", "1", "1"), ("pretrain", "2", "2"), ("pretrain", "3", "3"), ("gan", "1", "4")]
    assert all(float(row["psnr_grey"]) == float(rows[0]["psnr_grey"]) for row in rows)  # same photos every time
    assert all(np.isfinite(float(value)) for row in rows for value in list(row.values())[3:])
    assert (tmp_path / "whole" / "holdout.png").stat().st_size > 1000
    snapshots = sorted(path.name for path in (tmp_path / "whole" / "snapshots").iterdir())
    assert snapshots == ["gan_epoch001.safetensors"] + [f"pretrain_epoch00{n}.safetensors" for n in (1, 2, 3)]
    snapshot, _ = load_generator(tmp_path / "whole" / "snapshots" / "gan_epoch001.safetensors")
    for name, value in whole.generator.state_dict().items():
        assert torch.allclose(snapshot.state_dict()[name], value, atol=1e-2), name

    interrupted = Trainer(config, tmp_path / "split", torch.device("cpu"), bank=bank)
    interrupted.run(max_steps=2, progress=False)
    best_when_stopped = (interrupted.best.step, interrupted.best.psnr)
    del interrupted
    resumed = resume_trainer(tmp_path / "split", torch.device("cpu"), bank=bank)
    assert (resumed.best.step, resumed.best.psnr) == best_when_stopped
    resumed.run(progress=False)
    assert (resumed.best.step, resumed.best.psnr) == (whole.best.step, whole.best.psnr)
    assert _holdout_rows(tmp_path / "split") == rows
    _assert_same_weights(resumed.generator, whole.generator.state_dict())


def test_a_longer_l1_budget_after_ending_on_the_best_weights_trains_as_if_given_at_the_start(
        photo_dir: Path, bank, tmp_path: Path, monkeypatch) -> None:
    """A 1-epoch L1 stage ends on its starting weights (the best held-out score); resumed with 3 epochs it went on
    from those weights with the optimiser state of the later ones. It now goes on from where it stopped training."""

    def script(psnrs: list[float]) -> None:
        scores = iter(psnrs)
        monkeypatch.setattr(trainer_module, "score_holdout", lambda *args: HoldoutScore(
            l1=0.1, psnr=next(scores), psnr_grey=19.0, colourfulness=5.0, colourfulness_truth=9.0))

    config = tiny_config(photo_dir, pretrain=StageBudget(epochs=3), gan=StageBudget(), holdout=0.25, pretrain_lr=1e-2)
    script([20.0, 19.0, 19.5, 21.0])
    whole = Trainer(config, tmp_path / "whole", torch.device("cpu"), bank=bank)
    whole.run(progress=False)

    script([20.0, 19.0])
    short = Trainer(replace(config, pretrain=StageBudget(epochs=1)), tmp_path / "split", torch.device("cpu"), bank=bank)
    short.run(progress=False)
    assert short.best.step == 0 and short.stage is None  # ended on its starting weights
    del short
    script([19.5, 21.0])
    resumed = resume_trainer(tmp_path / "split", torch.device("cpu"), config, bank=bank)
    resumed.run(progress=False)

    assert (resumed.best.step, resumed.best.psnr) == (whole.best.step, whole.best.psnr) == (3, 21.0)
    _assert_same_weights(resumed.generator, whole.generator.state_dict())
    assert _holdout_rows(tmp_path / "split") == _holdout_rows(tmp_path / "whole")


def test_train_command_checks_holdout_options(photo_dir: Path, tmp_path: Path) -> None:
    base = ["--data", str(photo_dir), "--arch", "tiny-unet", "--no-pretrained", "--crop", str(CROP), "--batch-size", "4",
            "--pretrain-epochs", "1"]
    no_holdout = CliRunner().invoke(train_command, base + ["--out", str(tmp_path / "a"), "--patience", "2"])
    assert no_holdout.exit_code == 2 and "needs --holdout" in no_holdout.output

    run_dir = tmp_path / "b"
    first = CliRunner().invoke(train_command, base + ["--out", str(run_dir), "--holdout", "0.25", "--patience", "3"])
    assert first.exit_code == 0, first.output
    assert "holding out 2 of 8 photos" in (run_dir / "train.log").read_text()
    changed = CliRunner().invoke(train_command, ["--resume", str(run_dir), "--holdout", "0.5"])
    assert changed.exit_code == 2 and "keeps its split" in changed.output
    longer = CliRunner().invoke(train_command, ["--resume", str(run_dir), "--pretrain-epochs", "2", "--holdout", "0.25"])
    assert longer.exit_code == 0, longer.output
    assert [row["step"] for row in _holdout_rows(run_dir)] == ["0", "1", "2"]  # the start, then each 1-step epoch


def test_a_tie_is_no_gain_it_keeps_the_first_weights_and_spends_patience() -> None:
    """Guards against a plateau of equal scores resetting patience forever and swapping in later, equal weights."""
    net = torch.nn.Linear(2, 1)
    best = BestWeights(patience=2)
    assert best.update(22.0, 1, net)
    first = {name: value.clone() for name, value in net.state_dict().items()}
    with torch.no_grad():
        net.weight.add_(1.0)
    assert not best.update(22.0, 2, net)
    assert (best.psnr, best.step, best.stale, best.patience_spent) == (22.0, 1, 1, False)
    assert not best.update(21.0, 3, net)
    assert (best.step, best.stale, best.patience_spent) == (1, 2, True)
    assert all(torch.equal(best.state[name], value) for name, value in first.items())
    assert best.update(22.5, 4, net) and (best.step, best.stale, best.patience_spent) == (4, 0, False)


def test_the_held_out_photos_depend_on_the_seed(bank) -> None:
    """Guards against a split that ignores --seed, so every run holds out the same photos whatever seed it is given."""
    held = {seed: tuple(split_bank(bank, 0.25, seed=seed)[1].sources) for seed in range(10)}
    assert held[3] == tuple(split_bank(bank, 0.25, seed=3)[1].sources)  # the same seed, the same draw
    assert len(set(held.values())) >= 5, held  # 28 possible pairs of the 8 photos
