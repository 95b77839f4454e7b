"""Safetensors checkpoints: round trip, fp16 storage, and clear errors for wrong or corrupt files."""

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from tests.locks import CONTENT, fcntl, written_by_another_run
from vidcolor.errors import OutputError, WeightsError
from vidcolor.models import (checkpoint, create_generator, load_generator, read_metadata, save_generator,
                             update_metadata)


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return create_generator("tiny-unet").eval()


def test_round_trip_gives_identical_outputs(tmp_path, tiny_model):
    path = tmp_path / "tiny.safetensors"
    save_generator(tiny_model, path, "tiny-unet", metrics={"psnr": 23.4}, training={"data": ["x"]})
    loaded, metadata = load_generator(path)
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), tiny_model(x))
    assert metadata["architecture"] == "tiny-unet" and metadata["metrics"]["psnr"] == 23.4
    assert read_metadata(path)["normalization"] == {"l": "L/50-1", "ab": "ab/110", "output": "tanh"}
    assert sorted(tmp_path.iterdir()) == [path]  # no temporary file left beside it


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_exported_weights_are_readable_by_all_as_other_new_files_are(tmp_path, tiny_model):
    """safetensors' save_file makes its files 0600: a model exported on a shared server was unreadable to others."""
    path = tmp_path / "tiny.safetensors"
    umask = os.umask(0o022)
    try:
        save_generator(tiny_model, path, "tiny-unet")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_fp16_storage_loads_as_float32(tmp_path, tiny_model):
    path = tmp_path / "half.safetensors"
    save_generator(tiny_model, path, "tiny-unet", dtype=torch.float16)
    loaded, metadata = load_generator(path)
    assert metadata["dtype"] == "float16"
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded(x), tiny_model(x), atol=1e-2)


def test_missing_file(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_generator(tmp_path / "nope.safetensors")


def test_a_folder_given_as_weights_is_named_as_a_folder(tmp_path):
    with pytest.raises(WeightsError, match="is a folder, not a weights file"):
        load_generator(tmp_path)


def test_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.safetensors"
    path.write_bytes(b"\x00\x01 definitely not safetensors")
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        load_generator(path)


def test_truncated_file(tmp_path, tiny_model):
    path = tmp_path / "cut.safetensors"
    save_generator(tiny_model, path, "tiny-unet")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WeightsError):
        load_generator(path)


def test_foreign_safetensors_without_metadata(tmp_path):
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(WeightsError, match="no vidcolor metadata"):
        load_generator(path)


def test_unknown_architecture_and_mismatched_weights(tmp_path, tiny_model):
    path = tmp_path / "odd.safetensors"
    tensors = {k: v.contiguous() for k, v in tiny_model.state_dict().items()}
    meta = {"format": "vidcolor-generator", "format_version": 1, "architecture": "gpt-5", "input_size": 256,
            "normalization": {"l": "L/50-1", "ab": "ab/110", "output": "tanh"}}
    save_file(tensors, str(path), metadata={"vidcolor": json.dumps(meta)})
    with pytest.raises(WeightsError, match="unknown architecture"):
        load_generator(path)
    meta["architecture"] = "lite0-unet"
    save_file(tensors, str(path), metadata={"vidcolor": json.dumps(meta)})
    with pytest.raises(WeightsError, match="does not match architecture"):
        load_generator(path)


def test_metadata_that_is_not_an_object(tmp_path):
    path = tmp_path / "list.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"vidcolor": "[1, 2]"})
    with pytest.raises(WeightsError, match="corrupt metadata"):
        load_generator(path)


def test_a_mismatch_is_described_not_cut_at_a_colon(tmp_path, tiny_model):
    """The message ended at 'Error(s) in loading state_dict for ColorizationGenerator:' with nothing after it."""
    path = tmp_path / "reshaped.safetensors"
    save_generator(tiny_model, path, "tiny-unet")
    tensors = load_file(str(path))
    name, removed = [key for key in tensors if key.endswith(".weight")][:2]
    tensors[name] = torch.zeros(3, 1)
    tensors["extra.weight"] = torch.zeros(1)
    del tensors[removed]
    save_file(tensors, str(path), metadata=safe_open(str(path), "pt").metadata())
    with pytest.raises(WeightsError) as caught:
        load_generator(path)
    message = str(caught.value)
    assert "1 tensors missing" in message and "1 unknown, such as 'extra.weight'" in message
    assert f"1 of another shape, such as {name!r}: (3, 1) instead of" in message


