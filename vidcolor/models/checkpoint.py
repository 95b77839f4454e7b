"""Generator weights on disk: safetensors (no pickle) with a JSON metadata block.

The metadata rebuilds the model on its own: architecture name, input size, normalisation, and
what the weights were trained on and how well they did.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save
from torch import nn

from ..errors import OutputError, WeightsError, first_line
from ..io.output import atomic_output
from ._registry import create_generator, list_generators

FORMAT_NAME = "vidcolor-generator"
FORMAT_VERSION = 1
METADATA_KEY = "vidcolor"
NORMALIZATION = {"l": "L/50-1", "ab": "ab/110", "output": "tanh"}
# sides the generator is built at: the model runs a dummy input of this size through its encoder
MIN_INPUT_SIZE, MAX_INPUT_SIZE = 32, 1024
DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "default.safetensors"
# sha256sum of the bundled default model, checked whenever it is loaded: update it with the file
DEFAULT_WEIGHTS_SHA256 = "d31a9610ad782f058f47068e8ab96e9d839c6a0ed209edbefc2a6f27e02a7ec8"
CHUNK_BYTES = 1 << 20  # files are hashed and scanned a chunk at a time
EXPORT_HINT = "pass a .safetensors file written by vidcolor train (--export or --snapshots)"
RUN_CHECKPOINT = "checkpoint.pt"  # what vidcolor train keeps in its run folder (torch.save)
ZIP_MAGIC = b"PK\x03\x04"  # a zip archive, as torch.save writes since PyTorch 1.6
GIT_LFS_POINTER = b"version https://git-lfs."  # what a clone without Git LFS holds instead of the file
HEAD_BYTES = len(GIT_LFS_POINTER)  # enough to tell these, and safetensors (8 bytes of length, then "{")


def save_generator(
    model: nn.Module,
    path: str | os.PathLike,
    architecture: str,
    input_size: int = 256,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> None:
    """Write ``model``'s weights and metadata to ``path`` (atomically: temp file, then rename)."""
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "architecture": architecture,
        "input_size": input_size,
        "normalization": NORMALIZATION,
        "dtype": str(dtype).removeprefix("torch."),
        "training": training or {},
        "metrics": metrics or {},
    }
    tensors = {
        key: (value.to(dtype) if value.is_floating_point() else value).detach().cpu().contiguous()
        for key, value in model.state_dict().items()
    }
    _write_weights(Path(path), tensors, metadata)


