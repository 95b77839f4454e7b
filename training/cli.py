"""``vidcolor train`` and ``vidcolor evaluate``: parse options, then call the training library."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any

import click
import torch
from click.core import ParameterSource
from tqdm import tqdm

from vidcolor.commands._common import FiniteFloatRange, Interrupted, device_option, one_line_errors
from vidcolor.errors import InputError, OutputBusyError, OutputError, WeightsError, first_line, shown_name
from vidcolor.io.output import held_exclusively
from vidcolor.models import list_generators
from vidcolor.worker import resolve_device

from .config import CHECKPOINT_NAME, GAN, StageBudget, TrainConfig


class _ProgressBarSafeHandler(logging.Handler):
    """Log lines on stderr above the progress bar (through ``tqdm.write``), not run into it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never break the run
            self.handleError(record)


@contextmanager
def _logging_to(run_dir: Path) -> Iterator[None]:
    """Log INFO and above to ``run_dir/train.log`` and to stderr while the block runs."""
    run_dir.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    previous_level = root.level
    handlers = [_QuietFileHandler(run_dir / "train.log"), _ProgressBarSafeHandler()]
    root.setLevel(logging.INFO)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(previous_level)


class _QuietFileHandler(logging.FileHandler):
    """The run's ``train.log``: a line it cannot write (a full disk) is left out without logging's traceback on
    stderr, where the same line is shown anyway; the run's own writes report the full disk in one line."""

    def handleError(self, record: logging.LogRecord) -> None:
        """Leave the line out."""

    def close(self) -> None:
        """Close the file; lines it could not take on a full disk are dropped, not raised over the run's error."""
        with suppress(OSError):
            super().close()


def _data_folders(data: tuple[str, ...]) -> list[str]:
    folders = []
    for entry in data:
        if entry == "coco":
            from .data import coco_sample_dir

            folders.append(str(coco_sample_dir()))
        elif not Path(entry).is_dir():
            raise click.BadParameter(f"{entry} is not a folder", param_hint="--data")
        else:
            folders.append(str(Path(entry).resolve()))  # absolute: a resumed run finds them from any folder
    return folders


# What a resumed run may be given again: budgets, early stopping, outputs, and where and how it runs.
# The rest (data, architecture, crops, learning rates, seed, ...) is the run's own, fixed when it started.
_RESUME_OPTIONS = frozenset({"resume", "pretrain_epochs", "pretrain_minutes", "gan_epochs", "gan_minutes", "holdout",
                             "patience", "snapshots", "checkpoint_minutes", "device", "threads", "export", "fp16"})


def _refuse_options_a_resume_cannot_change(ctx: click.Context) -> None:
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if param.name not in _RESUME_OPTIONS and source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            raise click.BadParameter("a resumed run keeps the settings it started with; to change it, start a new run "
                                     "from its exported weights with --init-weights", param_hint=param.opts[0])


# options that only act on the L1 stage, which a run cannot go back to once its GAN stage has trained
_L1_STAGE_OPTIONS = ("pretrain_epochs", "pretrain_minutes", "patience")


def _refuse_l1_options_a_resume_would_ignore(ctx: click.Context, state: dict[str, Any], config: TrainConfig) -> None:
    """A usage error for an L1-stage budget or ``--patience`` given again where the L1 stage cannot train on: the
    GAN stage has trained on top of it, or it ended early on ``--patience`` scorings that a budget alone does not
    undo. The run would start, do nothing of what was asked, and exit 0."""
    given = [param for param in ctx.command.params
             if param.name in _L1_STAGE_OPTIONS and ctx.get_parameter_source(param.name) == ParameterSource.COMMANDLINE]
    if not given:
        return
    try:
        gan_steps = state["progress"]["stage_steps"][GAN]
        stale = state["best_weights"]["stale"]
    except (KeyError, TypeError) as error:
        raise click.BadParameter(f"{CHECKPOINT_NAME} is not a vidcolor training checkpoint ({error!r})",
                                 param_hint="--resume") from error
    if gan_steps:
        raise click.BadParameter(f"the run's GAN stage has trained ({gan_steps} steps), so its L1 stage is over and "
                                 "cannot train on; give --gan-epochs or --gan-minutes, or fine-tune its export in a new "
                                 "run (--init-weights)", param_hint=given[0].opts[0])
    if config.patience is not None and stale >= config.patience:
        raise click.BadParameter(f"the run's L1 stage ended early, after {stale} held-out scorings without a gain; "
                                 f"give --patience above {stale} with it to train on", param_hint=given[0].opts[0])


