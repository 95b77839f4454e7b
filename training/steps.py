"""One training step of each stage: the precision it computes in, its losses and optimiser steps, the divergence check.

Steps run in bf16 autocast on CUDA GPUs that compute in it (Ampere on), in fp16 autocast with a gradient
scaler on older ones (T4, V100, P100) and in float32 on the CPU (see :func:`training_precision`).
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vidcolor.errors import InputError, VidcolorError
from vidcolor.worker import autocast_dtype

from .config import PRETRAIN
from .losses import discriminator_loss, generator_adversarial_loss, l1_loss


class TrainingDiverged(VidcolorError):
    """A loss became NaN or infinite: the weights are lost, so the run stops instead of training on garbage."""


@dataclass(frozen=True)
class Precision:
    """How training steps compute on ``device_type``: autocast to ``dtype`` (``None``: plain float32), and
    with ``scaled`` a gradient scaler, which fp16 needs (its small gradients underflow to zero without one)."""

    device_type: str
    dtype: torch.dtype | None = None
    scaled: bool = False

    @property
    def name(self) -> str:
        """``bf16``, ``fp16`` or ``fp32``, for logs and the exported file's metadata."""
        return {torch.bfloat16: "bf16", torch.float16: "fp16", None: "fp32"}[self.dtype]

    def autocast(self) -> AbstractContextManager[Any]:
        """The autocast context of a forward pass (a no-op in float32)."""
        return torch.autocast(self.device_type, dtype=self.dtype) if self.dtype is not None else nullcontext()

    def scaler(self) -> torch.amp.GradScaler:
        """A new gradient scaler, disabled (a plain backward and step) unless ``scaled``."""
        return torch.amp.GradScaler(self.device_type, enabled=self.scaled)


def training_precision(device_type: str, bf16_supported: bool) -> Precision:
    """The precision of training steps: bf16 autocast on a CUDA GPU that computes in bf16, fp16 autocast with a
    gradient scaler on one that does not (before Ampere: bf16 is emulated there, slowly), float32 elsewhere."""
    if device_type != "cuda":
        return Precision(device_type)
    if bf16_supported:
        return Precision("cuda", torch.bfloat16)
    return Precision("cuda", torch.float16, scaled=True)


def device_precision(device: torch.device) -> Precision:
    """:func:`training_precision` of ``device``, asking the GPU itself (``torch.cuda.is_bf16_supported()`` says
    True on a T4 too, where bf16 is only emulated: see :func:`vidcolor.worker.autocast_dtype`)."""
    return training_precision(device.type, device.type == "cuda" and autocast_dtype(device) == torch.bfloat16)


def check_values_per_step(photos_per_step: int, crop: int) -> None:
    """:class:`InputError` for a step of one 32-px crop: the encoders' deepest layer (1/32 of the crop) then holds
    one value per channel, which BatchNorm cannot train on (``Expected more than 1 value per channel``)."""
    if photos_per_step * (crop // 32) ** 2 < 2:
        raise InputError(f"a training step of {photos_per_step} photo at crop {crop} leaves the encoder's deepest layer "
                         "one value per channel, which BatchNorm cannot train on; use --batch-size 2 or more (with at "
                         "least 2 training photos) or --crop 64")


def descend(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> None:
    """Backpropagate ``loss`` and step ``optimizer`` through ``scaler``: a plain backward and step unless it
    is enabled (fp16), where a step whose gradients overflowed is skipped and the scale lowered (a skipped
    step is no divergence: the weights stay as they were)."""
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()


def pretrain_step(generator: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                  precision: Precision, l_norm: torch.Tensor, ab_norm: torch.Tensor) -> dict[str, float]:
    """One Adam step of ``generator`` on L1 alone."""
    generator.train()
    optimizer.zero_grad(set_to_none=True)
    with precision.autocast():
        predicted = generator(l_norm)
    loss = l1_loss(predicted, ab_norm)
    descend(loss, optimizer, scaler)
    return {"l1": loss.item()}


def gan_step(generator: nn.Module, discriminator: nn.Module, g_optimizer: torch.optim.Optimizer,
             d_optimizer: torch.optim.Optimizer, scalers: dict[str, torch.amp.GradScaler], precision: Precision,
             l1_weight: float, l_norm: torch.Tensor, ab_norm: torch.Tensor) -> dict[str, float]:
    """One discriminator step, then one generator step on cGAN loss + ``l1_weight`` x L1 (``scalers`` holds
    one gradient scaler per net, keyed ``generator`` and ``discriminator``)."""
    generator.train()
    discriminator.train()
    with precision.autocast():
        predicted = generator(l_norm)
    discriminator.requires_grad_(True)
    d_optimizer.zero_grad(set_to_none=True)
    with precision.autocast():
        real_logits = discriminator(torch.cat([l_norm, ab_norm], dim=1))
        fake_logits = discriminator(torch.cat([l_norm, predicted.detach()], dim=1))
    loss_d = discriminator_loss(real_logits.float(), fake_logits.float())
    descend(loss_d, d_optimizer, scalers["discriminator"])

    discriminator.requires_grad_(False)
    g_optimizer.zero_grad(set_to_none=True)
    with precision.autocast():
        fake_logits = discriminator(torch.cat([l_norm, predicted], dim=1))
    loss_gan = generator_adversarial_loss(fake_logits.float())
    loss_l1 = l1_loss(predicted, ab_norm)
    descend(loss_gan + l1_weight * loss_l1, g_optimizer, scalers["generator"])
    discriminator.requires_grad_(True)
    return {"l1": loss_l1.item(), "gan_g": loss_gan.item(), "gan_d": loss_d.item()}


def check_finite(stage: str, step: int, losses: dict[str, float], precision: Precision) -> None:
    """Raise :class:`TrainingDiverged` when a loss of ``step`` (the one about to be counted) is NaN or infinite."""
    broken = {name: value for name, value in losses.items() if not math.isfinite(value)}
    if broken:
        raise TrainingDiverged(divergence_message(stage, step, broken, precision))


def divergence_message(stage: str, step: int, broken: dict[str, float], precision: Precision) -> str:
    """What to tell the user when the losses in ``broken`` of ``step`` are NaN or infinite. Under fp16 autocast
    (GPUs before Ampere) that is also what a forward pass overflowing fp16's range (65504) gives, which a lower
    learning rate may not cure but bf16 or float32 does."""
    option = "--pretrain-lr" if stage == PRETRAIN else "--gan-lr"
    losses = ", ".join(f"the {name} loss is {value}" for name, value in broken.items())
    advice = f"start a new run (another --out) with a lower {option}"
    if precision.dtype == torch.float16:
        return (f"training diverged at step {step} ({stage} stage): {losses}, which in fp16 (this GPU's training "
                "precision) may also be the forward pass overflowing fp16's range (65504); "
                f"{advice}, or train on a GPU with bf16 (Ampere or newer) or on the CPU (--device cpu, float32)")
    return f"training diverged at step {step} ({stage} stage): {losses}; {advice}"
