"""The per-epoch sample sheet: its fixed photos (from ``--val`` or the training bank) and the sheet of
grey | predicted | truth the generator's colours of them make."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidcolor.errors import InputError

from . import plots
from .config import TrainConfig
from .data import (
    ImageBank,
    as_images,
    bank_side,
    centre_crops,
    find_images,
    load_or_reason,
    predicted_and_grey_images,
    to_model_pair,
)
from .steps import Precision


def val_preview_batch(config: TrainConfig) -> torch.Tensor:
    """The centre crops of the ``config.val`` photos shown on the per-epoch sample sheet."""
    if not Path(config.val).is_dir():  # moved since the run started (a new run's --val is checked by the command)
        raise InputError(f"--val folder not found: {config.val}; the run shows the photos it started with, "
                         "so put the folder back where it was")
    return centre_crops(preview_photos(config.val, config.preview_count, config.crop), config.crop)


def preview_photos(folder: str | Path, count: int, crop: int) -> torch.Tensor:
    """``count`` colour photos evenly spread through ``folder`` as uint8 squares ``(N, S, S, 3)``; a grey
    or unreadable pick gives way to the next readable photo, and only as many are decoded as needed."""
    paths = find_images(folder)
    spread = [paths[int(i)] for i in np.linspace(0, len(paths) - 1, min(count, len(paths)))]
    chosen, side = set(spread), bank_side(crop)
    picked: list[np.ndarray] = []
    for path in spread + [path for path in paths if path not in chosen]:
        pixels = load_or_reason(path, side)
        if not isinstance(pixels, str):
            picked.append(pixels)
        if len(picked) == count:
            break
    if not picked:
        raise InputError(f"no readable colour photo under --val {folder}")
    return torch.from_numpy(np.stack(picked))


def bank_preview_batch(bank: ImageBank, count: int, crop: int) -> torch.Tensor:
    """Fixed photos for the per-epoch sample sheet when no ``config.val`` is given: from the training bank."""
    picks = np.linspace(0, len(bank) - 1, min(count, len(bank))).astype(int)
    images = bank.images[torch.as_tensor(picks, device=bank.images.device)].cpu()
    return centre_crops(images, crop)


@torch.no_grad()
def predict_preview(generator: nn.Module, preview: torch.Tensor, device: torch.device,
                    precision: Precision) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grey, predicted, truth) RGB ``(N, H, W, 3)`` of the ``preview`` photos; ``generator`` is left training."""
    generator.eval()
    truth = preview.to(device)
    l_norm, _ = to_model_pair(truth)
    with precision.autocast():
        predicted = generator(l_norm).float()
    generator.train()
    colour, grey = predicted_and_grey_images(l_norm, predicted)
    return grey, colour, as_images(truth)


def write_sample_sheet(grey: np.ndarray, colour: np.ndarray, truth: np.ndarray, out_png: Path) -> None:
    """The sample sheet of :func:`predict_preview`'s images: one row of grey | predicted | truth per photo."""
    rows = [[g, c, t] for g, c, t in zip(grey, colour, truth)]
    plots.image_sheet(rows, ["grey", "predicted", "truth"], out_png)
