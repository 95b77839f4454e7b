"""Training: data loading, L1 and GAN stages, exact resume, export. Tiny-unet on tiny synthetic photos."""

from __future__ import annotations

import csv
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors import safe_open
from training_photos import CROP, colour_photo, tiny_config

from training.cli import train_command
from training.config import StageBudget
from training.data import build_bank, collect_images, random_crops, to_model_pair
from training.trainer import Trainer, resume_trainer
from vidcolor.errors import InputError, OutputError, VidcolorWarning, WeightsError
from vidcolor.models import create_generator, load_generator, read_metadata, save_generator


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _l1_column(run_dir: Path) -> list[str]:
    with open(run_dir / "losses.csv", newline="") as handle:
        return [row["l1"] for row in csv.DictReader(handle)]


def test_grey_and_corrupt_files_are_skipped_and_counted(bank) -> None:
    assert len(bank) == 8
    assert bank.images.shape == (8, 40, 40, 3) and bank.images.dtype == torch.uint8
    assert sorted(Path(path).name for path in bank.skipped_grey) == ["grey_mode_l.png", "grey_rgb.jpg"]
    assert [Path(path).name for path in bank.skipped_corrupt] == ["corrupt.jpg"]


def test_random_crops_are_reproducible_and_in_range(bank) -> None:
    first = random_crops(bank.images[:4], CROP, torch.Generator().manual_seed(3))
    again = random_crops(bank.images[:4], CROP, torch.Generator().manual_seed(3))
    other = random_crops(bank.images[:4], CROP, torch.Generator().manual_seed(4))
    assert first.shape == (4, 3, CROP, CROP)
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert 0.0 <= first.min() and first.max() <= 1.0
    l_norm, ab_norm = to_model_pair(first)
    assert -1.0 <= l_norm.min() and l_norm.max() <= 1.0
    assert ab_norm.abs().max() > 0.1  # the photos are colourful


def test_l1_stage_overfits_one_fixed_batch(photo_dir: Path, bank, tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(photo_dir, pretrain_lr=3e-3), tmp_path, torch.device("cpu"), bank=bank)
    l_norm, ab_norm = to_model_pair(random_crops(bank.images[:4], CROP, torch.Generator().manual_seed(0)))
    losses = [trainer.pretrain_step(l_norm, ab_norm)["l1"] for _ in range(30)]
    assert losses[0] > 0.2  # starts near grey: ab ~ 0 against colourful targets
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])