def _check_init_weights(weights: Path, arch: str) -> None:
    """A usage error, before any photo is decoded, for --init-weights that are not a generator of ``arch``."""
    from .trainer import check_init_weights

    try:
        check_init_weights(weights, arch)
    except WeightsError as error:
        raise click.BadParameter(str(error), param_hint="--init-weights") from error


def _saved_state(run_dir: Path) -> dict[str, Any]:
    """The checkpoint of the run in ``run_dir``, or a usage error saying why there is none to resume."""
    from .run_checkpoint import read_checkpoint

    try:
        return read_checkpoint(run_dir)
    except InputError as error:
        raise click.BadParameter(str(error), param_hint="--resume") from error


def _resumed_config(state: dict[str, Any], run_dir: Path, pretrain: StageBudget, gan: StageBudget,
                    holdout: float | None, patience: int | None, snapshots: bool, checkpoint_minutes: float | None,
                    fp16: bool | None) -> TrainConfig:
    """The config saved in ``state``; budgets, ``--patience``, ``--snapshots``, ``--checkpoint-minutes`` and
    ``--fp16/--fp32`` given again on the command line (not None) replace the saved ones. The hold-out split
    is fixed for the life of a run."""
    try:
        config = TrainConfig.from_dict(state["config"])
    except (KeyError, TypeError) as error:
        raise click.BadParameter(f"{run_dir}/checkpoint.pt is not a vidcolor training checkpoint ({error!r})",
                                 param_hint="--resume") from error
    if checkpoint_minutes is not None:
        config.checkpoint_minutes = checkpoint_minutes
    if pretrain.epochs is not None or pretrain.minutes is not None:
        config.pretrain = pretrain
    if gan.epochs is not None or gan.minutes is not None:
        config.gan = gan
    if holdout is not None and holdout != config.holdout:
        raise click.BadParameter(f"the run holds out {config.holdout:g} of its photos; a resumed run keeps its split",
                                 param_hint="--holdout")
    if patience is not None:
        if not config.holdout:
            raise click.BadParameter("needs a run with --holdout: patience counts held-out scorings", param_hint="--patience")
        config.patience = patience
    config.snapshots = config.snapshots or snapshots
    if fp16 is not None:
        config.fp16 = fp16
    return config


