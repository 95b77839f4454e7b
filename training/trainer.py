"""The two-stage pix2pix training loop: L1 pretraining of the generator, then the cGAN stage.

Steps run in bf16 autocast on CUDA GPUs that compute in it (Ampere on), in fp16 autocast with a gradient
scaler on older ones (T4, V100, P100) and in float32 on the CPU (see :func:`training.steps.training_precision`).

Everything needed to continue a run exactly (weights, optimisers, gradient scales, stage, epoch, position in the
epoch's shuffled order, step, elapsed time, RNG states, the best held-out weights) is saved in
``RUN_DIR/checkpoint.pt`` every ``outputs_every`` epochs (default 1), every ``checkpoint_minutes``
and when a stage ends. With ``holdout`` set, held-out photos are scored at the same moments
(see :mod:`training.holdout`).

One step of each stage is :mod:`training.steps`, the checkpoint file :mod:`training.run_checkpoint`, the
sample sheet :mod:`training.samples` and the exported training record :mod:`training.run_info`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from vidcolor.errors import InputError, OutputError, WeightsError, first_line
from vidcolor.models import (
    PatchDiscriminator,
    create_generator,
    generator_spec,
    load_generator,
    read_metadata,
    save_generator,
)

from . import plots
from .run_checkpoint import (
    photos_fingerprint,
    read_checkpoint,
    restore_rng,
    restore_scaler,
    rng_state,
    write_checkpoint,
)
from .config import CHECKPOINT_NAME, PRETRAIN, STAGES, TrainConfig
from .data import ImageBank, build_bank, collect_images, find_images, random_crops, to_model_pair
from .history import LossHistory
from .holdout import BestWeights, HoldoutLog, score_holdout, split_bank
from .run_info import training_info
from .samples import bank_preview_batch, predict_preview, val_preview_batch, write_sample_sheet
from .steps import (
    check_finite,
    check_values_per_step,
    device_precision,
    gan_step,
    pretrain_step,
)


log = logging.getLogger(__name__)


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
        self.preview = val_preview if val_preview is not None else bank_preview_batch(
            self.bank, config.preview_count, config.crop)

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

    # ----------------------------------------------------------------- steps
    def pretrain_step(self, l_norm: torch.Tensor, ab_norm: torch.Tensor) -> dict[str, float]:
        """One Adam step of the generator on L1 alone."""
        return pretrain_step(self.generator, self.pretrain_optimizer, self.scalers["generator"], self.precision,
                             l_norm, ab_norm)

    def gan_step(self, l_norm: torch.Tensor, ab_norm: torch.Tensor) -> dict[str, float]:
        """One discriminator step, then one generator step on cGAN loss + ``l1_weight`` x L1."""
        return gan_step(self.generator, self.discriminator, self.gan_g_optimizer, self.gan_d_optimizer, self.scalers,
                        self.precision, self.config.l1_weight, l_norm, ab_norm)

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
                check_finite(stage, self.step + 1, losses, self.precision)
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
        images = predict_preview(self.generator, self.preview, self.device, self.precision)
        write_sample_sheet(*images, self.run_dir / "samples" / f"{tag}.png")
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

    def training_info(self) -> dict[str, Any]:
        """What went into the weights, for the exported file's metadata."""
        return training_info(config=self.config, bank=self.bank, holdout=self.holdout, best=self.best,
                             device=self.device, precision=self.precision, step=self.step,
                             stage_steps=self.stage_steps, stage_seconds=self.stage_seconds,
                             imagenet_encoder=getattr(self.generator, "imagenet_encoder", False))

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
            "rng": rng_state(self.data_rng, self.device),
        }
        path = self.run_dir / CHECKPOINT_NAME
        with self._writing(path):
            write_checkpoint(state, path)
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
        restore_rng(state["rng"], self.data_rng, self.device)
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


def check_init_weights(weights: str | Path, arch: str) -> None:
    """``WeightsError`` unless ``weights`` is a vidcolor generator file of architecture ``arch`` (reads its
    metadata only: cheap enough to check before any photo is decoded)."""
    architecture = read_metadata(weights)["architecture"]
    if architecture != arch:
        raise WeightsError(f"{weights} holds {architecture}, not --arch {arch}")


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


def resume_trainer(run_dir: str | Path, device: torch.device, config: TrainConfig | None = None,
                   bank: ImageBank | None = None, state: dict[str, Any] | None = None) -> Trainer:
    """A trainer continuing the run in ``run_dir`` (``config`` may replace the saved one, e.g. longer budgets;
    ``state`` is its checkpoint when already read)."""
    state = state if state is not None else read_checkpoint(run_dir)
    trainer = Trainer(config or TrainConfig.from_dict(state["config"]), run_dir, device, bank=bank, fresh=False)
    trainer.load_checkpoint(state)
    return trainer
