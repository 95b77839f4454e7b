"""Training precision: bf16 on GPUs that compute in it, fp16 with a gradient scaler on older GPUs, float32 on the CPU.

There is no GPU here: the fp16 path runs on the CPU (torch has fp16 autocast and a gradient scaler there) by
giving the trainer the precision a T4 gets. fp16 GAN steps are slow on the CPU (seconds each), so the tests take
few of them."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
from training_photos import CROP, tiny_config

from training import trainer as trainer_module
from training.config import StageBudget
from training.data import random_crops, to_model_pair
from training.steps import Precision, TrainingDiverged, check_finite, device_precision, divergence_message, training_precision
from training.trainer import Trainer, resume_trainer

FP16 = Precision("cpu", torch.float16, scaled=True)  # what a GPU before Ampere gets, on the CPU


@pytest.fixture
def fp16_training(monkeypatch) -> None:
    """Trainers made while it is in use train as on a T4: fp16 autocast with a gradient scaler."""
    monkeypatch.setattr(trainer_module, "device_precision", lambda device: FP16)


def _parameters(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.named_parameters()}


def _fixed_batch(bank) -> tuple[torch.Tensor, torch.Tensor]:
    return to_model_pair(random_crops(bank.images[:4], CROP, torch.Generator().manual_seed(0)))


def test_the_precision_is_bf16_on_ampere_fp16_with_a_scaler_before_it_and_fp32_on_the_cpu() -> None:
    assert training_precision("cuda", bf16_supported=True) == Precision("cuda", torch.bfloat16, scaled=False)
    assert training_precision("cuda", bf16_supported=False) == Precision("cuda", torch.float16, scaled=True)
    for bf16_supported in (True, False):
        assert training_precision("cpu", bf16_supported) == Precision("cpu", None, scaled=False)
    assert [precision.name for precision in (Precision("cuda", torch.bfloat16), FP16, Precision("cpu"))] == [
        "bf16", "fp16", "fp32"]


@pytest.mark.parametrize(("capability", "name"), [((7, 5), "fp16"), ((7, 0), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16")])
def test_a_gpu_before_ampere_trains_in_fp16_although_torch_says_it_supports_bf16(monkeypatch, capability, name) -> None:
    """Training ran bf16 autocast on every CUDA GPU: on a T4 or V100 bf16 is only emulated (slow, or failing), and
    ``torch.cuda.is_bf16_supported()`` says True there all the same, so the GPU's compute capability decides."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    precision = device_precision(torch.device("cuda", 0))
    assert (precision.name, precision.scaled) == (name, name == "fp16")
    assert device_precision(torch.device("cpu")) == Precision("cpu")


def test_the_cpu_trains_in_float32_without_a_scaler(photo_dir: Path, bank, tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(photo_dir), tmp_path, torch.device("cpu"), bank=bank)
    assert trainer.precision == Precision("cpu") and not any(scaler.is_enabled() for scaler in trainer.scalers.values())
    trainer.run(max_steps=1, progress=False)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["scalers"] == {"generator": {}, "discriminator": {}}


def test_fp16_steps_through_the_scaler_lower_the_loss_as_float32_ones_do(photo_dir: Path, bank, tmp_path: Path,
                                                                         monkeypatch) -> None:
    l_norm, ab_norm = _fixed_batch(bank)
    falls = {}
    for name in ("fp32", "fp16"):
        with monkeypatch.context() as patch:
            if name == "fp16":
                patch.setattr(trainer_module, "device_precision", lambda device: FP16)
            trainer = Trainer(tiny_config(photo_dir, pretrain_lr=3e-3), tmp_path / name, torch.device("cpu"), bank=bank)
        assert trainer.scalers["generator"].is_enabled() == (name == "fp16")
        losses = [trainer.pretrain_step(l_norm, ab_norm)["l1"] for _ in range(12)]
        falls[name] = losses[-1] / losses[0]
    assert trainer.scalers["generator"].get_scale() >= 1.0  # no step overflowed its way down to nothing
    assert falls["fp32"] < 0.8 and falls["fp16"] < 0.8, falls
    assert falls["fp16"] == pytest.approx(falls["fp32"], abs=0.1), falls