def test_gan_stage_updates_both_nets(photo_dir: Path, bank, tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(photo_dir, pretrain=StageBudget(), gan=StageBudget(epochs=1)), tmp_path,
                      torch.device("cpu"), bank=bank)
    generator_before, discriminator_before = _weights(trainer.generator), _weights(trainer.discriminator)
    trainer.run(progress=False)
    assert trainer.step == 2 and trainer.stage is None
    for before, model in ((generator_before, trainer.generator), (discriminator_before, trainer.discriminator)):
        changed = [name for name, value in model.state_dict().items()
                   if value.is_floating_point() and not torch.equal(value, before[name])]
        assert changed, f"{type(model).__name__} did not change"
    with open(tmp_path / "losses.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["stage"] for row in rows] == ["gan", "gan"]
    assert all(0.0 < float(row["gan_d"]) < 5.0 and 0.0 < float(row["gan_g"]) < 10.0 for row in rows)


def test_resume_continues_exactly_like_an_uninterrupted_run(photo_dir: Path, bank, tmp_path: Path) -> None:
    """Stop inside the second L1 epoch, resume from disk, run on into the GAN stage: same numbers."""
    config = tiny_config(photo_dir)  # 8 photos, batch 4: 2 steps an epoch, 2 + 1 epochs = 6 steps
    whole = Trainer(config, tmp_path / "whole", torch.device("cpu"), bank=bank)
    whole.run(progress=False)

    interrupted = Trainer(config, tmp_path / "split", torch.device("cpu"), bank=bank)
    interrupted.run(max_steps=3, progress=False)
    assert (interrupted.step, interrupted.stage, interrupted.position) == (3, "pretrain", 4)
    del interrupted
    torch.manual_seed(12345)  # a resumed run must not depend on the process's RNG state
    resumed = resume_trainer(tmp_path / "split", torch.device("cpu"), bank=bank)
    assert (resumed.step, resumed.epoch, resumed.position) == (3, 1, 4)
    resumed.run(progress=False)

    assert resumed.step == whole.step == 6
    assert _l1_column(tmp_path / "split") == _l1_column(tmp_path / "whole")
    for name, value in whole.generator.state_dict().items():
        assert torch.equal(value, resumed.generator.state_dict()[name]), name
    for name, value in whole.discriminator.state_dict().items():
        assert torch.equal(value, resumed.discriminator.state_dict()[name]), name
    samples = sorted(path.name for path in (tmp_path / "split" / "samples").iterdir())
    assert samples == ["gan_epoch001.png", "pretrain_epoch001.png", "pretrain_epoch002.png"]
    assert (tmp_path / "split" / "loss_curve.png").stat().st_size > 1000


def test_outputs_every_n_epochs_and_at_the_end_of_each_stage(photo_dir: Path, bank, tmp_path: Path, monkeypatch) -> None:
    """With ``outputs_every=2``, 3 L1 epochs give sheets for epochs 2 and 3 (the stage's end), not 1."""
    config = tiny_config(photo_dir, pretrain=StageBudget(epochs=3), gan=StageBudget(), outputs_every=2)
    trainer = Trainer(config, tmp_path, torch.device("cpu"), bank=bank)
    checkpoints: list[int] = []
    save = trainer.save_checkpoint
    monkeypatch.setattr(trainer, "save_checkpoint", lambda: checkpoints.append(trainer.step) or save())
    trainer.run(progress=False)
    samples = sorted(path.name for path in (tmp_path / "samples").iterdir())
    assert samples == ["pretrain_epoch002.png", "pretrain_epoch003.png"]
    assert checkpoints[0] == 4  # the first checkpoint is after epoch 2 (2 steps an epoch), not epoch 1
    assert resume_trainer(tmp_path, torch.device("cpu"), bank=bank).stage is None


def test_timed_checkpoints_come_between_epochs_that_write_none(photo_dir: Path, bank, tmp_path: Path, monkeypatch) -> None:
    """With ``outputs_every`` above the run's length, ``checkpoint_minutes`` alone decides: here one after every step."""
    config = tiny_config(photo_dir, pretrain=StageBudget(epochs=3), gan=StageBudget(), outputs_every=100,
                         checkpoint_minutes=1e-9)
    trainer = Trainer(config, tmp_path, torch.device("cpu"), bank=bank)
    checkpoints: list[int] = []
    save = trainer.save_checkpoint
    monkeypatch.setattr(trainer, "save_checkpoint", lambda: checkpoints.append(trainer.step) or save())
    trainer.run(progress=False)
    assert checkpoints[:6] == [1, 2, 3, 4, 5, 6]  # then the stage's end and the run's end


def test_a_photo_reached_through_two_folders_is_used_once(photo_dir: Path) -> None:
    paths = collect_images([photo_dir, photo_dir / "street", photo_dir])
    assert len(paths) == len(set(path.resolve() for path in paths)) == 11


def test_photo_counts_per_folder_tell_apart_folders_whose_names_share_a_prefix(tmp_path: Path) -> None:
    folders = [tmp_path / "set", tmp_path / "set2"]
    for count, folder in zip([2, 3], folders):
        folder.mkdir()
        for index in range(count):
            Image.fromarray(colour_photo(index)).save(folder / f"photo{index}.png")
    config = tiny_config(folders[0], data=[str(folder) for folder in folders])
    trainer = Trainer(config, tmp_path / "run", torch.device("cpu"))
    assert trainer.training_info()["data"] == {str(folders[0]): 2, str(folders[1]): 3}


def test_export_then_load_gives_identical_outputs(photo_dir: Path, bank, tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(photo_dir, gan=StageBudget(), fp16=False), tmp_path, torch.device("cpu"), bank=bank)
    trainer.run(max_steps=2, progress=False)
    l_norm, _ = to_model_pair(random_crops(bank.images[:2], CROP, torch.Generator().manual_seed(1)))
    with torch.no_grad():
        expected = trainer.generator.eval()(l_norm)

    trainer.export(tmp_path / "fp32.safetensors")
    model, metadata = load_generator(tmp_path / "fp32.safetensors")
    model.to(memory_format=torch.channels_last)  # the layout the trainer and the Colorizer run in
    with torch.no_grad():
        assert torch.equal(model(l_norm), expected)
    assert metadata["training"]["photos"] == 8
    assert metadata["training"]["skipped_grey"] == 2 and metadata["training"]["skipped_unreadable"] == 1
    assert metadata["training"]["stages"]["pretrain"]["steps"] == 2
    assert metadata["training"]["data"] == {str(photo_dir): 8}

    trainer.config.fp16 = True
    trainer.export(tmp_path / "fp16.safetensors")
    assert read_metadata(tmp_path / "fp16.safetensors")["dtype"] == "float16"
    half, _ = load_generator(tmp_path / "fp16.safetensors")
    with torch.no_grad():
        assert torch.allclose(half(l_norm), expected, atol=2e-3)


def test_train_command_runs_and_exports(photo_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    arguments = ["--data", str(photo_dir), "--out", str(run_dir), "--arch", "tiny-unet", "--no-pretrained",
                 "--crop", str(CROP), "--batch-size", "4", "--pretrain-epochs", "1",
                 "--export", str(tmp_path / "model.safetensors")]
    result = CliRunner().invoke(train_command, arguments)
    assert result.exit_code == 0, result.output
    assert read_metadata(tmp_path / "model.safetensors")["training"]["steps"] == 2
    assert "skipped 2 grey and 1 unreadable" in (run_dir / "train.log").read_text()

    again = CliRunner().invoke(train_command, arguments)
    assert again.exit_code == 2 and "--resume" in again.output  # never overwrite a run by accident

    assert read_metadata(tmp_path / "model.safetensors")["dtype"] == "float16"
    longer = CliRunner().invoke(train_command, ["--resume", str(run_dir), "--pretrain-epochs", "2",
                                                "--export", str(tmp_path / "model.safetensors"), "--fp32"])
    assert longer.exit_code == 0, longer.output
    assert read_metadata(tmp_path / "model.safetensors")["training"]["steps"] == 4
    assert read_metadata(tmp_path / "model.safetensors")["dtype"] == "float32"  # given again on resume: replaces the run's
    assert "resumed" in (run_dir / "train.log").read_text()


def test_train_command_rejects_bad_options_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(train_command, ["--data", str(tmp_path), "--out", str(tmp_path / "r"), "--crop", "100",
                                                "--pretrain-epochs", "1"])
    assert result.exit_code == 2 and "multiple of 32" in result.output


def test_start_from_exported_weights_for_fine_tuning(photo_dir: Path, bank, tmp_path: Path) -> None:
    source = Trainer(tiny_config(photo_dir, seed=1, fp16=False), tmp_path / "source", torch.device("cpu"), bank=bank)
    source.export(tmp_path / "source.safetensors")
    tuned = Trainer(tiny_config(photo_dir, seed=2, init_weights=str(tmp_path / "source.safetensors")), tmp_path / "tuned",
                    torch.device("cpu"), bank=bank)
    assert not all(torch.equal(a, b) for a, b in zip(_weights(tuned.generator).values(), _weights(source.generator).values()))
    tuned.start_from(tmp_path / "source.safetensors")
    for name, value in _weights(source.generator).items():
        assert torch.equal(tuned.generator.state_dict()[name], value), name
    tuned.export(tmp_path / "tuned.safetensors")
    lineage = read_metadata(tmp_path / "tuned.safetensors")["training"]["initialised_from"]
    assert lineage["file"] == "source.safetensors" and lineage["seed"] == 1
    other = Trainer(tiny_config(photo_dir, arch="resnet18-unet"), tmp_path / "other", torch.device("cpu"), bank=bank)
    with pytest.raises(WeightsError, match="not --arch resnet18-unet"):
        other.start_from(tmp_path / "source.safetensors")


def test_pack_writes_colour_squares_and_skips_grey_and_corrupt(photo_dir: Path, tmp_path: Path) -> None:
    from training.pack import pack

    counts = pack(photo_dir, tmp_path / "packed", size=32, quality=95)
    assert counts == {"packed": 8, "grey": 2, "corrupt": 1}
    packed = sorted((tmp_path / "packed").rglob("*.jpg"))
    assert [p.relative_to(tmp_path / "packed").parent.name for p in packed].count("street") == 4
    with Image.open(packed[0]) as image:
        assert image.size == (32, 32) and image.mode == "RGB"
    # every other file in sorted order: nature/grey_mode_l, photo2, photo6, street/grey_rgb, photo3, photo7
    assert pack(photo_dir, tmp_path / "half", size=32, every=2) == {"packed": 4, "grey": 2, "corrupt": 0}
    webp = pack(photo_dir, tmp_path / "webp", size=40, quality=70, suffix=".webp")
    assert webp["packed"] == 8 and len(list((tmp_path / "webp").rglob("*.webp"))) == 8
    assert len(build_bank(collect_images([tmp_path / "webp"]), CROP, progress=False)) == 8


def _tiny_run_arguments(photo_dir: Path, run_dir: Path, *extra: str) -> list[str]:
    return ["--data", str(photo_dir), "--out", str(run_dir), "--arch", "tiny-unet", "--no-pretrained",
            "--crop", str(CROP), "--batch-size", "4", "--pretrain-epochs", "1", *extra]


def test_val_photos_under_data_are_never_trained_on(photo_dir: Path, tmp_path: Path) -> None:
    """--val inside --data: its photos were decoded into the training bank."""
    config = tiny_config(photo_dir, val=str(photo_dir / "street"))
    trainer = Trainer(config, tmp_path / "run", torch.device("cpu"))
    assert len(trainer.bank) == 4
    assert not any("street" in Path(source).parts for source in trainer.bank.sources)
    with pytest.raises(InputError, match="also under --val"):
        Trainer(tiny_config(photo_dir, val=str(photo_dir)), tmp_path / "run2", torch.device("cpu"))


def test_a_new_run_starts_its_logs_afresh(photo_dir: Path, bank, tmp_path: Path) -> None:
    """Rows a run left behind without a checkpoint were mixed into the next run's CSV and plots."""
    (tmp_path / "losses.csv").write_text("stage,epoch,step,stage_seconds,images_per_second,l1,gan_g,gan_d\n"
                                         "pretrain,1,1,9.00,1.00,0.5,,\npretrain,1,2,9.00,1.00,0.5,,\n")
    trainer = Trainer(tiny_config(photo_dir), tmp_path, torch.device("cpu"), bank=bank)
    trainer.run(progress=False)
    with open(tmp_path / "losses.csv", newline="") as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    assert steps == list(range(1, trainer.step + 1))


def test_resume_refuses_options_it_would_ignore_and_takes_a_new_checkpoint_interval(photo_dir: Path,
                                                                                    tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = CliRunner().invoke(train_command, _tiny_run_arguments(photo_dir, run_dir))
    assert first.exit_code == 0, first.output
    for option in (["--gan-lr", "0.5"], ["--batch-size", "2"], ["--data", str(photo_dir)], ["--seed", "7"]):
        refused = CliRunner().invoke(train_command, ["--resume", str(run_dir), "--gan-epochs", "1", *option])
        assert refused.exit_code == 2, (option, refused.output)
        assert option[0] in refused.output and "keeps the settings it started with" in refused.output
    longer = CliRunner().invoke(train_command, ["--resume", str(run_dir), "--pretrain-epochs", "2",
                                                "--checkpoint-minutes", "5"])
    assert longer.exit_code == 0, longer.output
    saved = torch.load(run_dir / "checkpoint.pt", weights_only=False)["config"]
    assert saved["checkpoint_minutes"] == 5 and Path(saved["data"][0]).is_absolute()


def test_relative_data_folder_is_stored_absolute(photo_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(photo_dir.parent)
    result = CliRunner().invoke(train_command, _tiny_run_arguments(Path(photo_dir.name), tmp_path / "run"))
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path)
    resumed = CliRunner().invoke(train_command, ["--resume", "run", "--pretrain-epochs", "2"])
    assert resumed.exit_code == 0, resumed.output


def test_export_to_a_new_folder_and_unwritable_exports_fail_before_training(photo_dir: Path, tmp_path: Path) -> None:
    export = tmp_path / "models" / "new" / "model.safetensors"
    result = CliRunner().invoke(train_command, _tiny_run_arguments(photo_dir, tmp_path / "run", "--export", str(export)))
    assert result.exit_code == 0, result.output
    assert read_metadata(export)["architecture"] == "tiny-unet"
    (tmp_path / "a_file").write_text("x")
    refused = CliRunner().invoke(train_command, _tiny_run_arguments(
        photo_dir, tmp_path / "run2", "--export", str(tmp_path / "a_file" / "model.safetensors")))
    assert refused.exit_code == 2 and "--export" in refused.output
    assert not (tmp_path / "run2").exists()


def test_ctrl_c_before_the_first_checkpoint_does_not_promise_a_resume(photo_dir: Path, tmp_path: Path,
                                                                      monkeypatch) -> None:
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "run", interrupted)
    result = CliRunner().invoke(train_command, _tiny_run_arguments(photo_dir, tmp_path / "run"))
    assert result.exit_code == 130
    assert "nothing to resume" in result.output and "--resume" not in result.output
    assert not (tmp_path / "run").exists()  # it held only train.log


def test_a_failed_run_removes_the_folder_it_made_or_logs_why_it_stopped(photo_dir: Path, tmp_path: Path) -> None:
    """A grey-only folder left a run folder holding only train.log, which never said why the run stopped."""
    grey = tmp_path / "grey"
    grey.mkdir()
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(grey / "g.png")
    failed = CliRunner().invoke(train_command, _tiny_run_arguments(grey, tmp_path / "new_run"))
    assert failed.exit_code == 1 and not (tmp_path / "new_run").exists()

    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    again = CliRunner().invoke(train_command, _tiny_run_arguments(grey, kept))
    assert again.exit_code == 1 and (kept / "notes.txt").read_text() == "mine"
    error = next(line for line in again.output.splitlines() if line.startswith("Error: "))
    assert (kept / "train.log").read_text().splitlines()[-1].endswith(
        f"ERROR the run stopped: {error.removeprefix('Error: ')}")


def test_exported_epochs_count_whole_epochs_when_the_batch_leaves_a_remainder(photo_dir: Path, bank, tmp_path: Path) -> None:
    """8 photos in batches of 3: an epoch is 2 steps (the remainder waits for the next shuffle), so 2 epochs are
    2.0 epochs, not 4 x 3 / 8 = 1.5."""
    trainer = Trainer(tiny_config(photo_dir, batch_size=3, gan=StageBudget()), tmp_path, torch.device("cpu"), bank=bank)
    trainer.run(progress=False)
    assert trainer.stage_steps["pretrain"] == 4
    trainer.export(tmp_path / "model.safetensors")
    assert read_metadata(tmp_path / "model.safetensors")["training"]["stages"]["pretrain"]["epochs"] == 2.0


def test_pack_keeps_photos_whose_names_differ_only_in_suffix(tmp_path: Path) -> None:
    from training.pack import pack

    source = tmp_path / "source"
    source.mkdir()
    Image.fromarray(colour_photo(1)).save(source / "x.jpg")
    Image.fromarray(colour_photo(2)).save(source / "x.png")
    assert pack(source, tmp_path / "packed", size=32)["packed"] == 2
    assert sorted(path.name for path in (tmp_path / "packed").iterdir()) == ["x.jpg", "x.png.jpg"]


def test_val_sample_sheet_decodes_only_the_photos_it_shows(photo_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """The sample sheet's --val photos: evenly spread, the corrupt first pick replaced by the next readable
    photo, and no more decoded than needed (the whole --val folder was decoded to pick six)."""
    from training import samples as samples_module

    decoded = []
    real = samples_module.load_or_reason
    monkeypatch.setattr(samples_module, "load_or_reason", lambda path, side: decoded.append(path) or real(path, side))
    images = samples_module.preview_photos(photo_dir / "street", 2, CROP)
    assert images.shape[0] == 2 and images.dtype == torch.uint8
    assert [path.name for path in decoded] == ["corrupt.jpg", "photo7.png", "grey_rgb.jpg", "photo1.png"]


def test_train_and_evaluate_errors_a_user_can_fix_are_one_line_and_bugs_keep_their_type(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    """A folder without photos is the user's to fix: a plain message. An internal ValueError used to be
    shown the same way, without its type and even under VIDCOLOR_DEBUG=1."""
    import training.evaluate
    from training.cli import evaluate_command

    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(train_command, ["--data", str(empty), "--out", str(tmp_path / "run"),
                                                "--arch", "tiny-unet", "--no-pretrained", "--pretrain-epochs", "1"])
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1] == f"Error: no photos found under {empty}"

    def broken(*_args, **_kwargs):
        raise ValueError("shapes (3,) and (4,) not aligned")

    monkeypatch.setattr(training.evaluate, "evaluate", broken)
    bug = CliRunner().invoke(evaluate_command, ["--data", str(empty), "--device", "cpu"])
    assert bug.exit_code == 1
    assert "Error: ValueError: shapes (3,) and (4,) not aligned (set VIDCOLOR_DEBUG=1 for details)" in bug.output
    monkeypatch.setenv("VIDCOLOR_DEBUG", "1")
    debug = CliRunner().invoke(evaluate_command, ["--data", str(empty), "--device", "cpu"])
    assert isinstance(debug.exception, ValueError)


def test_pack_refuses_a_zero_step_in_one_line(photo_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    from training import pack

    monkeypatch.setattr("sys.argv", ["pack", "--data", str(photo_dir), "--out", str(tmp_path / "p"), "--every", "0"])
    with pytest.raises(SystemExit) as exit_info:
        pack.main()
    assert exit_info.value.code == 2
    assert "argument --every: must be at least 1, not 0" in capsys.readouterr().err


def test_pack_never_writes_into_its_own_photos(photo_dir: Path) -> None:
    """--out equal to --data replaced every photo by its packed crop."""
    from training.pack import pack

    before = {path: path.read_bytes() for path in photo_dir.rglob("*") if path.is_file()}
    for target in (photo_dir, photo_dir / "packed", photo_dir.parent):
        with pytest.raises(OutputError, match="overlaps --data"):
            pack(photo_dir, target, size=32)
    assert {path: path.read_bytes() for path in photo_dir.rglob("*") if path.is_file()} == before


@pytest.mark.parametrize("fp16, dtype", [(True, torch.float16), (False, torch.float32)])
def test_snapshots_are_exported_at_the_runs_precision(photo_dir: Path, bank, tmp_path: Path, fp16: bool,
                                                      dtype: torch.dtype) -> None:
    config = tiny_config(photo_dir, pretrain=StageBudget(epochs=1), gan=StageBudget(), snapshots=True, fp16=fp16)
    Trainer(config, tmp_path, torch.device("cpu"), bank=bank).run(progress=False)
    with safe_open(tmp_path / "snapshots" / "pretrain_epoch001.safetensors", framework="pt") as weights:
        dtypes = {weights.get_tensor(name).dtype for name in weights.keys()} - {torch.int64}
    assert dtypes == {dtype}


def _damage(checkpoint: Path, how: str) -> None:
    if how == "truncated":
        checkpoint.write_bytes(checkpoint.read_bytes()[:5000])
    elif how == "text":
        checkpoint.write_text("garbage\n")
    else:
        state = torch.load(checkpoint, weights_only=False)
        if how == "no-rng":
            del state["rng"]
        else:  # another generator's tensors
            state["generator"] = {name: torch.zeros(3, 1) for name in state["generator"]}
        torch.save(state, checkpoint)


@pytest.mark.parametrize("how, fragment", [
    ("truncated", "is damaged or not a vidcolor training checkpoint"),
    ("text", "is damaged or not a vidcolor training checkpoint"),
    ("no-rng", "is not a vidcolor training checkpoint (it lacks rng)"),
    ("other-shapes", "does not fit this run"),
])
def test_a_damaged_checkpoint_is_one_line_on_resume(photo_dir: Path, tmp_path: Path, how: str, fragment: str) -> None:
    """Were 'OSError: [Errno 22]', 'ValueError: invalid literal', 'KeyError: rng' or 16 lines of size mismatches."""
    run_dir = tmp_path / "run"
    start = CliRunner().invoke(train_command, ["--data", str(photo_dir), "--out", str(run_dir), "--arch", "tiny-unet",
                                               "--no-pretrained", "--crop", str(CROP), "--batch-size", "4",
                                               "--pretrain-epochs", "1"])
    assert start.exit_code == 0, start.output
    _damage(run_dir / "checkpoint.pt", how)
    result = CliRunner().invoke(train_command, ["--resume", str(run_dir), "--pretrain-epochs", "2"])
    assert result.exit_code in (1, 2)
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and fragment in errors[0], result.output
    assert "Traceback" not in result.output and "VIDCOLOR_DEBUG" not in result.output


def test_coco_without_internet_is_one_line(tmp_path: Path, monkeypatch) -> None:
    from urllib.error import URLError

    def offline(*_args, **_kwargs):
        raise URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr("fastai.data.external.untar_data", offline)
    result = CliRunner().invoke(train_command, ["--data", "coco", "--out", str(tmp_path / "run"), "--arch", "tiny-unet",
                                                "--pretrain-epochs", "1"])
    assert result.exit_code == 1
    assert "Error: cannot download fastai's COCO sample ([Errno -2] Name or service not known)" in result.output
    assert "URLError" not in result.output


def test_pack_of_a_folder_without_colour_photos_is_an_error(photo_dir: Path, tmp_path: Path) -> None:
    """It printed '0 packed, ...' and exited 0."""
    from training.pack import pack

    grey = tmp_path / "grey"
    grey.mkdir()
    Image.fromarray(np.full((40, 40), 90, np.uint8)).save(grey / "a.png")
    (grey / "b.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match=r"no colour photos under .*grey \(1 grey, 1 unreadable\)"):
        pack(grey, tmp_path / "packed", size=32)


def test_exports_that_would_overwrite_the_start_or_cannot_be_written_are_refused_first(
        photo_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """`--export` onto its own `--init-weights` destroyed the starting model; a read-only export folder
    failed only after the whole training."""
    start = tmp_path / "start.safetensors"
    save_generator(create_generator("tiny-unet"), start, "tiny-unet", input_size=CROP)
    before = start.read_bytes()
    same = CliRunner().invoke(train_command, _tiny_run_arguments(
        photo_dir, tmp_path / "run", "--init-weights", str(start), "--export", str(start)))
    assert same.exit_code == 2 and "is the run's --init-weights" in same.output
    assert start.read_bytes() == before and not (tmp_path / "run").exists()

    read_only = tmp_path / "read_only"
    read_only.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: real_access(path, mode)
                        and not (Path(path) == read_only and mode & os.W_OK))
    locked = CliRunner().invoke(train_command, _tiny_run_arguments(
        photo_dir, tmp_path / "run2", "--export", str(read_only / "model.safetensors")))
    assert locked.exit_code == 2 and "cannot write into" in locked.output
    assert not (tmp_path / "run2").exists()


def test_a_run_folder_inside_its_data_is_refused(photo_dir: Path, tmp_path: Path) -> None:
    """The run's sample sheets and loss curve became training photos; the resume then failed on the count."""
    data = tmp_path / "photos"
    shutil.copytree(photo_dir, data)
    result = CliRunner().invoke(train_command, _tiny_run_arguments(data, data / "run"))
    assert result.exit_code == 2 and "is inside --data" in result.output
    assert not (data / "run").exists()


def test_a_run_folder_inside_its_val_folder_is_refused(photo_dir: Path, tmp_path: Path) -> None:
    """The run's sample sheets became val photos: shown on the next sheets and scored by evaluate."""
    val = tmp_path / "val"
    shutil.copytree(photo_dir, val)
    result = CliRunner().invoke(train_command, _tiny_run_arguments(photo_dir, val / "run", "--val", str(val)))
    assert result.exit_code == 2 and f"is inside --val {val.resolve()}" in result.output
    assert not (val / "run").exists()


def test_pack_refuses_a_folder_that_already_holds_files(photo_dir: Path, tmp_path: Path) -> None:
    """A second pack into the same folder mixed two sets of photos without a word."""
    from training.pack import pack

    pack(photo_dir, tmp_path / "packed", size=32)
    before = sorted((tmp_path / "packed").rglob("*"))
    with pytest.raises(OutputError, match="is not empty"):
        pack(photo_dir / "street", tmp_path / "packed", size=32)
    assert sorted((tmp_path / "packed").rglob("*")) == before


def test_training_photos_are_turned_upright_by_their_exif_orientation(tmp_path: Path) -> None:
    """A phone photo stored sideways (orientation 6) was trained on sideways."""
    from training.data import load_square

    pixels = np.zeros((40, 60, 3), np.uint8)  # stored 60 wide, 40 high: red left half, blue right half
    pixels[:, :30, 0], pixels[:, 30:, 2] = 200, 200
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show
    Image.fromarray(pixels).save(tmp_path / "sideways.jpg", exif=exif, quality=95)
    square = load_square(tmp_path / "sideways.jpg", 40).astype(int)
    assert square[:10, :, 0].mean() > 150 and square[-10:, :, 2].mean() > 150  # red on top, blue below


@pytest.mark.parametrize("mode", ["RGBA", "P"])
def test_transparent_parts_of_training_photos_are_laid_over_grey(tmp_path: Path, mode: str) -> None:
    """A cut-out photo's transparent pixels (stored black here) were trained on as black."""
    from training.data import load_square

    pixels = np.zeros((40, 40, 4), np.uint8)
    pixels[:, :20] = (200, 40, 40, 255)  # opaque red left half, transparent black right half
    image = Image.fromarray(pixels, "RGBA")
    if mode == "P":
        image = image.convert("RGB").quantize(2)
        image.info["transparency"] = image.getpixel((30, 5))  # the black entry is transparent
    image.save(tmp_path / "cutout.png")
    square = load_square(tmp_path / "cutout.png", 40).astype(int)
    assert np.abs(square[:, 24:] - 128).max() <= 1  # neutral grey where the photo is transparent
    assert (np.abs(square[:, :16] - (200, 40, 40)) <= 2).all()


def test_a_checkpoint_or_export_cut_by_ctrl_c_leaves_no_temporary_file(tmp_path: Path, monkeypatch) -> None:
    import vidcolor.models.checkpoint as checkpoint

    def interrupted(tensors, metadata=None):  # the working file is there already, made and locked
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_generator(create_generator("tiny-unet"), tmp_path / "model.safetensors", "tiny-unet")
    assert list(tmp_path.iterdir()) == []


def test_a_resume_on_other_photos_of_the_same_count_is_refused(photo_dir: Path, tmp_path: Path) -> None:
    """One photo swapped for another: the count matched, so the run resumed with its hold-out split moved onto
    photos it had trained on."""
    data = tmp_path / "photos"
    shutil.copytree(photo_dir, data)
    trainer = Trainer(tiny_config(data, holdout=0.25), tmp_path / "run", torch.device("cpu"))
    trainer.run(max_steps=1, progress=False)
    swapped = next(path for path in sorted(data.rglob("*.png")) if "grey" not in path.name)
    swapped.rename(swapped.with_name("zz_" + swapped.name))
    with pytest.raises(InputError, match="changed since the run started"):
        resume_trainer(tmp_path / "run", torch.device("cpu"))


def test_a_resume_on_more_photos_says_how_to_go_on(photo_dir: Path, tmp_path: Path) -> None:
    """'the checkpoint was trained on N photos but the data now has M' left the user to guess what to do."""
    data = tmp_path / "photos"
    shutil.copytree(photo_dir, data)
    trainer = Trainer(tiny_config(data), tmp_path / "run", torch.device("cpu"))
    trainer.run(max_steps=1, progress=False)
    added = next(path for path in sorted(data.rglob("*.png")) if "grey" not in path.name)
    shutil.copy(added, added.with_name("copy_" + added.name))
    with pytest.raises(InputError, match=f"trained on {len(trainer.bank)} photos but the data now has "
                                         f"{len(trainer.bank) + 1}; put the folders back .* new run \\(--init-weights\\)$"):
        resume_trainer(tmp_path / "run", torch.device("cpu"))


def test_photos_in_symlinked_folders_are_found_once_without_looping(photo_dir: Path, tmp_path: Path) -> None:
    """Python's rglob does not follow folder links: training, evaluate, pack and calibrate saw none of them."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "linked").symlink_to(photo_dir / "street", target_is_directory=True)
    (data / "linked_again").symlink_to(photo_dir / "street", target_is_directory=True)
    (data / "up").symlink_to(data, target_is_directory=True)
    found = collect_images([data])
    assert len(found) == len(collect_images([photo_dir / "street"])) > 0
    assert all(path.parts[len(data.parts)] in ("linked", "linked_again") for path in found)


def test_a_run_without_hold_out_resumes_after_a_rename_and_a_failed_run_keeps_its_snapshots(
        photo_dir: Path, tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "photos"
    shutil.copytree(photo_dir, data)
    trainer = Trainer(tiny_config(data), tmp_path / "run", torch.device("cpu"))
    trainer.run(max_steps=1, progress=False)
    renamed = next(path for path in sorted(data.rglob("*.png")) if "grey" not in path.name)
    renamed.rename(renamed.with_name("zz_" + renamed.name))
    assert resume_trainer(tmp_path / "run", torch.device("cpu")).step == 1  # no split to move

    def no_checkpoint(self):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Trainer, "save_checkpoint", no_checkpoint)
    result = CliRunner().invoke(train_command, _tiny_run_arguments(photo_dir, tmp_path / "snap_run", "--snapshots"))
    assert result.exit_code == 1
    assert list((tmp_path / "snap_run" / "snapshots").glob("*.safetensors"))  # results are never deleted


@pytest.mark.parametrize("cut_row", ["pretr", "pretrain,1,"])
def test_a_loss_row_cut_short_by_a_full_disk_does_not_block_the_resume(photo_dir: Path, bank, tmp_path: Path,
                                                                       cut_row: str) -> None:
    """The run that filled the disk left half a row in losses.csv; the resume then said the checkpoint did not
    fit the run and to start a new one."""
    Trainer(tiny_config(photo_dir), tmp_path, torch.device("cpu"), bank=bank).run(max_steps=2, progress=False)
    with open(tmp_path / "losses.csv", "a", newline="") as handle:
        handle.write(cut_row)
    resumed = resume_trainer(tmp_path, torch.device("cpu"), bank=bank)
    resumed.run(progress=False)
    with open(tmp_path / "losses.csv", newline="") as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    assert steps == list(range(1, resumed.step + 1))


def test_a_diverged_run_stops_with_one_line_instead_of_exporting_broken_weights(photo_dir: Path, tmp_path: Path) -> None:
    """At a learning rate far too high the losses turned NaN; the run trained on to the end, exited 0 and
    exported weights that vidcolor then refused to load."""
    export = tmp_path / "model.safetensors"
    result = CliRunner().invoke(train_command, _tiny_run_arguments(
        photo_dir, tmp_path / "run", "--gan-epochs", "3", "--gan-lr", "1e6", "--export", str(export)))
    assert result.exit_code == 1, result.output
    error = result.output.strip().splitlines()[-1]  # on a line of its own, not after the progress bar
    assert error.startswith("Error: training diverged at step ") and "lower --gan-lr" in error
    assert not export.exists()
    with open(tmp_path / "run" / "losses.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[-1]["stage"] == "gan" and all(np.isfinite(float(row["l1"])) for row in rows)
    assert (tmp_path / "run" / "train.log").read_text().splitlines()[-1].endswith(error.removeprefix("Error: "))


def test_bad_init_weights_and_a_val_folder_without_colour_photos_are_refused_before_decoding(
        photo_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """A wrong --init-weights or an unusable --val was refused only after every training photo was decoded
    (a minute or more on a real data set)."""
    from training import trainer as trainer_module

    def no_decoding(*_args, **_kwargs):
        raise AssertionError("the training photos were decoded")

    monkeypatch.setattr(trainer_module, "build_bank", no_decoding)
    tiny = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), tiny, "tiny-unet", input_size=CROP)
    not_weights = tmp_path / "photo.safetensors"
    Image.fromarray(colour_photo(0)).save(not_weights, format="PNG")
    for weights, arch, fragment in ((tiny, "lite0-unet", "holds tiny-unet, not --arch lite0-unet"),
                                    (not_weights, "tiny-unet", "not a readable safetensors weights file")):
        result = CliRunner().invoke(train_command, _tiny_run_arguments(
            photo_dir, tmp_path / "run", "--init-weights", str(weights), "--arch", arch))
        assert result.exit_code == 2 and "--init-weights" in result.output and fragment in result.output, result.output

    grey_val = tmp_path / "grey_val"
    grey_val.mkdir()
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(grey_val / "grey.png")
    empty_val = tmp_path / "empty_val"
    empty_val.mkdir()
    for val in (grey_val, empty_val):
        result = CliRunner().invoke(train_command, _tiny_run_arguments(photo_dir, tmp_path / "run", "--val", str(val)))
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines()[-1] == f"Error: no readable colour photo under --val {val}"
    assert not (tmp_path / "run").exists()


def test_a_photo_given_as_the_data_folder_is_named_as_a_file(photo_dir: Path, tmp_path: Path) -> None:
    """python -m training.pack / calibrate said 'data folder not found' for a photo that is there."""
    photo = next(photo_dir.rglob("photo0.png"))
    with pytest.raises(InputError, match=r"photo0.png is a file, not a folder of photos"):
        collect_images([photo])


def test_a_checkpoint_written_on_a_machine_with_more_gpus_resumes(photo_dir: Path, bank, tmp_path: Path,
                                                                   monkeypatch) -> None:
    """A checkpoint kept the RNG state of every GPU of the machine that wrote it and gave them back by number:
    written on an 8-GPU machine, it failed to resume on a 1-GPU one ('IndexError: tuple index out of range')."""
    Trainer(tiny_config(photo_dir), tmp_path, torch.device("cpu"), bank=bank).run(max_steps=3, progress=False)
    checkpoint = tmp_path / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=False)
    state["rng"]["cuda"] = [torch.zeros(16, dtype=torch.uint8) for _ in range(8)]  # as an 8-GPU machine wrote it
    torch.save(state, checkpoint)

    def one_gpu(new_state: torch.Tensor, device: int | str | torch.device = "cuda") -> None:
        index = device if isinstance(device, int) else torch.device(device).index
        if index:  # no GPU but cuda:0 here: torch.cuda.default_generators[index] fails
            raise IndexError("tuple index out of range")

    with monkeypatch.context() as machine:  # only while the checkpoint is read: the steps run on the real CPU
        machine.setattr(torch.cuda, "is_available", lambda: True)
        machine.setattr(torch.cuda, "set_rng_state", one_gpu)
        machine.setattr(torch.cuda.random, "set_rng_state", one_gpu)
        resumed = resume_trainer(tmp_path, torch.device("cpu"), bank=bank)
    resumed.run(progress=False)
    assert resumed.stage is None and resumed.step == 6


def test_a_gpu_checkpoint_resumes_on_a_machine_with_fewer_gpus(monkeypatch) -> None:
    """A checkpoint kept the RNG state of every GPU of the machine that wrote it and gave them back by number:
    written on an 8-GPU machine, it failed to resume on a 1-GPU one ('IndexError: tuple index out of range')."""
    from training.run_checkpoint import restore_cuda_rng

    restored: list[tuple[int, torch.device]] = []
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device: restored.append((int(state[0]), device)))
    restore_cuda_rng([torch.full((8,), gpu, dtype=torch.uint8) for gpu in range(8)], torch.device("cuda", 0))
    assert restored == []  # an older checkpoint's per-GPU list: which GPU trained is unknown, and no step draws on it
    restore_cuda_rng(torch.full((8,), 5, dtype=torch.uint8), torch.device("cuda", 0))
    restore_cuda_rng(torch.full((8,), 6, dtype=torch.uint8), torch.device("cpu"))
    assert restored == [(5, torch.device("cuda", 0))]


def test_the_gan_losses_are_pix2pix_ones() -> None:
    """D: half the BCE of real pairs called real and fakes called fake; G: BCE of its fakes called real."""
    from training.losses import discriminator_loss, generator_adversarial_loss

    sure, unsure = torch.full((2, 1, 3, 3), 20.0), torch.zeros(2, 1, 3, 3)
    assert discriminator_loss(unsure, unsure).item() == pytest.approx(np.log(2), rel=1e-6)  # halved: not 2 log 2
    assert discriminator_loss(sure, -sure).item() < 1e-6 < 19 < discriminator_loss(-sure, sure).item()
    assert generator_adversarial_loss(sure).item() < 1e-6 < 19 < generator_adversarial_loss(-sure).item()


def test_a_gan_step_trains_d_on_detached_fakes_then_g_through_the_updated_d(photo_dir: Path, bank,
                                                                              tmp_path: Path) -> None:
    """The gradients a GAN step leaves are those of pix2pix: D's from its own loss alone, G's from fooling the
    discriminator as it is after its step, plus 100 x L1."""
    import copy

    import torch.nn.functional as F

    trainer = Trainer(tiny_config(photo_dir), tmp_path, torch.device("cpu"), bank=bank)
    l_norm, ab_norm = to_model_pair(random_crops(bank.images[:4], CROP, torch.Generator().manual_seed(0)))
    generator, discriminator = copy.deepcopy(trainer.generator).train(), copy.deepcopy(trainer.discriminator).train()
    trainer.gan_step(l_norm, ab_norm)

    fake = generator(l_norm)
    real_logits = discriminator(torch.cat([l_norm, ab_norm], 1))
    fake_logits = discriminator(torch.cat([l_norm, fake.detach()], 1))
    (0.5 * (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))).backward()
    stepped = copy.deepcopy(trainer.discriminator).train().requires_grad_(False)
    fooled = stepped(torch.cat([l_norm, fake], 1))
    (F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled)) + 100 * (fake - ab_norm).abs().mean()).backward()

    for expected, trained in ((discriminator, trainer.discriminator), (generator, trainer.generator)):
        for (name, want), got in zip(expected.named_parameters(), trained.parameters()):
            assert torch.allclose(got.grad, want.grad, rtol=1e-4, atol=1e-7), name
    assert all(parameter.requires_grad for parameter in trainer.discriminator.parameters())


def test_a_resume_inside_the_gan_stage_restores_the_discriminator_and_both_gan_optimisers(
        photo_dir: Path, bank, tmp_path: Path) -> None:
    config = tiny_config(photo_dir, pretrain=StageBudget(epochs=1), gan=StageBudget(epochs=2))  # 2 + 4 steps
    whole = Trainer(config, tmp_path / "whole", torch.device("cpu"), bank=bank)
    whole.run(progress=False)
    interrupted = Trainer(config, tmp_path / "split", torch.device("cpu"), bank=bank)
    interrupted.run(max_steps=3, progress=False)  # one GAN step in, inside its first epoch
    assert (interrupted.stage, interrupted.position) == ("gan", 4)
    resumed = resume_trainer(tmp_path / "split", torch.device("cpu"), bank=bank)
    resumed.run(progress=False)

    assert resumed.step == whole.step == 6
    for name in ("discriminator", "generator"):
        for key, value in getattr(whole, name).state_dict().items():
            assert torch.equal(value, getattr(resumed, name).state_dict()[key]), (name, key)
    for name in ("gan_d_optimizer", "gan_g_optimizer"):
        expected, got = getattr(whole, name).state_dict()["state"], getattr(resumed, name).state_dict()["state"]
        assert expected.keys() == got.keys() and all(
            torch.equal(expected[key][moment], got[key][moment]) for key in expected for moment in ("exp_avg", "exp_avg_sq"))


@pytest.mark.parametrize("arch", ["lite0-unet", "resnet18-unet"])
def test_one_32_px_crop_a_step_is_refused_in_one_line(photo_dir: Path, tmp_path: Path, arch: str) -> None:
    """It failed at the first step with 'ValueError: Expected more than 1 value per channel when training'."""
    result = CliRunner().invoke(train_command, ["--data", str(photo_dir), "--out", str(tmp_path / "run"), "--arch", arch,
                                                "--no-pretrained", "--crop", "32", "--batch-size", "1",
                                                "--pretrain-epochs", "1"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error:") and "--batch-size 2" in lines[-1], result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("arch", "pretrained", "init_weights", "recorded"), [
    ("lite0-unet", True, False, True),
    ("lite0-unet", False, False, False),
    ("lite0-unet", True, True, False),  # the ImageNet weights are replaced by the exported model's
    ("resnet18-unet", True, False, False),  # torchvision's ImageNet file is not cached (never downloaded)
    ("tiny-unet", True, False, False),  # has no ImageNet encoder
])
def test_the_training_record_says_imagenet_encoder_only_where_the_run_started_from_one(
        photo_dir: Path, bank, tmp_path: Path, monkeypatch, arch: str, pretrained: bool, init_weights: bool,
        recorded: bool) -> None:
    monkeypatch.setattr("vidcolor.models.generators._cached_resnet18_weights", lambda: None)
    source = tmp_path / "source.safetensors"
    if init_weights:
        save_generator(create_generator(arch), source, architecture=arch)
    config = tiny_config(photo_dir, arch=arch, pretrained=pretrained, init_weights=str(source) if init_weights else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VidcolorWarning)  # resnet18's "not cached" warning
        trainer = Trainer(config, tmp_path / "run", torch.device("cpu"), bank=bank)
    assert trainer.training_info()["pretrained_encoder"] is recorded
