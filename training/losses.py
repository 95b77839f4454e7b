"""pix2pix losses: conditional-GAN BCE on PatchGAN logits, plus L1 on ab."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Half the BCE of calling real pairs real (1) and generated pairs fake (0)."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return 0.5 * (real + fake)


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE of the discriminator calling generated pairs real."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def l1_loss(predicted_ab: torch.Tensor, true_ab: torch.Tensor) -> torch.Tensor:
    """Mean absolute error in normalised ab units (ab / 110)."""
    return F.l1_loss(predicted_ab.float(), true_ab.float())