def test_fp16_gan_steps_go_through_a_scaler_per_net(photo_dir: Path, bank, tmp_path: Path, fp16_training) -> None:
    """A GAN step in fp16 trains both nets, each through its own gradient scaler; the exported weights say how they
    were trained, and the checkpoint holds both scales."""
    trainer = Trainer(tiny_config(photo_dir, pretrain=StageBudget(), gan=StageBudget(epochs=1)), tmp_path,
                      torch.device("cpu"), bank=bank)
    # the generator's 100 x L1 gradients overflow fp16 at the starting scale (2^16) for the first steps; start it
    # where they fit, so that one step shows both nets trained
    trainer.scalers["generator"] = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    generator, discriminator = _parameters(trainer.generator), _parameters(trainer.discriminator)
    trainer.run(max_steps=1, progress=False)
    for before, model in ((generator, trainer.generator), (discriminator, trainer.discriminator)):
        assert any(not torch.equal(value, before[name]) for name, value in model.named_parameters()), type(model).__name__
    scales = {net: scaler.get_scale() for net, scaler in trainer.scalers.items()}
    assert scales == {"generator": 2.0**8, "discriminator": 2.0**16}
    assert trainer.training_info()["precision"] == "fp16"
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["scalers"]
    assert {net: state["scale"] for net, state in saved.items()} == scales


def test_a_step_whose_fp16_gradients_overflow_is_skipped_for_both_nets_not_reported_as_divergence(
        photo_dir: Path, bank, tmp_path: Path, fp16_training) -> None:
    """With fp16 the scaler skips a step whose gradients overflowed and lowers the scale: that is no divergence,
    and neither net (nor its optimiser) may take such a step."""
    trainer = Trainer(tiny_config(photo_dir, pretrain=StageBudget(), gan=StageBudget(epochs=1)), tmp_path,
                      torch.device("cpu"), bank=bank)
    for net in trainer.scalers:  # every fp16 gradient overflows at this scale
        trainer.scalers[net] = torch.amp.GradScaler("cpu", init_scale=2.0**40)
    generator, discriminator = _parameters(trainer.generator), _parameters(trainer.discriminator)
    trainer.run(max_steps=1, progress=False)
    assert trainer.step == 1
    for before, model in ((generator, trainer.generator), (discriminator, trainer.discriminator)):
        for name, value in model.named_parameters():
            assert torch.equal(value, before[name]), (type(model).__name__, name)
    assert not trainer.gan_d_optimizer.state and not trainer.gan_g_optimizer.state
    assert [scaler.get_scale() for scaler in trainer.scalers.values()] == [2.0**39, 2.0**39]


def test_a_genuinely_nan_loss_still_stops_an_fp16_run(photo_dir: Path, bank, tmp_path: Path, fp16_training) -> None:
    trainer = Trainer(tiny_config(photo_dir, pretrain=StageBudget(), gan=StageBudget(epochs=3), gan_lr=1e6), tmp_path,
                      torch.device("cpu"), bank=bank)
    with pytest.raises(TrainingDiverged, match=r"training diverged at step \d+ \(gan stage\).*lower --gan-lr") as caught:
        trainer.run(progress=False)
    assert "overflowing fp16's range" in str(caught.value) and "--device cpu" in str(caught.value)


def test_an_fp16_nan_loss_is_named_as_a_possible_fp16_overflow_and_a_float32_one_is_not() -> None:
    """An fp16 forward pass that overflows gives the same NaN loss as divergence, but a lower learning rate may
    not cure it: the message told fp16 users only to lower the learning rate."""
    nan = {"l1": float("nan")}
    fp16 = divergence_message("pretrain", 7, nan, FP16)
    assert fp16.startswith("training diverged at step 7 (pretrain stage): the l1 loss is nan")
    assert "lower --pretrain-lr" in fp16 and "overflowing fp16's range" in fp16 and "bf16" in fp16
    for precision in (Precision("cpu"), Precision("cuda", torch.bfloat16)):
        message = divergence_message("gan", 3, {"gan_d": float("inf")}, precision)
        assert message == ("training diverged at step 3 (gan stage): the gan_d loss is inf; start a new run "
                           "(another --out) with a lower --gan-lr")


