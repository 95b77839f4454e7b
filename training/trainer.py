"""The two-stage pix2pix training loop: L1 pretraining of the generator, then the cGAN stage.

Steps run in bf16 autocast on CUDA GPUs that compute in it (Ampere on), in fp16 autocast with a gradient
scaler on older ones (T4, V100, P100) and in float32 on the CPU (see :func:`training_precision`).

Everything needed to continue a run exactly (weights, optimisers, gradient scales, stage, epoch, position in the
epoch's shuffled order, step, elapsed time, RNG states, the best held-out weights) is saved in
``RUN_DIR/checkpoint.pt`` every ``outputs_every`` epochs (default 1), every ``checkpoint_minutes``
and when a stage ends. With ``holdout`` set, held-out photos are scored at the same moments
(see :mod:`training.holdout`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import platform
import random
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from tqdm import tqdm

from vidcolor.errors import InputError, OutputError, VidcolorError, WeightsError, first_line
from vidcolor.models import (
    PatchDiscriminator,
    create_generator,
    generator_spec,
    list_generators,
    load_generator,
    read_metadata,
    save_generator,
)
from vidcolor.worker import autocast_dtype

from . import plots
from .config import CHECKPOINT_NAME, GAN, PRETRAIN, STAGES, TrainConfig
from .data import (
    ImageBank,
    as_images,
    bank_side,
    build_bank,
    centre_crops,
    collect_images,
    find_images,
    load_or_reason,
    predicted_and_grey_images,
    random_crops,
    to_model_pair,
)
from .history import LossHistory
from .holdout import BestWeights, HoldoutLog, score_holdout, split_bank
from .losses import discriminator_loss, generator_adversarial_loss, l1_loss

log = logging.getLogger(__name__)

# what every checkpoint holds (save_checkpoint writes them, read_checkpoint looks for them); "scalers", the
# gradient scales of fp16 runs, are left out: checkpoints written before they existed resume with fresh ones
_CHECKPOINT_KEYS = frozenset({"config", "generator", "discriminator", "pretrain_optimizer", "gan_g_optimizer",
                              "gan_d_optimizer", "progress", "order", "best_weights", "unrewound_generator", "rng"})


class TrainingDiverged(VidcolorError):
    """A loss became NaN or infinite: the weights are lost, so the run stops instead of training on garbage."""


def check_values_per_step(photos_per_step: int, crop: int) -> None:
    """:class:`InputError` for a step of one 32-px crop: the encoders' deepest layer (1/32 of the crop) then holds
    one value per channel, which BatchNorm cannot train on (``Expected more than 1 value per channel``)."""
    if photos_per_step * (crop // 32) ** 2 < 2:
        raise InputError(f"a training step of {photos_per_step} photo at crop {crop} leaves the encoder's deepest layer "
                         "one value per channel, which BatchNorm cannot train on; use --batch-size 2 or more (with at "
                         "least 2 training photos) or --crop 64")


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


class Trainer:
    """Owns the nets, optimisers, data and progress of one run in ``run_dir``."""

    def __init__(self, config: TrainConfig, run_dir: str | Path, device: torch.device, bank: ImageBank | None = None,
                 fresh: bool = True) -> None:
        """Set up a run in ``run_dir``; ``fresh=False`` keeps its logs for :meth:`load_checkpoint` to continue."""
        self.config = config
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.device = device
        self.precision = device_precision(device)
        # one per net: the generator's GAN loss (100 x L1) has far larger gradients than the discriminator's, so a
        # shared scale would follow the generator's overflows and sit far lower than the discriminator's need
        self.scalers = {"generator": self.precision.scaler(), "discriminator": self.precision.scaler()}
        log.info("training steps in %s%s", self.precision.name, " with gradient scaling" if self.precision.scaled else "")
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed crop and batch size: let cuDNN pick its fastest kernels
        torch.manual_seed(config.seed)
        random.seed(config.seed)
        # before the training photos: a --val folder without a readable colour photo must not cost their decoding
        val_preview = val_preview_batch(config) if config.val else None
        all_photos = bank if bank is not None else build_bank(training_photos_of(config), config.crop)
        self.photos_fingerprint = photos_fingerprint(all_photos.sources)
        training_photos, holdout = split_bank(all_photos, config.holdout, config.seed)
        check_values_per_step(min(config.batch_size, len(training_photos)), config.crop)
        self.bank = training_photos.to(device)
        self.holdout = holdout.to(device) if holdout is not None else None
        if self.holdout is not None:
            log.info("holding out %d of %d photos for scoring", len(self.holdout), len(all_photos))
        # channels_last: 1.4x faster training steps on the CPU (oneDNN, benchmarks/cpu_layout.py) and the layout tensor cores want
        self.generator = create_generator(config.arch, pretrained=config.pretrained).to(device, memory_format=torch.channels_last)
        self.discriminator = PatchDiscriminator().to(device, memory_format=torch.channels_last)
        self.pretrain_optimizer = torch.optim.Adam(self.generator.parameters(), lr=config.pretrain_lr, betas=(0.9, 0.999))
        self.gan_g_optimizer = torch.optim.Adam(self.generator.parameters(), lr=config.gan_lr, betas=(0.5, 0.999))
        self.gan_d_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=config.gan_lr, betas=(0.5, 0.999))
        self.data_rng = torch.Generator().manual_seed(config.seed)
        self.stage_index = 0
        self.position = 0
        self.order: torch.Tensor | None = None
        self.step = 0
        self.stage_steps = {stage: 0 for stage in STAGES}
        self.stage_epochs = {stage: 0 for stage in STAGES}
        self.stage_seconds = {stage: 0.0 for stage in STAGES}
        self.history = LossHistory(self.run_dir / "losses.csv", fresh)
        self.holdout_log = HoldoutLog(self.run_dir / "holdout.csv", fresh) if self.holdout is not None else None
        self.best = BestWeights(config.patience)
        self.unrewound: dict[str, torch.Tensor] | None = None  # the L1 stage's last weights, once it ends on its best
        self.preview = val_preview if val_preview is not None else self._bank_preview_batch()

    def start_from(self, weights: str | Path) -> None:
        """Load an exported generator (same architecture) as the starting point, for fine-tuning."""
        check_init_weights(weights, self.config.arch)
        model, _ = load_generator(weights)
        self.generator.load_state_dict(model.state_dict())
        log.info("generator initialised from %s", weights)

    # ----------------------------------------------------------------- progress
    @property
    def stage(self) -> str | None:
        """The current stage name, or ``None`` once every stage is done."""
        return STAGES[self.stage_index] if self.stage_index < len(STAGES) else None

    @property
    def epoch(self) -> int:
        """Completed epochs of the current stage."""
        return self.stage_epochs[self.stage] if self.stage is not None else 0

    def _stage_finished(self, stage: str) -> bool:
        budget = self.config.budget(stage)
        if not budget.active:
            return True
        out_of_epochs = budget.epochs is not None and self.stage_epochs[stage] >= budget.epochs
        out_of_time = budget.minutes is not None and self.stage_seconds[stage] >= budget.minutes * 60
        stopped_early = stage == PRETRAIN and self.best.patience_spent
        return out_of_epochs or out_of_time or stopped_early

    def _next_batch(self) -> torch.Tensor:
        if self.order is None:
            self.order = torch.randperm(len(self.bank), generator=self.data_rng)
            self.position = 0
        size = min(self.config.batch_size, len(self.bank))
        indices = self.order[self.position : self.position + size]
        self.position += size
        return random_crops(self.bank.images[indices.to(self.bank.images.device)], self.config.crop, self.data_rng)

    def _descend(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, net: str) -> None:
        """Backpropagate ``loss`` and step ``optimizer`` through the gradient scaler of ``net``: a plain backward
        and step unless it is enabled (fp16), where a step whose gradients overflowed is skipped and the scale
        lowered (a skipped step is no divergence: the weights stay as they were)."""
        scaler = self.scalers[net]
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    # ----------------------------------------------------------------- steps
    def pretrain_step(self, l_norm: torch.Tensor, ab_norm: torch.Tensor) -> dict[str, float]:
        """One Adam step of the generator on L1 alone."""
        self.generator.train()
        self.pretrain_optimizer.zero_grad(set_to_none=True)
        with self.precision.autocast():
            predicted = self.generator(l_norm)
        loss = l1_loss(predicted, ab_norm)
        self._descend(loss, self.pretrain_optimizer, "generator")
        return {"l1": loss.item()}

    def gan_step(self, l_norm: torch.Tensor, ab_norm: torch.Tensor) -> dict[str, float]:
        """One discriminator step, then one generator step on cGAN loss + ``l1_weight`` x L1."""
        self.generator.train()
        self.discriminator.train()
        with self.precision.autocast():
            predicted = self.generator(l_norm)
        self.discriminator.requires_grad_(True)
        self.gan_d_optimizer.zero_grad(set_to_none=True)
        with self.precision.autocast():
            real_logits = self.discriminator(torch.cat([l_norm, ab_norm], dim=1))
            fake_logits = self.discriminator(torch.cat([l_norm, predicted.detach()], dim=1))
        loss_d = discriminator_loss(real_logits.float(), fake_logits.float())
        self._descend(loss_d, self.gan_d_optimizer, "discriminator")

        self.discriminator.requires_grad_(False)
        self.gan_g_optimizer.zero_grad(set_to_none=True)
        with self.precision.autocast():
            fake_logits = self.discriminator(torch.cat([l_norm, predicted], dim=1))
        loss_gan = generator_adversarial_loss(fake_logits.float())
        loss_l1 = l1_loss(predicted, ab_norm)
        self._descend(loss_gan + self.config.l1_weight * loss_l1, self.gan_g_optimizer, "generator")
        self.discriminator.requires_grad_(True)
        return {"l1": loss_l1.item(), "gan_g": loss_gan.item(), "gan_d": loss_d.item()}

    # ----------------------------------------------------------------- the loop
    def run(self, max_steps: int | None = None, progress: bool = True) -> None:
        """Train until every stage has spent its budget, or for ``max_steps`` more steps; then checkpoint."""
        steps_done = 0
        last_checkpoint = time.monotonic()
        # closed on an error or Ctrl-C too, so that the one-line message starts a line of its own
        with tqdm(total=None, disable=not progress, unit="step", dynamic_ncols=True) as bar:
            while self.stage is not None and (max_steps is None or steps_done < max_steps):
                stage = self.stage
                if self._stage_finished(stage):
                    self._finish_stage()
                    continue
                if self.step == 0 and self.holdout is not None and not self.holdout_log.has_rows():
                    with self._writing(self.holdout_log.path):
                        self.evaluate_holdout()  # the starting weights: where the held-out curves begin
                started = time.monotonic()
                rgb = self._next_batch()
                l_norm, ab_norm = to_model_pair(rgb)
                losses = self.pretrain_step(l_norm, ab_norm) if stage == PRETRAIN else self.gan_step(l_norm, ab_norm)
                self._check_finite(stage, losses)
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                seconds = time.monotonic() - started
                self.step += 1
                steps_done += 1
                self.stage_steps[stage] += 1
                self.stage_seconds[stage] += seconds
                images_per_second = rgb.shape[0] / max(seconds, 1e-9)
                with self._writing(self.history.path):
                    self.history.append(stage, self.epoch, self.step, self.stage_seconds[stage], images_per_second, losses)
                bar.update(1)
                bar.set_description(f"{stage} epoch {self.epoch + 1}")
                bar.set_postfix({name: f"{value:.4f}" for name, value in losses.items()} | {"img/s": f"{images_per_second:.1f}"})
                if self.step % 20 == 0:
                    log.info("%s epoch %d step %d: %s, %.1f images/s", stage, self.epoch + 1, self.step,
                             ", ".join(f"{name} {value:.4f}" for name, value in losses.items()), images_per_second)
                saved = False
                if self.position + min(self.config.batch_size, len(self.bank)) > len(self.bank):
                    saved = self._finish_epoch()
                if not saved and time.monotonic() - last_checkpoint >= self.config.checkpoint_minutes * 60:
                    self.save_checkpoint()
                    saved = True
                if saved:
                    last_checkpoint = time.monotonic()
        if not steps_done and self.stage is None:
            log.info("nothing to train: every stage has spent its budget, which counts the whole run, not this resume "
                     "(give a larger one, such as --gan-epochs or --gan-minutes, to train on)")
        self.save_checkpoint()

    def _check_finite(self, stage: str, losses: dict[str, float]) -> None:
        """Raise :class:`TrainingDiverged` when a loss of the step about to be counted is NaN or infinite."""
        broken = {name: value for name, value in losses.items() if not math.isfinite(value)}
        if broken:
            raise TrainingDiverged(divergence_message(stage, self.step + 1, broken, self.precision))

    def _finish_epoch(self) -> bool:
        """Close an epoch; draw its outputs and checkpoint every ``outputs_every`` epochs. True if it checkpointed."""
        stage = self.stage
        self.stage_epochs[stage] += 1
        self.order = None
        self.position = 0
        log.info("%s epoch %d done (step %d, %.1f min in stage)", stage, self.epoch, self.step, self.stage_seconds[stage] / 60)
        if self.epoch % self.config.outputs_every:
            return False
        self.write_outputs(f"{stage}_epoch{self.epoch:03d}")
        self.save_checkpoint()
        return True

    def _finish_stage(self) -> None:
        stage = self.stage
        if self.position > 0:  # stopped by the clock inside an epoch
            self.write_outputs(f"{stage}_epoch{self.epoch + 1:03d}_partial")
        elif self.epoch % self.config.outputs_every:  # the last epochs were not drawn yet
            self.write_outputs(f"{stage}_epoch{self.epoch:03d}")
        if self.stage_steps[stage]:
            log.info("%s stage done: %d steps in %.1f min", stage, self.stage_steps[stage], self.stage_seconds[stage] / 60)
        if stage == PRETRAIN and self.best.state is not None:
            self.unrewound = {name: value.detach().cpu().clone() for name, value in self.generator.state_dict().items()}
            self.generator.load_state_dict(self.best.state)
            log.info("the L1 stage ends on its best held-out weights: step %d, PSNR %.3f dB", self.best.step, self.best.psnr)
        self.stage_index += 1
        self.position = 0
        self.order = None
        self.save_checkpoint()

    # ----------------------------------------------------------------- outputs
    def _bank_preview_batch(self) -> torch.Tensor:
        """Fixed photos for the per-epoch sample sheet when no ``config.val`` is given: from the training bank."""
        count = self.config.preview_count
        picks = np.linspace(0, len(self.bank) - 1, min(count, len(self.bank))).astype(int)
        images = self.bank.images[torch.as_tensor(picks, device=self.bank.images.device)].cpu()
        return centre_crops(images, self.config.crop)

    @torch.no_grad()
    def predict_preview(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(grey, predicted, truth) RGB ``(N, H, W, 3)`` of the preview photos."""
        self.generator.eval()
        truth = self.preview.to(self.device)
        l_norm, _ = to_model_pair(truth)
        with self.precision.autocast():
            predicted = self.generator(l_norm).float()
        self.generator.train()
        colour, grey = predicted_and_grey_images(l_norm, predicted)
        return grey, colour, as_images(truth)

    def write_outputs(self, tag: str) -> None:
        """Everything an output epoch writes: figures, the held-out scoring, a snapshot if asked for."""
        with self._writing():
            self.write_figures(tag)
            if self.holdout is not None:
                self.evaluate_holdout()
            if self.config.snapshots:
                (self.run_dir / "snapshots").mkdir(exist_ok=True)
                self.export(self.run_dir / "snapshots" / f"{tag}.safetensors")

    def write_figures(self, tag: str) -> None:
        """Sample sheet (grey | predicted | truth) for ``tag`` and the loss curve so far."""
        grey, colour, truth = self.predict_preview()
        rows = [[g, c, t] for g, c, t in zip(grey, colour, truth)]
        plots.image_sheet(rows, ["grey", "predicted", "truth"], self.run_dir / "samples" / f"{tag}.png")
        plots.loss_curve(self.history.path, self.run_dir / "loss_curve.png")

    def evaluate_holdout(self) -> None:
        """Score the held-out photos, log and plot the scores, and keep the best L1-stage weights."""
        score = score_holdout(self.generator, self.holdout, self.config.crop, self.precision.autocast)
        epoch = self.epoch + (1 if self.position > 0 else 0)
        self.holdout_log.append(self.stage, epoch, self.step, score)
        plots.holdout_curve(self.holdout_log.path, self.run_dir / "holdout.png")
        note = ""
        if self.stage == PRETRAIN:
            note = " (best so far)" if self.best.update(score.psnr, self.step, self.generator) else f" (best: step {self.best.step})"
        log.info("held-out photos at step %d: PSNR %.3f dB (grey %.3f), colourfulness %.1f (truth %.1f)%s",
                 self.step, score.psnr, score.psnr_grey, score.colourfulness, score.colourfulness_truth, note)

    def _epochs_seen(self, stage: str) -> float:
        """Passes over the data a stage made, counting a partial epoch as a fraction (an epoch is the
        whole batches that fit in the data: the remainder is left for the next epoch's shuffle)."""
        steps_per_epoch = len(self.bank) // min(self.config.batch_size, len(self.bank))
        return round(self.stage_steps[stage] / steps_per_epoch, 2)

    def training_info(self) -> dict[str, Any]:
        """What went into the weights, for the exported file's metadata."""
        if self.device.type == "cuda":
            hardware = torch.cuda.get_device_name(self.device)
        else:
            hardware = f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
        counts: dict[str, int] = {}
        for source in self.bank.sources:
            folder = next((str(f) for f in self.config.data if Path(source).is_relative_to(Path(f))), "other")
            counts[folder] = counts.get(folder, 0) + 1
        return {
            "data": counts,
            "photos": len(self.bank),
            "skipped_grey": len(self.bank.skipped_grey),
            "skipped_unreadable": len(self.bank.skipped_corrupt),
            "crop": self.config.crop,
            "batch_size": self.config.batch_size,
            "stages": {
                PRETRAIN: {"loss": "L1", "lr": self.config.pretrain_lr, "betas": [0.9, 0.999],
                           "steps": self.stage_steps[PRETRAIN], "epochs": self._epochs_seen(PRETRAIN),
                           "minutes": round(self.stage_seconds[PRETRAIN] / 60, 2)},
                GAN: {"loss": f"cGAN BCE + {self.config.l1_weight:g} L1", "lr": self.config.gan_lr, "betas": [0.5, 0.999],
                      "discriminator": "PatchGAN 70x70",
                      "steps": self.stage_steps[GAN], "epochs": self._epochs_seen(GAN),
                      "minutes": round(self.stage_seconds[GAN] / 60, 2)},
            },
            "steps": self.step,
            "minutes": round(sum(self.stage_seconds.values()) / 60, 2),
            "hardware": hardware,
            "precision": self.precision.name,
            "torch": torch.__version__,
            "pretrained_encoder": self.config.pretrained,
            "seed": self.config.seed,
        } | self._holdout_info() | (
            {"initialised_from": weights_lineage(self.config.init_weights)} if self.config.init_weights else {})

    def _holdout_info(self) -> dict[str, Any]:
        if self.holdout is None:
            return {}
        info: dict[str, Any] = {"photos": len(self.holdout), "fraction": self.config.holdout, "patience": self.config.patience}
        if self.best.state is not None:
            info["best_l1_stage"] = {"step": self.best.step, "psnr": round(self.best.psnr, 3)}
        return {"holdout": info}

    def export(self, path: str | Path) -> None:
        """Write the generator in vidcolor's safetensors format (fp16 unless ``config.fp16`` is off) with
        the training info in its metadata."""
        spec = generator_spec(self.config.arch)
        save_generator(self.generator, path, self.config.arch, input_size=spec.input_size,
                       training=self.training_info(), dtype=torch.float16 if self.config.fp16 else torch.float32)
        log.info("exported %s to %s", self.config.arch, path)

    # ----------------------------------------------------------------- checkpoints
    def save_checkpoint(self) -> Path:
        """Write ``checkpoint.pt`` atomically (temp file, then rename)."""
        state = {
            "config": self.config.to_dict(),
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "pretrain_optimizer": self.pretrain_optimizer.state_dict(),
            "gan_g_optimizer": self.gan_g_optimizer.state_dict(),
            "gan_d_optimizer": self.gan_d_optimizer.state_dict(),
            "scalers": {net: scaler.state_dict() for net, scaler in self.scalers.items()},  # empty unless fp16
            "progress": {
                "stage_index": self.stage_index, "position": self.position, "step": self.step,
                "stage_steps": self.stage_steps, "stage_epochs": self.stage_epochs, "stage_seconds": self.stage_seconds,
                "photos": len(self.bank), "photos_sha256": self.photos_fingerprint,
            },
            "order": self.order,
            "best_weights": self.best.state_dict(),
            "unrewound_generator": self.unrewound,
            "rng": {
                "data": self.data_rng.get_state(),
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
                "python": random.getstate(),
            },
        }
        path = self.run_dir / CHECKPOINT_NAME
        temporary = path.with_name(path.name + ".tmp")
        with self._writing(path):
            try:
                with open(temporary, "wb") as handle:
                    _save_through(state, _FileWrites(handle))
                temporary.replace(path)
            except BaseException:  # a full disk or Ctrl-C: the last good checkpoint stays, no .tmp beside it
                with suppress(OSError):  # a folder turned read-only, where it was never made: keep the first error
                    temporary.unlink(missing_ok=True)
                raise
        return path

    @contextmanager
    def _writing(self, path: Path | None = None) -> Iterator[None]:
        """Turn a failed write into the run folder (a full disk, a folder made read-only) into an
        :class:`OutputError` that names ``path`` (default: the file that failed) and says where the run stands."""
        try:
            yield
        except OSError as error:
            resume = (f"continue from its last checkpoint with --resume {self.run_dir}"
                      if (self.run_dir / CHECKPOINT_NAME).is_file() else "start the run again")
            raise OutputError(f"cannot write {path or error.filename or self.run_dir} ({error.strerror or error}); "
                              f"free some space or make {self.run_dir} writable, then {resume}") from error

    def load_checkpoint(self, state: dict[str, Any]) -> None:
        """Restore everything :meth:`save_checkpoint` wrote; ``InputError`` if the state does not fit this run."""
        try:
            self._restore(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise InputError(f"{self.run_dir / CHECKPOINT_NAME} does not fit this run ({first_line(error)}); "
                             "start a new run") from error

    def _restore(self, state: dict[str, Any]) -> None:
        progress = state["progress"]
        if progress["photos"] != len(self.bank):
            raise InputError(f"the checkpoint was trained on {progress['photos']} photos but the data now has "
                             f"{len(self.bank)}; put the folders back as they were to resume, or fine-tune its export "
                             "on the new photos in a new run (--init-weights)")
        if self.config.holdout and progress.get("photos_sha256", self.photos_fingerprint) != self.photos_fingerprint:
            raise InputError("the photos under --data changed since the run started (as many, but other files): "
                             "its held-out split would now hold photos it trained on; start a new run")
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.pretrain_optimizer.load_state_dict(state["pretrain_optimizer"])
        self.gan_g_optimizer.load_state_dict(state["gan_g_optimizer"])
        self.gan_d_optimizer.load_state_dict(state["gan_d_optimizer"])
        for net, saved in state.get("scalers", {}).items():
            restore_scaler(self.scalers[net], saved)
        self.stage_index = progress["stage_index"]
        self.position, self.step = progress["position"], progress["step"]
        self.stage_steps, self.stage_epochs = progress["stage_steps"], progress["stage_epochs"]
        self.stage_seconds = progress["stage_seconds"]
        self.order = state["order"]
        self.data_rng.set_state(state["rng"]["data"])
        torch.set_rng_state(state["rng"]["torch"])
        restore_cuda_rng(state["rng"]["cuda"], self.device)
        random.setstate(state["rng"]["python"])
        self.best.load_state_dict(state["best_weights"])
        self.unrewound = state["unrewound_generator"]
        self.history.truncate(self.step)
        if self.holdout_log is not None:
            self.holdout_log.truncate(self.step)
        self._reopen_stages()

    def _reopen_stages(self) -> None:
        """Go back to the last stage that trained, or a later one, if a longer budget leaves it work to do."""
        trained = [index for index, stage in enumerate(STAGES) if self.stage_steps[stage]]
        first = min(self.stage_index, trained[-1] if trained else 0)
        pending = [index for index in range(first, len(STAGES)) if not self._stage_finished(STAGES[index])]
        reopened = pending[0] if pending else len(STAGES)
        if reopened < self.stage_index:
            self.stage_index, self.position, self.order = reopened, 0, None
            if STAGES[reopened] == PRETRAIN and self.unrewound is not None:
                # go on from where the stage stopped training, not from the best weights it ended on,
                # so that its optimiser state fits and a longer budget trains as if given at the start
                self.generator.load_state_dict(self.unrewound)
                self.unrewound = None


class _FileWrites:
    """The target of :func:`torch.save` that keeps what interrupted a write to ``handle`` (a full disk, Ctrl-C):
    torch swallows it and raises a RuntimeError of its own (``unexpected pos``), without the reason."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.failure: BaseException | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.handle.write(data)
        except BaseException as error:
            self.failure = error
            raise

    def flush(self) -> None:
        self.handle.flush()


def _save_through(state: dict[str, Any], target: _FileWrites) -> None:
    """:func:`torch.save` of ``state`` into ``target``, raising what interrupted its writes, not torch's RuntimeError."""
    try:
        torch.save(state, target)
    except RuntimeError as error:
        if target.failure is None:
            raise
        raise target.failure from error


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


def photos_fingerprint(sources: list[str]) -> str:
    """SHA-256 of the run's photo list, in order: a resumed run must see the same photos, not only as many,
    or its hold-out split (drawn by position) would move onto photos it has trained on."""
    return hashlib.sha256("\n".join(sources).encode("utf-8", "surrogateescape")).hexdigest()


def check_init_weights(weights: str | Path, arch: str) -> None:
    """``WeightsError`` unless ``weights`` is a vidcolor generator file of architecture ``arch`` (reads its
    metadata only: cheap enough to check before any photo is decoded)."""
    architecture = read_metadata(weights)["architecture"]
    if architecture != arch:
        raise WeightsError(f"{weights} holds {architecture}, not --arch {arch}")


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


def training_photos_of(config: TrainConfig) -> list[Path]:
    """The photos under ``config.data``, less any that are also under ``config.val`` (never trained on)."""
    paths = collect_images(config.data)
    if config.val:
        val = {path.resolve() for path in find_images(config.val)}
        kept = [path for path in paths if path.resolve() not in val]
        if len(kept) < len(paths):
            log.info("left out %d photos that are also under --val %s", len(paths) - len(kept), config.val)
        if not kept:
            raise InputError(f"every photo under {', '.join(config.data)} is also under --val {config.val}")
        paths = kept
    return paths


def weights_lineage(weights: str | Path) -> dict[str, Any]:
    """The file name and training record of the weights a run started from (the name alone if unreadable now)."""
    try:
        return {"file": Path(weights).name} | read_metadata(weights).get("training", {})
    except WeightsError:
        return {"file": Path(weights).name}


def restore_cuda_rng(saved: torch.Tensor | list[torch.Tensor] | None, device: torch.device) -> None:
    """Give a CUDA ``device`` the RNG state of the device a checkpoint was trained on (``None`` from a CPU run).

    Older checkpoints hold a list, one state per GPU of the machine that wrote them, without saying which GPU
    trained: they are left out (restoring them by number fails on a machine with fewer GPUs, and no training
    step draws on the CUDA generator: crops and flips come from the CPU ``data_rng``)."""
    if device.type == "cuda" and isinstance(saved, torch.Tensor):
        torch.cuda.set_rng_state(saved, device)


def restore_scaler(scaler: torch.amp.GradScaler, saved: dict[str, Any] | None) -> None:
    """Give ``scaler`` the gradient scale of an fp16 run's checkpoint. A checkpoint without one (bf16, float32,
    or written before fp16 training) leaves it fresh, and a disabled scaler ignores it (the run went on a GPU
    that computes in bf16, or the CPU)."""
    if saved:
        scaler.load_state_dict(saved)


def read_checkpoint(run_dir: str | Path) -> dict[str, Any]:
    """The saved state of the run in ``run_dir``; ``InputError`` when it has none."""
    path = Path(run_dir) / CHECKPOINT_NAME
    if not path.is_file():
        raise InputError(f"no {CHECKPOINT_NAME} in {run_dir}; nothing to resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - a cut or foreign file fails in pickle, zipfile or torch, each its own way
        raise InputError(f"{path} is damaged or not a vidcolor training checkpoint ({first_line(error)}); "
                         "start a new run") from error
    missing = _CHECKPOINT_KEYS - set(state) if isinstance(state, dict) else _CHECKPOINT_KEYS
    if missing:
        raise InputError(f"{path} is not a vidcolor training checkpoint (it lacks {', '.join(sorted(missing))}); "
                         "start a new run")
    arch = state["config"].get("arch") if isinstance(state["config"], dict) else None
    if isinstance(arch, str) and arch not in list_generators():
        raise InputError(f"{path} was trained with --arch {arch}, which this version of vidcolor does not have; "
                         "resume it with the version that started it")
    return state


def resume_trainer(run_dir: str | Path, device: torch.device, config: TrainConfig | None = None,
                   bank: ImageBank | None = None, state: dict[str, Any] | None = None) -> Trainer:
    """A trainer continuing the run in ``run_dir`` (``config`` may replace the saved one, e.g. longer budgets;
    ``state`` is its checkpoint when already read)."""
    state = state if state is not None else read_checkpoint(run_dir)
    trainer = Trainer(config or TrainConfig.from_dict(state["config"]), run_dir, device, bank=bank, fresh=False)
    trainer.load_checkpoint(state)
    return trainer
