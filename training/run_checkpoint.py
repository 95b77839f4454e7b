"""The run's ``checkpoint.pt`` as a file: its atomic write, its checked read, and the RNG states, gradient
scales and photo-list fingerprint it carries (the rest of what goes into it is the trainer's: see
:meth:`training.trainer.Trainer.save_checkpoint`)."""

from __future__ import annotations

import hashlib
import random
from contextlib import suppress
from pathlib import Path
from typing import Any, BinaryIO

import torch

from vidcolor.errors import InputError, first_line
from vidcolor.models import list_generators

from .config import CHECKPOINT_NAME

# what every checkpoint holds (Trainer.save_checkpoint writes them, read_checkpoint looks for them); "scalers", the
# gradient scales of fp16 runs, are left out: checkpoints written before they existed resume with fresh ones
CHECKPOINT_KEYS = frozenset({"config", "generator", "discriminator", "pretrain_optimizer", "gan_g_optimizer",
                             "gan_d_optimizer", "progress", "order", "best_weights", "unrewound_generator", "rng"})


def write_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically (temp file, then rename)."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        with open(temporary, "wb") as handle:
            _save_through(state, _FileWrites(handle))
        temporary.replace(path)
    except BaseException:  # a full disk or Ctrl-C: the last good checkpoint stays, no .tmp beside it
        with suppress(OSError):  # a folder turned read-only, where it was never made: keep the first error
            temporary.unlink(missing_ok=True)
        raise


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
    missing = CHECKPOINT_KEYS - set(state) if isinstance(state, dict) else CHECKPOINT_KEYS
    if missing:
        raise InputError(f"{path} is not a vidcolor training checkpoint (it lacks {', '.join(sorted(missing))}); "
                         "start a new run")
    arch = state["config"].get("arch") if isinstance(state["config"], dict) else None
    if isinstance(arch, str) and arch not in list_generators():
        raise InputError(f"{path} was trained with --arch {arch}, which this version of vidcolor does not have; "
                         "resume it with the version that started it")
    return state


def photos_fingerprint(sources: list[str]) -> str:
    """SHA-256 of the run's photo list, in order: a resumed run must see the same photos, not only as many,
    or its hold-out split (drawn by position) would move onto photos it has trained on."""
    return hashlib.sha256("\n".join(sources).encode("utf-8", "surrogateescape")).hexdigest()


def rng_state(data_rng: torch.Generator, device: torch.device) -> dict[str, Any]:
    """The RNG states a run continues from: its data generator (crops, flips, shuffles), torch's, the CUDA
    ``device``'s (``None`` on the CPU) and Python's."""
    return {
        "data": data_rng.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "python": random.getstate(),
    }


def restore_rng(saved: dict[str, Any], data_rng: torch.Generator, device: torch.device) -> None:
    """Give back the RNG states :func:`rng_state` took (the data generator's to ``data_rng``)."""
    data_rng.set_state(saved["data"])
    torch.set_rng_state(saved["torch"])
    restore_cuda_rng(saved["cuda"], device)
    random.setstate(saved["python"])


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