def test_weights_without_batchnorm_step_counters_still_load(tmp_path):
    """Strict loading lets BatchNorm fill in num_batches_tracked; the mismatch check refused such files."""
    path = tmp_path / "lite.safetensors"
    model = create_generator("lite0-unet", pretrained=False)
    save_generator(model, path, "lite0-unet")
    tensors = {name: value for name, value in load_file(str(path)).items() if not name.endswith("num_batches_tracked")}
    assert len(tensors) < len(load_file(str(path)))
    save_file(tensors, str(path), metadata=safe_open(str(path), "pt").metadata())
    loaded, _ = load_generator(path)
    for name, value in tensors.items():
        assert torch.equal(loaded.state_dict()[name].to(value.dtype), value), name


def _rewrite_metadata(path, **changes):
    """Store ``path``'s tensors again with its vidcolor metadata changed (a value of None drops the key)."""
    metadata = json.loads(safe_open(str(path), "pt").metadata()["vidcolor"]) | changes
    metadata = {key: value for key, value in metadata.items() if value is not None}
    save_file(load_file(str(path)), str(path), metadata={"vidcolor": json.dumps(metadata)})


def test_a_newer_format_version_says_to_update_vidcolor(tmp_path, tiny_model):
    """A file from a newer vidcolor was called 'not a vidcolor generator file (format 'vidcolor-generator')'."""
    path = tmp_path / "future.safetensors"
    save_generator(tiny_model, path, "tiny-unet")
    _rewrite_metadata(path, format_version=2)
    with pytest.raises(WeightsError, match="newer vidcolor .*version 2.*update vidcolor"):
        load_generator(path)
    for version in (0, "1", True):
        _rewrite_metadata(path, format_version=version)
        with pytest.raises(WeightsError, match=f"format version {version!r}, which this vidcolor cannot read"):
            load_generator(path)


@pytest.mark.parametrize("size", [None, "256", 256.0, True, -64, 0, 8, 10**6])
def test_input_size_in_the_metadata_is_checked_before_the_model_is_built(tmp_path, tiny_model, size):
    """The model is built at the stored size: a missing one was a KeyError, a string or float a TypeError from
    torch, and 10**6 tried to allocate terabytes for fastai's dummy forward pass."""
    path = tmp_path / "sized.safetensors"
    save_generator(tiny_model, path, "tiny-unet")
    _rewrite_metadata(path, input_size=size)
    with pytest.raises(WeightsError, match=f"input size {size!r} in its metadata, expected a whole number"):
        load_generator(path)


def test_deeply_nested_metadata_is_corrupt_metadata(tmp_path):
    """JSON nested deeper than Python's recursion limit raised RecursionError, not a WeightsError."""
    path = tmp_path / "deep.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"vidcolor": "[" * 100_000 + "]" * 100_000})
    with pytest.raises(WeightsError, match="corrupt metadata"):
        read_metadata(path)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e6])
def test_loading_refuses_weights_holding_nan_or_infinity(tmp_path, tiny_model, value):
    """Only the Colorizer checked: a diverged file loaded silently for fine-tuning and blending. 1e6 is finite in
    float32 but infinite once stored in fp16."""
    with torch.no_grad():
        tiny_model.unet.layers[0][0][0].weight.view(-1)[0] = value
    path = tmp_path / "diverged.safetensors"
    save_generator(tiny_model, path, "tiny-unet", dtype=torch.float16)
    with pytest.raises(WeightsError, match=f"^{path}: the model's unet.layers.0.0.0.weight holds NaN or infinite"):
        load_generator(path)


@pytest.mark.skipif(fcntl is None, reason="no flock on this system")
def test_two_exports_to_one_file_at_once_do_not_write_into_each_other(tmp_path, tiny_model):
    """Every export wrote NAME.tmp: two runs exporting to one path at once wrote one temporary file."""
    path = tmp_path / "tiny.safetensors"
    with written_by_another_run(path) as working:
        with pytest.raises(OutputError, match="being written by another run"):
            save_generator(tiny_model, path, "tiny-unet")
        assert working.read_bytes() == CONTENT and not path.exists()


@pytest.mark.parametrize("protocol", [2, 5])
def test_a_legacy_pytorch_pickle_of_any_protocol_is_named_as_a_checkpoint(tmp_path: Path, protocol: int) -> None:
    """torch.save's pre-1.6 format pickles with the protocol asked for (2 to 5): each is named a checkpoint."""
    path = tmp_path / "generator.pth"
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=False, pickle_protocol=protocol)
    assert path.read_bytes()[:2] == bytes([0x80, protocol])
    with pytest.raises(WeightsError, match=f"^{path} is a PyTorch checkpoint"):
        load_generator(path)


def test_weights_built_at_the_smallest_input_size_load_and_one_pixel_less_is_refused(tmp_path: Path) -> None:
    """Input sizes from 32 to 1024 pixels are accepted: 32 itself loads, 31 is named as out of range."""
    model = create_generator("tiny-unet", input_size=32)
    smallest, smaller = tmp_path / "smallest.safetensors", tmp_path / "smaller.safetensors"
    save_generator(model, smallest, "tiny-unet", input_size=32)
    save_generator(model, smaller, "tiny-unet", input_size=31)
    assert load_generator(smallest)[1]["input_size"] == 32
    with pytest.raises(WeightsError, match=f"^{smaller} has input size 31 in its metadata"):
        read_metadata(smaller)