def test_a_resumed_fp16_run_keeps_its_gradient_scale_and_continues_exactly(photo_dir: Path, bank, tmp_path: Path,
                                                                           fp16_training) -> None:
    config = tiny_config(photo_dir, gan=StageBudget())  # 2 L1 epochs of 2 steps
    whole = Trainer(config, tmp_path / "whole", torch.device("cpu"), bank=bank)
    whole.run(progress=False)
    interrupted = Trainer(config, tmp_path / "split", torch.device("cpu"), bank=bank)
    interrupted.run(max_steps=3, progress=False)
    scales = {net: copy.deepcopy(scaler.state_dict()) for net, scaler in interrupted.scalers.items()}
    assert scales["generator"]["_growth_tracker"] == 3
    resumed = resume_trainer(tmp_path / "split", torch.device("cpu"), bank=bank)
    assert {net: scaler.state_dict() for net, scaler in resumed.scalers.items()} == scales
    resumed.run(progress=False)
    assert resumed.step == whole.step == 4
    for net, scaler in whole.scalers.items():
        assert resumed.scalers[net].state_dict() == scaler.state_dict(), net
    for name in ("generator", "discriminator"):
        for key, value in getattr(whole, name).state_dict().items():
            assert torch.equal(value, getattr(resumed, name).state_dict()[key]), (name, key)


def test_a_lowered_scale_survives_the_resume(photo_dir: Path, bank, tmp_path: Path, fp16_training) -> None:
    trainer = Trainer(tiny_config(photo_dir, pretrain=StageBudget(), gan=StageBudget(epochs=1)), tmp_path,
                      torch.device("cpu"), bank=bank)
    trainer.run(max_steps=1, progress=False)
    trainer.scalers["generator"].update(new_scale=1024.0)  # as after overflowing steps
    trainer.scalers["discriminator"].update(new_scale=8.0)
    trainer.save_checkpoint()
    resumed = resume_trainer(tmp_path, torch.device("cpu"), bank=bank)
    assert {net: scaler.get_scale() for net, scaler in resumed.scalers.items()} == {"generator": 1024.0, "discriminator": 8.0}


@pytest.mark.parametrize("saved", ["absent", "from a bf16 or CPU run"])
def test_a_checkpoint_without_a_gradient_scale_resumes_in_fp16_with_a_fresh_one(photo_dir: Path, bank, tmp_path: Path,
                                                                                monkeypatch, saved: str) -> None:
    """A checkpoint written before fp16 training (no scaler entry) or on a bf16 GPU or the CPU (an empty one, which
    GradScaler.load_state_dict refuses) must resume on a T4."""
    config = tiny_config(photo_dir, gan=StageBudget())  # 2 L1 epochs of 2 steps
    Trainer(config, tmp_path, torch.device("cpu"), bank=bank).run(max_steps=3, progress=False)
    checkpoint = tmp_path / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=False)
    assert state["scalers"] == {"generator": {}, "discriminator": {}}
    if saved == "absent":
        del state["scalers"]
        torch.save(state, checkpoint)
    monkeypatch.setattr(trainer_module, "device_precision", lambda device: FP16)
    resumed = resume_trainer(tmp_path, torch.device("cpu"), bank=bank)
    assert all(scaler.is_enabled() for scaler in resumed.scalers.values()) and resumed.step == 3
    resumed.run(progress=False)
    assert resumed.stage is None and resumed.step == 4
    assert resumed.scalers["generator"].state_dict()["_growth_tracker"] == 1


def test_an_fp16_checkpoint_resumes_on_the_cpu(photo_dir: Path, bank, tmp_path: Path, monkeypatch) -> None:
    """The run moves from a T4 to the CPU (or a bf16 GPU): its gradient scale is of no use there and is left."""
    config = tiny_config(photo_dir, gan=StageBudget())  # 2 L1 epochs of 2 steps
    with monkeypatch.context() as patch:
        patch.setattr(trainer_module, "device_precision", lambda device: FP16)
        Trainer(config, tmp_path, torch.device("cpu"), bank=bank).run(max_steps=3, progress=False)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["scalers"]["generator"]["scale"] > 0
    resumed = resume_trainer(tmp_path, torch.device("cpu"), bank=bank)
    assert not any(scaler.is_enabled() for scaler in resumed.scalers.values())
    resumed.run(progress=False)
    assert resumed.stage is None and resumed.step == 4
    assert all(torch.isfinite(value).all() for value in resumed.generator.state_dict().values() if value.is_floating_point())


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_an_infinite_loss_stops_the_run_like_a_nan_one(value: float) -> None:
    """Guards against an infinite loss (an overflowing step) being trained on and exported as if it were fine."""
    with pytest.raises(TrainingDiverged, match=f"at step 4 \\(gan stage\\): the gan_d loss is {value}"):
        check_finite("gan", 4, {"l1": 0.25, "gan_g": 0.7, "gan_d": value}, Precision("cpu"))
    check_finite("gan", 4, {"l1": 0.25, "gan_g": 0.7, "gan_d": 1e30}, Precision("cpu"))  # large but finite: goes on