@click.command("train")
@click.option("--data", "data", multiple=True, help="Folder of colour photos (searched recursively); repeatable. 'coco' downloads fastai's COCO sample.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), help="Run folder (checkpoint, logs, plots).")
@click.option("--resume", "resume", type=click.Path(file_okay=False, exists=True, path_type=Path), help="Continue the run in this folder.")
@click.option("--arch", type=click.Choice(list_generators()), default="lite0-unet", show_default=True, help="Generator architecture (see README: Models).")
@click.option("--pretrained/--no-pretrained", default=True, show_default=True, help="Start from ImageNet encoder weights.")
@click.option("--init-weights", type=click.Path(dir_okay=False, exists=True, path_type=Path), help="Start the generator from these exported weights (fine-tuning) instead.")
@click.option("--crop", type=click.IntRange(32, 1024), default=128, show_default=True, help="Training crop size (a multiple of 32).")
@click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True, help="Photos per training step.")
@click.option("--pretrain-lr", type=FiniteFloatRange(0, min_open=True), default=1e-4, show_default=True, help="Adam lr of the L1 stage.")
@click.option("--gan-lr", type=FiniteFloatRange(0, min_open=True), default=2e-4, show_default=True, help="Adam lr of both nets in the GAN stage.")
@click.option("--pretrain-epochs", type=click.IntRange(min=0), help="Epochs of L1 pretraining.")
@click.option("--pretrain-minutes", type=FiniteFloatRange(0, min_open=True), help="Minutes of L1 pretraining.")
@click.option("--gan-epochs", type=click.IntRange(min=0), help="Epochs of the GAN stage.")
@click.option("--gan-minutes", type=FiniteFloatRange(0, min_open=True), help="Minutes of the GAN stage.")
@click.option("--checkpoint-minutes", type=FiniteFloatRange(0, min_open=True), default=10.0, show_default=True, help="Also checkpoint this often inside an epoch.")
@click.option("--outputs-every", type=click.IntRange(1), default=1, show_default=True, help="Checkpoint, sample sheet and loss curve every N epochs (raise it when epochs take seconds, as on a GPU).")
@click.option("--val", type=click.Path(file_okay=False, exists=True), help="Photos for the per-epoch sample sheet (never trained on).")
@click.option("--holdout", type=FiniteFloatRange(0, 0.5), help="Share of the photos set aside (never trained on) and scored at every output epoch: holdout.csv/.png. Default 0 (none).")
@click.option("--patience", type=click.IntRange(1), help="End the L1 stage after this many held-out scorings without a PSNR gain (needs --holdout); it ends on its best weights.")
@click.option("--snapshots", is_flag=True, help="Also export the generator at every output epoch to RUN/snapshots/.")
@device_option
@click.option("--threads", type=click.IntRange(1), help="CPU threads for torch (default: torch's choice).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the new layers' weights, the hold-out split, crops, flips and photo order.")
@click.option("--export", "export", type=click.Path(dir_okay=False, path_type=Path), help="Write the trained generator here (.safetensors).")
@click.option("--fp16/--fp32", default=True, show_default=True, help="Precision of the exported weights (--export and --snapshots).")
@one_line_errors
def train_command(data: tuple[str, ...], out: Path | None, resume: Path | None, arch: str, pretrained: bool,
                  init_weights: Path | None, crop: int,
                  batch_size: int, pretrain_lr: float, gan_lr: float, pretrain_epochs: int | None,
                  pretrain_minutes: float | None, gan_epochs: int | None, gan_minutes: float | None,
                  checkpoint_minutes: float, outputs_every: int, val: str | None, holdout: float | None, patience: int | None,
                  snapshots: bool, device: str, threads: int | None, seed: int, export: Path | None, fp16: bool) -> None:
    """Train a colouriser: L1 pretraining, then the pix2pix GAN stage."""
    from .trainer import Trainer, resume_trainer

    ctx = click.get_current_context()
    if resume is not None:
        _refuse_options_a_resume_cannot_change(ctx)
    if crop % 32:
        raise click.BadParameter("must be a multiple of 32", param_hint="--crop")
    if resume is None and (not data or out is None):
        raise click.UsageError("give --data and --out for a new run, or --resume RUN_DIR")
    if export is not None and export.suffix != ".safetensors":
        raise click.BadParameter("must end in .safetensors", param_hint="--export")
    if export is not None:
        try:  # before the training: a bad --export must not waste it
            export.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise click.BadParameter(f"cannot create {export.parent} ({error.strerror})", param_hint="--export") from error
        if not os.access(export.parent, os.W_OK | os.X_OK):
            raise click.BadParameter(f"cannot write into {export.parent} (read-only or no permission)", param_hint="--export")
    if patience is not None and not holdout and resume is None:
        raise click.BadParameter("needs --holdout: patience counts held-out scorings", param_hint="--patience")
    torch_device = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    if resume is not None:
        def given(name: str) -> bool:
            return ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE

        state = _saved_state(resume)
        config = _resumed_config(state, resume, StageBudget(pretrain_epochs, pretrain_minutes),
                                 StageBudget(gan_epochs, gan_minutes), holdout, patience, snapshots,
                                 checkpoint_minutes if given("checkpoint_minutes") else None,
                                 fp16 if given("fp16") else None)
        _refuse_l1_options_a_resume_would_ignore(ctx, state, config)
    else:
        if (out / CHECKPOINT_NAME).is_file():
            raise click.BadParameter(f"{out} already holds a run; continue it with --resume {out}", param_hint="--out")
        config = TrainConfig(
            data=_data_folders(data), arch=arch, pretrained=pretrained, crop=crop, batch_size=batch_size,
            pretrain_lr=pretrain_lr, gan_lr=gan_lr,
            pretrain=StageBudget(pretrain_epochs, pretrain_minutes),
            gan=StageBudget(gan_epochs, gan_minutes),
            checkpoint_minutes=checkpoint_minutes, outputs_every=outputs_every, seed=seed,
            val=str(Path(val).resolve()) if val else None,
            init_weights=str(init_weights.resolve()) if init_weights else None, holdout=holdout or 0.0, patience=patience,
            snapshots=snapshots, fp16=fp16,
        )
        if not (config.pretrain.active or config.gan.active):
            raise click.UsageError("give a budget: --pretrain-epochs/--pretrain-minutes and/or --gan-epochs/--gan-minutes")
        if init_weights is not None:
            _check_init_weights(init_weights, arch)
        watched = [("--data", folder, "training photos") for folder in config.data]
        watched += [("--val", config.val, "the photos it shows and scores")] if config.val else []
        for option, folder, role in watched:
            if Path(folder) == out.resolve() or Path(folder) in out.resolve().parents:
                raise click.BadParameter(f"{out} is inside {option} {folder}: the run's own pictures would become "
                                         f"{role}; choose a run folder outside it", param_hint="--out")
    if export is not None and config.init_weights and export.resolve() == Path(config.init_weights):
        raise click.BadParameter(f"{export} is the run's --init-weights, which it would overwrite; export elsewhere",
                                 param_hint="--export")
    run_dir = resume or out
    log = logging.getLogger(__name__)
    created = not run_dir.exists()
    with _held_run_folder(run_dir):
        try:
            with _logging_to(run_dir):
                try:
                    if resume is not None:
                        trainer = resume_trainer(resume, torch_device, config, state=state)
                        log.info("resumed %s at step %d (stage %s)", resume, trainer.step, trainer.stage)
                    else:
                        trainer = Trainer(config, run_dir, torch_device)
                        if init_weights is not None:
                            trainer.start_from(init_weights)
                    log.info("config: %s; device %s, %d threads", config.to_dict(), torch_device, torch.get_num_threads())
                    trainer.run()
                    if export is not None:
                        trainer.export(export)
                except KeyboardInterrupt:
                    if not (run_dir / CHECKPOINT_NAME).is_file():
                        raise Interrupted("interrupted before the first checkpoint; nothing to resume: start the run "
                                          "again") from None
                    raise Interrupted(f"interrupted; continue from the last checkpoint with --resume {run_dir}") from None
        except BaseException as error:
            _close_failed_run(run_dir, created, error)
            raise