def _export_without_checksum(path: Path) -> dict[str, tuple[int, int, int]]:
    """A tiny generator with no zero bias, stored as vidcolor wrote it before exports carried a checksum; returns
    each tensor's (start, end) in the file and number of dimensions."""
    model = create_generator("tiny-unet", input_size=64)
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            if name.endswith("bias"):
                tensor.fill_(0.5)
    save_generator(model, path, "tiny-unet", input_size=64)
    metadata = read_metadata(path)
    del metadata["data_sha256"], metadata["data_bytes"]
    save_file(load_file(str(path)), str(path), metadata={"vidcolor": json.dumps(metadata)})
    blob = path.read_bytes()
    start = 8 + int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:start])
    header.pop("__metadata__")
    return {name: (start + entry["data_offsets"][0], start + entry["data_offsets"][1], len(entry["shape"]))
            for name, entry in header.items()}


def _blank(path: Path, begin: int) -> None:
    """Overwrite ``path`` with zero bytes from ``begin`` to its end."""
    data = bytearray(path.read_bytes())
    data[begin:] = bytes(len(data) - begin)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("chunk", [checkpoint.CHUNK_BYTES, 1000])
def test_zeros_blanking_exactly_the_last_weight_tensor_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  chunk: int) -> None:
    """A copy cut short at a tensor's start leaves that whole tensor zeros: it is named, with the zero bytes
    counted exactly (read in one chunk or many)."""
    monkeypatch.setattr(checkpoint, "CHUNK_BYTES", chunk)
    path = tmp_path / "old.safetensors"
    tensors = _export_without_checksum(path)
    name, (begin, end, _) = max(tensors.items(), key=lambda item: item[1][0])
    assert end == path.stat().st_size
    _blank(path, begin)
    with pytest.raises(WeightsError, match=rf"^{path} is damaged: its last {end - begin} bytes are zeros, blanking 1 "
                                           rf"weight tensors such as '{name}'"):
        load_generator(path)


def test_tensor_data_all_zeros_is_refused(tmp_path: Path) -> None:
    """A pre-allocated file never written past its header: every weight tensor is blanked."""
    path = tmp_path / "old.safetensors"
    tensors = _export_without_checksum(path)
    begin = min(start for start, _, _ in tensors.values())
    weights = sum(1 for start, end, dims in tensors.values() if dims >= 2 and end > start)
    _blank(path, begin)
    with pytest.raises(WeightsError, match=rf"^{path} is damaged: its last {path.stat().st_size - begin} bytes are "
                                           rf"zeros, blanking {weights} weight tensors"):
        load_generator(path)


def test_a_half_precision_export_keeps_integer_tensors_as_integers(tmp_path: Path) -> None:
    """dtype=float16 stores the floating-point tensors at half precision; BatchNorm's step counters stay int64."""
    model = create_generator("tiny-unet", input_size=64)
    path = tmp_path / "half.safetensors"
    save_generator(model, path, "tiny-unet", input_size=64, dtype=torch.float16)
    stored = load_file(str(path))
    for name, tensor in model.state_dict().items():
        assert stored[name].dtype == (torch.float16 if tensor.is_floating_point() else tensor.dtype), name
    assert any(name.endswith("num_batches_tracked") for name in stored)


def test_updating_metadata_of_weights_another_tool_converted_checksums_the_new_data(tmp_path: Path) -> None:
    """An export another tool stored again at half precision (its checksum no longer fits: the data has another
    length) gets a checksum of its data when its metadata is updated: a byte flipped after that is refused."""
    path = tmp_path / "half.safetensors"
    save_generator(create_generator("tiny-unet", input_size=64), path, "tiny-unet", input_size=64)
    with safe_open(str(path), "pt") as handle:
        stored = handle.metadata()
    save_file({name: tensor.half() if tensor.is_floating_point() else tensor
               for name, tensor in load_file(str(path)).items()}, str(path), metadata=stored)
    update_metadata(path, {"inference": {"saturation": 1.5}})
    blob = path.read_bytes()
    data = blob[8 + int.from_bytes(blob[:8], "little"):]
    metadata = read_metadata(path)
    assert (metadata["data_bytes"], metadata["data_sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    flipped = bytearray(blob)
    flipped[-1] ^= 0x01
    path.write_bytes(bytes(flipped))
    with pytest.raises(WeightsError, match=f"^{path} is damaged: its tensor data does not match the checksum"):
        load_generator(path)
