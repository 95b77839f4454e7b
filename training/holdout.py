"""Held-out photos for choosing weights: scores during training, the best L1-stage weights, early stopping.

A run with ``--holdout F`` sets aside a fraction ``F`` of its photos (a fixed draw per seed) and never
trains on them. At the start (step 0) and after every output epoch it scores the generator on their
centre crops (L1, PSNR beside the grey baseline, colourfulness beside the truth) into ``holdout.csv``
and ``holdout.png``.
In the L1 stage it keeps the weights with the best held-out PSNR (the starting weights included, so a
fine-tune that only hurts gives back what it started from), ends the stage after ``patience``
scorings without a gain, and hands the best weights, not the last, to the GAN stage and to export.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidcolor.errors import InputError

from .data import ImageBank, as_images, centre_crops, predicted_and_grey_images, to_model_pair
from .history import StepLog
from .metrics import colourfulness, psnr

SCORING_BATCH = 64


@dataclass
class HoldoutScore:
    """Means over the held-out photos; ``psnr_grey`` is the same photos with ab = 0."""

    l1: float
    psnr: float
    psnr_grey: float
    colourfulness: float
    colourfulness_truth: float


def split_bank(bank: ImageBank, fraction: float, seed: int) -> tuple[ImageBank, ImageBank | None]:
    """(training photos, held-out photos): a ``fraction`` of ``bank`` drawn with ``seed``; no hold-out at 0."""
    if fraction <= 0:
        return bank, None
    count = max(1, round(len(bank) * fraction))
    if count >= len(bank):
        raise InputError(f"--holdout {fraction:g} leaves no photos to train on ({len(bank)} in all)")
    order = torch.randperm(len(bank), generator=torch.Generator().manual_seed(seed))
    return bank.subset(order[count:].sort().values), bank.subset(order[:count].sort().values)


@torch.no_grad()
def score_holdout(generator: nn.Module, holdout: ImageBank, crop: int,
                  autocast: Callable[[], AbstractContextManager[Any]]) -> HoldoutScore:
    """Score ``generator`` on the centre crops of the held-out photos (it is left in train mode after)."""
    generator.eval()
    l1_sum = 0.0
    per_photo: list[tuple[float, float, float, float]] = []  # PSNR model, PSNR grey, colourfulness model, truth
    for start in range(0, len(holdout), SCORING_BATCH):
        truth = centre_crops(holdout.images[start : start + SCORING_BATCH], crop)
        l_norm, ab_norm = to_model_pair(truth)
        with autocast():
            predicted = generator(l_norm).float()
        l1_sum += (predicted - ab_norm).abs().mean(dim=(1, 2, 3)).sum().item()
        colour, grey = predicted_and_grey_images(l_norm, predicted)
        for reference, image, grey_image in zip(as_images(truth), colour, grey):
            per_photo.append((psnr(reference, image), psnr(reference, grey_image),
                              colourfulness(image), colourfulness(reference)))
    generator.train()
    psnr_model, psnr_grey, colour_model, colour_truth = np.mean(np.array(per_photo), axis=0)
    return HoldoutScore(l1=l1_sum / len(holdout), psnr=float(psnr_model), psnr_grey=float(psnr_grey),
                        colourfulness=float(colour_model), colourfulness_truth=float(colour_truth))


@dataclass
class BestWeights:
    """The generator weights with the best held-out PSNR so far, and how many scorings since it improved."""

    patience: int | None = None
    psnr: float = -math.inf
    step: int = -1
    stale: int = 0
    state: dict[str, torch.Tensor] | None = None

    def update(self, psnr: float, step: int, generator: nn.Module) -> bool:
        """Record a scoring; keep a CPU copy of the weights when ``psnr`` beats the best. True if it did."""
        if psnr > self.psnr:
            self.psnr, self.step, self.stale = psnr, step, 0
            self.state = {name: value.detach().to("cpu", copy=True) for name, value in generator.state_dict().items()}
            return True
        self.stale += 1
        return False

    @property
    def patience_spent(self) -> bool:
        """True once ``patience`` scorings in a row brought no gain."""
        return self.patience is not None and self.stale >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"psnr": self.psnr, "step": self.step, "stale": self.stale, "state": self.state}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        self.psnr, self.step, self.stale, self.state = saved["psnr"], saved["step"], saved["stale"], saved["state"]


class HoldoutLog(StepLog):
    """``holdout.csv``: one row per scoring of the held-out photos."""

    def __init__(self, path: Path, fresh: bool = True) -> None:
        super().__init__(path, ["stage", "epoch", "step"] + [field.name for field in fields(HoldoutScore)], fresh)

    def append(self, stage: str, epoch: int, step: int, score: HoldoutScore) -> None:
        """Write one scoring's row."""
        self.write_row([stage, epoch, step] + [f"{value:.6f}" for value in asdict(score).values()])