@contextmanager
def _held_run_folder(run_dir: Path) -> Iterator[None]:
    """Make ``run_dir`` and hold a lock on its ``train.log`` while the run trains (see
    :func:`vidcolor.io.output.held_exclusively`): a second ``vidcolor train`` on the same folder (a resume started
    twice, a new run given the same ``--out``) interleaved its loss rows, sheets and checkpoints with this run's."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a read-only drive, a file in the way
        raise OutputError(f"cannot create the run folder {run_dir} ({error.strerror or error}); choose another "
                          "--out") from error
    with ExitStack() as stack:
        try:
            stack.enter_context(held_exclusively(run_dir / "train.log", run_dir))
        except OutputBusyError:
            raise OutputBusyError(f"{run_dir} is being trained by another run right now (its train.log is locked); "
                                  "wait for that run to end, or stop it first") from None
        yield


def _close_failed_run(run_dir: Path, created: bool, error: BaseException) -> None:
    """A run that stopped on an error or Ctrl-C: a folder this run made and left without a checkpoint or
    exported weights holds nothing to resume or keep, so it goes; otherwise ``train.log`` ends with the
    reason (stderr has it already)."""
    exported = any(run_dir.rglob("*.safetensors")) if run_dir.is_dir() else False  # snapshots are results
    if created and not exported and not (run_dir / CHECKPOINT_NAME).is_file():
        shutil.rmtree(run_dir, ignore_errors=True)
    elif run_dir.is_dir():
        with suppress(OSError):  # a full disk: the reason is on stderr, and must not give way to this error
            with open(run_dir / "train.log", "a", encoding="utf-8") as log_file:
                log_file.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} ERROR the run stopped: {first_line(error)}\n")


@click.command("evaluate")
@click.option("--data", "data_folders", required=True, multiple=True, type=click.Path(file_okay=False, exists=True, path_type=Path), help="Folder of colour photos; each sub-folder is scored separately.")
@click.option("--weights", type=click.Path(exists=True, path_type=Path), help="Generator .safetensors file (default: the bundled model).")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), help="Write evaluation.csv/.md/.png and samples.png here.")
@click.option("--render-size", type=click.IntRange(32), default=256, show_default=True, help="Side the model sees (a multiple of 32).")
@device_option
@click.option("--saturation", type=FiniteFloatRange(min=0.0, max=4.0), default=1.0, show_default=True,
              help="Multiply the model's colour strength, as vidcolor --saturation does.")
@click.option("--samples", type=click.IntRange(0), default=6, show_default=True, help="Photos on the sample sheet (with --out).")
@one_line_errors
def evaluate_command(data_folders: tuple[Path, ...], weights: Path | None, out: Path | None, render_size: int,
                     device: str, saturation: float, samples: int) -> None:
    """Score a model against the truth and the grey baseline: PSNR, SSIM, colourfulness."""
    from .evaluate import check_saved_names, output_folder

    if len(data_folders) > 1:  # click would keep the last one alone, without a word
        raise click.BadParameter(f"given {len(data_folders)} times, but evaluate scores one folder (a row per "
                                 "sub-folder); to score several together, put them, or links to them, in one folder",
                                 param_hint="--data")
    data = data_folders[0]
    if render_size % 32:
        raise click.BadParameter("must be a multiple of 32", param_hint="--render-size")
    if out is not None and (out.resolve() == data.resolve() or data.resolve() in out.resolve().parents):
        raise click.BadParameter(f"{out} is inside --data {data}: its pictures would be scored next time; "
                                 "choose a folder outside it", param_hint="--out")
    if out is not None:
        check_saved_names(out)
    # made before the work, so that a bad --out wastes no evaluation; removed again if the evaluation fails
    with output_folder(out) if out is not None else nullcontext():
        _evaluate_and_save(data, weights, out, render_size, device, saturation, samples)


def _evaluate_and_save(data: Path, weights: Path | None, out: Path | None, render_size: int, device: str,
                       saturation: float, samples: int) -> None:
    """Score the model on ``data``, print the table and, with ``out``, save it and the sample sheet there."""
    import numpy as np

    from vidcolor.models import default_weights_path
    from vidcolor.worker import Colorizer

    from .data import find_images
    from .evaluate import evaluate, markdown_table, sample_rows, save_table

    weights = weights or default_weights_path()
    colorizer = Colorizer.from_weights(weights, device=device, render_size=render_size, saturation=saturation)
    skip_log = logging.getLogger("training.evaluate")
    handler = _ProgressBarSafeHandler()  # skipped photos: the count, and any that failed in an unforeseen way
    skip_log.addHandler(handler)
    skip_log.setLevel(logging.INFO)
    try:
        rows = evaluate(data, colorizer)
    finally:
        skip_log.removeHandler(handler)
    title = shown_name(f"{weights.name} on {data}") + (f", --saturation {saturation:g}" if saturation != 1.0 else "")
    click.echo(markdown_table(rows, title))
    if out is not None:
        photos = find_images(data)
        sheet_rows = []
        if samples and photos:
            picks = [photos[int(i)] for i in np.linspace(0, len(photos) - 1, min(samples, len(photos)))]
            spares = [path for path in photos if path not in set(picks)]  # stand in for unreadable picks
            sheet_rows = sample_rows(picks + spares, colorizer, count=samples)
        # all files at once, after the slow sheet rows: Ctrl-C leaves an earlier evaluation's files whole
        written = save_table(rows, out, title, sheet_rows)
        click.echo("wrote " + ", ".join(map(str, written)))
