"""Small models for tests: a constant-colour generator whose output is known exactly."""

from __future__ import annotations

import torch
from torch import nn


class ConstantColour(nn.Module):
    """Predicts the same normalised ab everywhere, so the expected output colour is known."""

    def __init__(self, a: float, b: float) -> None:
        super().__init__()
        self.register_buffer("ab", torch.tensor([a, b]).view(1, 2, 1, 1))

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        return self.ab.expand(l_norm.shape[0], 2, *l_norm.shape[-2:])
