"""The training record an exported generator carries in its metadata: the photos, both stages, the hardware
and precision, the hold-out, and the weights the run started from."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import torch

from vidcolor.errors import WeightsError
from vidcolor.models import read_metadata

from .config import GAN, PRETRAIN, TrainConfig
from .data import ImageBank
from .holdout import BestWeights
from .steps import Precision


def training_info(*, config: TrainConfig, bank: ImageBank, holdout: ImageBank | None, best: BestWeights,
                  device: torch.device, precision: Precision, step: int, stage_steps: dict[str, int],
                  stage_seconds: dict[str, float], imagenet_encoder: bool) -> dict[str, Any]:
    """What went into the weights trained on ``bank`` (``holdout`` set aside), for the exported file's metadata.

    ``pretrained_encoder`` is true only where the run's generator started from ImageNet encoder weights:
    ``imagenet_encoder`` (they were found and loaded) and no ``--init-weights`` replacing them.
    """
    if device.type == "cuda":
        hardware = torch.cuda.get_device_name(device)
    else:
        hardware = f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    counts: dict[str, int] = {}
    for source in bank.sources:
        folder = next((str(f) for f in config.data if Path(source).is_relative_to(Path(f))), "other")
        counts[folder] = counts.get(folder, 0) + 1
    steps_per_epoch = len(bank) // min(config.batch_size, len(bank))
    return {
        "data": counts,
        "photos": len(bank),
        "skipped_grey": len(bank.skipped_grey),
        "skipped_unreadable": len(bank.skipped_corrupt),
        "crop": config.crop,
        "batch_size": config.batch_size,
        "stages": {
            PRETRAIN: {"loss": "L1", "lr": config.pretrain_lr, "betas": [0.9, 0.999],
                       "steps": stage_steps[PRETRAIN], "epochs": _epochs_seen(stage_steps[PRETRAIN], steps_per_epoch),
                       "minutes": round(stage_seconds[PRETRAIN] / 60, 2)},
            GAN: {"loss": f"cGAN BCE + {config.l1_weight:g} L1", "lr": config.gan_lr, "betas": [0.5, 0.999],
                  "discriminator": "PatchGAN 70x70",
                  "steps": stage_steps[GAN], "epochs": _epochs_seen(stage_steps[GAN], steps_per_epoch),
                  "minutes": round(stage_seconds[GAN] / 60, 2)},
        },
        "steps": step,
        "minutes": round(sum(stage_seconds.values()) / 60, 2),
        "hardware": hardware,
        "precision": precision.name,
        "torch": torch.__version__,
        "pretrained_encoder": imagenet_encoder and not config.init_weights,
        "seed": config.seed,
    } | _holdout_info(config, holdout, best) | (
        {"initialised_from": weights_lineage(config.init_weights)} if config.init_weights else {})


def _epochs_seen(steps: int, steps_per_epoch: int) -> float:
    """Passes over the data a stage of ``steps`` made, counting a partial epoch as a fraction (an epoch is the
    whole batches that fit in the data: the remainder is left for the next epoch's shuffle)."""
    return round(steps / steps_per_epoch, 2)


def _holdout_info(config: TrainConfig, holdout: ImageBank | None, best: BestWeights) -> dict[str, Any]:
    if holdout is None:
        return {}
    info: dict[str, Any] = {"photos": len(holdout), "fraction": config.holdout, "patience": config.patience}
    if best.state is not None:
        info["best_l1_stage"] = {"step": best.step, "psnr": round(best.psnr, 3)}
    return {"holdout": info}


def weights_lineage(weights: str | Path) -> dict[str, Any]:
    """The file name and training record of the weights a run started from (the name alone if unreadable now)."""
    try:
        return {"file": Path(weights).name} | read_metadata(weights).get("training", {})
    except WeightsError:
        return {"file": Path(weights).name}
