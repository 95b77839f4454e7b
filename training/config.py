"""What a training run is asked to do: data, architecture, stages and their budgets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


PRETRAIN = "pretrain"
GAN = "gan"
STAGES = (PRETRAIN, GAN)
CHECKPOINT_NAME = "checkpoint.pt"  # in the run folder: what --resume continues from


@dataclass
class StageBudget:
    """Stop a stage after ``epochs`` epochs or ``minutes`` of training, whichever comes first.

    Minutes count the training steps themselves (not decoding, figures or checkpoints) and add up
    across resumes. A stage with neither is skipped.
    """

    epochs: int | None = None
    minutes: float | None = None

    @property
    def active(self) -> bool:
        return bool(self.epochs) or bool(self.minutes)


@dataclass
class TrainConfig:
    """Settings of one run; saved inside every checkpoint so a resumed run rebuilds itself."""

    data: list[str]
    arch: str = "lite0-unet"
    pretrained: bool = True
    crop: int = 128
    batch_size: int = 16
    pretrain_lr: float = 1e-4
    gan_lr: float = 2e-4
    l1_weight: float = 100.0
    pretrain: StageBudget = field(default_factory=StageBudget)
    gan: StageBudget = field(default_factory=StageBudget)
    checkpoint_minutes: float = 10.0
    outputs_every: int = 1
    seed: int = 0
    val: str | None = None
    preview_count: int = 6
    init_weights: str | None = None
    holdout: float = 0.0
    patience: int | None = None
    snapshots: bool = False
    fp16: bool = True  # precision of every export: the snapshots and --export

    def budget(self, stage: str) -> StageBudget:
        """The budget of ``stage`` (``"pretrain"`` or ``"gan"``)."""
        return self.pretrain if stage == PRETRAIN else self.gan

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        values = dict(values)
        values["pretrain"] = StageBudget(**values["pretrain"])
        values["gan"] = StageBudget(**values["gan"])
        return cls(**values)