def _write_weights(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Write a safetensors file through a locked temporary file renamed into place (see
    :func:`vidcolor.io.output.atomic_output`); ``OutputError`` when it cannot be written.

    The metadata gains the SHA-256 and length of the tensor data (the bytes after the header, laid out
    the same whatever the metadata), which :func:`load_generator` checks."""
    try:
        metadata = metadata | _data_checksum(save(tensors))
        with atomic_output(path) as temporary:
            # bytes written into the working file as made (mode 0666 less the umask): safetensors' save_file makes
            # its files readable by their owner alone, so a model shared on a server was unreadable to the team
            temporary.write_bytes(save(tensors, metadata={METADATA_KEY: json.dumps(metadata)}))
    except (SafetensorError, OSError) as error:
        raise OutputError(f"cannot write weights to {path} ({error}); check the folder exists and is writable") from error


def _data_checksum(blob: bytes) -> dict[str, Any]:
    """The metadata entries that let a load check the tensor data of the safetensors file ``blob``."""
    data = memoryview(blob)[_data_start(blob):]
    return {"data_sha256": hashlib.sha256(data).hexdigest(), "data_bytes": len(data)}


def _data_start(head: bytes) -> int:
    """Where the tensor data starts in a safetensors file that begins with ``head``: after the header's
    length (8 bytes, little-endian) and the header."""
    return 8 + int.from_bytes(head[:8], "little")


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The validated metadata block of a weights file; ``WeightsError`` if it is not ours."""
    path = Path(path)
    _check_weights_file(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(METADATA_KEY)
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"{path} is not a readable safetensors weights file ({error}); it is damaged, cut short or "
                           f"of another format: {EXPORT_HINT}") from error
    if raw is None:
        raise WeightsError(f"{path} has no vidcolor metadata; it was not saved by vidcolor, which loads only "
                           f"generators it exported, not weights of other tools: {EXPORT_HINT}")
    metadata = _parse_metadata(path, raw)
    _check_format(path, metadata)
    if metadata.get("architecture") not in list_generators():
        raise WeightsError(
            f"{path} names unknown architecture {metadata.get('architecture')!r}; "
            f"known: {', '.join(list_generators())}"
        )
    if metadata.get("normalization") != NORMALIZATION:
        raise WeightsError(f"{path} uses normalisation {metadata.get('normalization')}, expected {NORMALIZATION}")
    _check_input_size(path, metadata.get("input_size"))
    return metadata


def _check_weights_file(path: Path) -> None:
    """``WeightsError`` naming what ``path`` is when it cannot be a weights file: a folder (a training run's?),
    missing, a broken link, a pipe or device, unreadable, or a file of another kind (:func:`_check_file_head`).
    Checked before safetensors opens it: that reports a file without read permission as missing, and a
    checkpoint as a header too large."""
    if path.is_dir():
        raise WeightsError(_folder_message(path))
    if not path.exists():
        if path.is_symlink():
            raise WeightsError(f"{path} is a broken link to {os.readlink(path)}, which does not exist")
        raise WeightsError(f"weights file not found: {path}")
    if not path.is_file():
        raise WeightsError(f"{path} is not a regular file (a pipe or device?); save the weights to a file and "
                           "pass that")
    _check_file_head(path, _file_head(path))


def _folder_message(path: Path) -> str:
    """Why the folder ``path`` is no weights file, and which file to pass instead."""
    if (path / RUN_CHECKPOINT).is_file():
        return (f"{path} is a vidcolor train run folder, not a weights file; pass the weights it exported, or export "
                f"them with vidcolor train --resume {path} --export FILE.safetensors")
    return f"{path} is a folder, not a weights file (.safetensors written by vidcolor train)"


def _file_head(path: Path) -> bytes:
    """The first :data:`HEAD_BYTES` of ``path``; ``WeightsError`` when it cannot be read."""
    try:
        with path.open("rb") as handle:
            return handle.read(HEAD_BYTES)
    except OSError as error:
        hint = "; check the file's permissions" if isinstance(error, PermissionError) else ""
        raise WeightsError(f"cannot read {path} ({error.strerror or first_line(error)}){hint}") from error


def _check_file_head(path: Path, head: bytes) -> None:
    """``WeightsError`` for a file that starts as no safetensors file does: empty, a pickle, a zip archive or a
    Git LFS pointer."""
    if not head:
        raise WeightsError(f"{path} is empty (0 bytes; a copy or download cut short?); copy the weights file again")
    if head[8:9] == b"{":
        return
    if _is_pickle(head) or head.startswith(ZIP_MAGIC) and _is_torch_zip(path):
        run = path.parent if path.name == RUN_CHECKPOINT else "RUN_DIR"
        raise WeightsError(f"{path} is a PyTorch checkpoint (pickle), not exported weights; vidcolor loads "
                           f".safetensors files: a training run's checkpoint.pt gives them with vidcolor train "
                           f"--resume {run} --export FILE.safetensors")
    if head.startswith(ZIP_MAGIC):
        raise WeightsError(f"{path} is a zip archive; unpack it and pass the .safetensors file inside")
    if head == GIT_LFS_POINTER:
        raise WeightsError(f"{path} is a Git LFS pointer, not the weights themselves; fetch them with git lfs pull")


def _is_pickle(head: bytes) -> bool:
    """Whether ``head`` starts a pickle (protocol 2 to 5), as ``torch.save`` wrote before PyTorch 1.6."""
    return len(head) > 2 and head[0] == 0x80 and 2 <= head[1] <= 5 and head[2] != 0


def _is_torch_zip(path: Path) -> bool:
    """Whether the zip archive ``path`` is PyTorch's ``torch.save`` format (it holds ``ARCHIVE/data.pkl``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/data.pkl") or name == "data.pkl" for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _parse_metadata(path: Path, raw: str) -> dict[str, Any]:
    """The JSON object stored under ``METADATA_KEY``; ``WeightsError`` when it is not one."""
    try:
        metadata = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as error:
        raise WeightsError(f"{path} has corrupt metadata ({first_line(error)})") from error
    if not isinstance(metadata, dict):
        raise WeightsError(f"{path} has corrupt metadata (a JSON {type(metadata).__name__}, not an object)")
    return metadata


def _check_format(path: Path, metadata: dict[str, Any]) -> None:
    """``WeightsError`` unless ``metadata`` names our format at the version this code reads."""
    if metadata.get("format") != FORMAT_NAME:
        raise WeightsError(f"{path} is not a vidcolor generator file (format {metadata.get('format')!r})")
    version = metadata.get("format_version")
    if _is_whole_number(version) and version == FORMAT_VERSION:
        return
    if _is_whole_number(version) and version > FORMAT_VERSION:
        raise WeightsError(f"{path} was written by a newer vidcolor (weights format version {version}; this "
                           f"version reads {FORMAT_VERSION}); update vidcolor to use it")
    raise WeightsError(f"{path} has weights format version {version!r}, which this vidcolor cannot read "
                       f"(it reads version {FORMAT_VERSION})")


def _check_input_size(path: Path, size: Any) -> None:
    """``WeightsError`` unless ``size`` is a side the generator can be built for (the model is built at it)."""
    if not (_is_whole_number(size) and MIN_INPUT_SIZE <= size <= MAX_INPUT_SIZE):
        raise WeightsError(f"{path} has input size {size!r} in its metadata, expected a whole number of pixels "
                           f"from {MIN_INPUT_SIZE} to {MAX_INPUT_SIZE}")


def _is_whole_number(value: Any) -> bool:
    """Whether a JSON value is an integer (``true`` is not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_finite_weights(state: Mapping[str, torch.Tensor]) -> None:
    """``WeightsError`` naming the first tensor of ``state`` (a model's ``state_dict()``) that holds NaN or
    infinity (a training run that diverged): such a model colours every frame with garbage (NaN chroma)."""
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise WeightsError(f"the model's {name} holds NaN or infinite values (a training run that diverged?); "
                               "use weights saved before it did")


def load_generator(path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the generator described by ``path`` and load its weights (float32, eval mode)."""
    metadata = read_metadata(path)
    model = create_generator(metadata["architecture"], pretrained=False, input_size=metadata["input_size"])
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"{path} is corrupt ({error})") from error
    state = {key: value.float() if value.is_floating_point() else value for key, value in state.items()}
    # how tensors another tool changed differ is said first: the checksum would only call them damaged
    _load_state(model, state, path, metadata["architecture"])
    _check_integrity(Path(path), metadata)
    try:
        check_finite_weights(state)
    except WeightsError as error:
        raise WeightsError(f"{path}: {error}") from error
    return model.eval(), metadata


def _check_integrity(path: Path, metadata: dict[str, Any]) -> None:
    """``WeightsError`` when the well-formed weights file ``path`` holds damaged tensor data: the bundled
    default model against its known SHA-256, an export against the checksum written into ``metadata``
    (unless another tool stored other tensors since: their data has another length), any other file
    for a tail of zero bytes, as a copy or write cut short leaves in a pre-allocated file."""
    try:
        if DEFAULT_WEIGHTS.is_file() and os.path.samefile(path, DEFAULT_WEIGHTS):
            if _sha256(path, 0) != DEFAULT_WEIGHTS_SHA256:
                raise WeightsError(f"the bundled default model {path} is damaged: its SHA-256 does not match the one "
                                   "this vidcolor was released with; reinstall vidcolor")
            return
        with path.open("rb") as handle:
            start = _data_start(handle.read(8))
        size = path.stat().st_size
        expected = metadata.get("data_sha256")
        if isinstance(expected, str) and metadata.get("data_bytes") == size - start:
            if _sha256(path, start) != expected:
                raise WeightsError(f"{path} is damaged: its tensor data does not match the checksum written with it; "
                                   "export it again or copy it again")
            return
        _check_zero_tail(path, start, size)
    except OSError as error:
        raise WeightsError(f"cannot read {path} ({error.strerror or first_line(error)})") from error


def _sha256(path: Path, start: int) -> str:
    """The SHA-256 of ``path`` from byte ``start`` to its end, read a chunk at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        handle.seek(start)
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _check_zero_tail(path: Path, start: int, size: int) -> None:
    """``WeightsError`` when the zero bytes that end ``path`` (tensor data from ``start`` to ``size``) cover a
    whole weight tensor (2 or more dimensions): never all zeros in a generator, trained or not, while a
    BatchNorm bias or step counter may be."""
    zeros_from = _zero_tail_start(path, start, size)
    if zeros_from == size:
        return
    with path.open("rb") as handle:
        header = json.loads(handle.read(start)[8:])  # well-formed: safetensors has read it
    header.pop("__metadata__", None)
    blanked = sorted((entry["data_offsets"][0], name) for name, entry in header.items() if len(entry["shape"]) >= 2
                     and entry["data_offsets"][0] < entry["data_offsets"][1]
                     and start + entry["data_offsets"][0] >= zeros_from)
    if blanked:
        raise WeightsError(f"{path} is damaged: its last {size - zeros_from} bytes are zeros, blanking {len(blanked)} "
                           f"weight tensors such as {blanked[0][1]!r} (a copy or write cut short?); copy it again "
                           "or export it again")


def _zero_tail_start(path: Path, start: int, size: int) -> int:
    """Where the zero bytes that end ``path`` begin (``size`` when its last byte is not zero), not before ``start``."""
    end = size
    with path.open("rb") as handle:
        while end > start:
            begin = max(start, end - CHUNK_BYTES)
            handle.seek(begin)
            kept = len(handle.read(end - begin).rstrip(b"\0"))
            if kept:
                return begin + kept
            end = begin
    return start


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], path: str | os.PathLike, architecture: str) -> None:
    """Load ``state`` into ``model`` strictly; ``WeightsError`` saying how they differ otherwise."""
    mismatch = _mismatch(model.state_dict(), state)
    if mismatch:
        raise WeightsError(f"{path} does not match architecture {architecture!r} ({mismatch})")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise WeightsError(f"{path} does not match architecture {architecture!r} ({first_line(error)})") from error


def _mismatch(expected: dict[str, torch.Tensor], given: dict[str, torch.Tensor]) -> str:
    """How ``given`` differs from the tensors a model ``expected``, in a few words ('' when it fits)."""
    # BatchNorm fills in its step counter itself when a state lacks it, as strict loading allows
    missing = [name for name in expected if name not in given and not name.endswith("num_batches_tracked")]
    unexpected = [name for name in given if name not in expected]
    reshaped = [name for name in expected if name in given and given[name].shape != expected[name].shape]
    # load_state_dict casts silently: integer tensors (a quantised export) would become garbage float weights
    retyped = [name for name in expected if name in given and expected[name].is_floating_point()
               and not given[name].is_floating_point()]
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensors missing, such as {missing[0]!r}")
    if unexpected:
        parts.append(f"{len(unexpected)} unknown, such as {unexpected[0]!r}")
    if reshaped:
        name = reshaped[0]
        parts.append(f"{len(reshaped)} of another shape, such as {name!r}: {tuple(given[name].shape)} "
                     f"instead of {tuple(expected[name].shape)}")
    if retyped:
        name = retyped[0]
        parts.append(f"{len(retyped)} not floating point, such as {name!r} "
                     f"({str(given[name].dtype).removeprefix('torch.')}; a quantised export?)")
    return "; ".join(parts)


def update_metadata(path: str | os.PathLike, changes: dict[str, Any]) -> None:
    """Merge ``changes`` into the metadata block of ``path``, keeping the tensors as stored."""
    metadata = read_metadata(path)
    _check_integrity(Path(path), metadata)  # else the checksum written below would vouch for damaged tensors
    metadata |= changes
    tensors = load_file(str(path), device="cpu")
    _write_weights(Path(path), tensors, metadata)


def default_weights_path() -> Path:
    """The bundled default model; ``WeightsError`` when this install has none."""
    if not DEFAULT_WEIGHTS.is_file():
        raise WeightsError("no default model is bundled with this install; pass --weights FILE.safetensors")
    return DEFAULT_WEIGHTS
