"""Files handed over as weights that are not vidcolor's exported weights: each is named for what it is, and
what to do."""

import os
import zipfile

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from cli import main
from vidcolor.errors import WeightsError
from vidcolor.models import create_generator, load_generator, save_generator


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet").eval(), path, "tiny-unet")
    return path


def test_a_training_checkpoint_says_how_to_export_its_weights(tmp_path):
    """A run's checkpoint.pt was 'not a readable safetensors weights file (... header too large)'."""
    run = tmp_path / "run"
    run.mkdir()
    checkpoint = run / "checkpoint.pt"
    torch.save({"generator": create_generator("tiny-unet").state_dict()}, checkpoint)
    with pytest.raises(WeightsError, match=f"^{checkpoint} is a PyTorch checkpoint .*vidcolor train --resume {run} "
                                           "--export FILE.safetensors"):
        load_generator(checkpoint)


def test_an_old_style_pickle_is_named_as_a_pytorch_checkpoint(tmp_path):
    path = tmp_path / "generator.pth"
    torch.save(create_generator("tiny-unet").state_dict(), path, _use_new_zipfile_serialization=False)
    with pytest.raises(WeightsError, match=f"^{path} is a PyTorch checkpoint"):
        load_generator(path)


def test_zipped_weights_say_to_unpack_them(tmp_path, weights):
    archive = tmp_path / "model.safetensors"
    with zipfile.ZipFile(tmp_path / "model.zip", "w") as handle:
        handle.write(weights, "tiny.safetensors")
    (tmp_path / "model.zip").rename(archive)
    with pytest.raises(WeightsError, match=f"^{archive} is a zip archive; unpack it"):
        load_generator(archive)


def test_a_training_run_folder_says_to_pass_its_exported_weights(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"PK\x03\x04")
    with pytest.raises(WeightsError, match=f"^{tmp_path} is a vidcolor train run folder, not a weights file.*--export"):
        load_generator(tmp_path)


def test_an_empty_file_is_named_empty(tmp_path):
    """It was 'not a readable safetensors weights file (Error while deserializing header: header too small)'."""
    path = tmp_path / "empty.safetensors"
    path.touch()
    with pytest.raises(WeightsError, match=f"^{path} is empty"):
        load_generator(path)


def test_a_pipe_is_not_called_missing(tmp_path):
    """``--weights <(cat model.safetensors)`` said 'weights file not found: /dev/fd/63'."""
    pipe = tmp_path / "pipe.safetensors"
    os.mkfifo(pipe)
    with pytest.raises(WeightsError, match=f"^{pipe} is not a regular file"):
        load_generator(pipe)


def test_a_broken_link_names_its_target(tmp_path):
    link = tmp_path / "model.safetensors"
    link.symlink_to(tmp_path / "gone.safetensors")
    with pytest.raises(WeightsError, match=f"^{link} is a broken link to .*gone.safetensors"):
        load_generator(link)


def test_a_link_to_weights_loads(tmp_path, weights):
    link = tmp_path / "link.safetensors"
    link.symlink_to(weights)
    assert load_generator(link)[1]["architecture"] == "tiny-unet"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_a_file_without_read_permission_is_not_called_missing(weights):
    """safetensors reports EACCES as 'No such file or directory'."""
    weights.chmod(0)
    try:
        with pytest.raises(WeightsError, match=f"^cannot read {weights} .*permission"):
            load_generator(weights)
    finally:
        weights.chmod(0o644)


def test_weights_of_another_tool_say_which_weights_vidcolor_loads(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file({"conv_stem.weight": torch.zeros(8, 3, 3, 3)}, str(path), metadata={"format": "pt"})
    with pytest.raises(WeightsError, match=r"no vidcolor metadata.*written by vidcolor train \(--export"):
        load_generator(path)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int8, torch.bool])
def test_integer_tensors_for_float_weights_are_refused(weights, dtype):
    """Integer tensors (a quantised export) were cast into the float weights without a word: garbage colour."""
    tensors = load_file(str(weights))
    name = next(key for key, value in tensors.items() if value.is_floating_point())
    tensors[name] = tensors[name].to(dtype)
    save_file(tensors, str(weights), metadata=safe_open(str(weights), "pt").metadata())
    with pytest.raises(WeightsError, match=f"does not match architecture 'tiny-unet' .*not floating point, such as "
                                           f"{name!r} \\({str(dtype).removeprefix('torch.')};"):
        load_generator(weights)


def test_bf16_weights_load_and_colour_like_float32(tmp_path, weights):
    model, _ = load_generator(weights)
    half = tmp_path / "bf16.safetensors"
    save_generator(model, half, "tiny-unet", dtype=torch.bfloat16)
    loaded, metadata = load_generator(half)
    assert metadata["dtype"] == "bfloat16" and all(p.dtype == torch.float32 for p in loaded.parameters())
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=2e-2)


@pytest.mark.parametrize("command", ["colorize", "preview", "batch", "evaluate"])
def test_every_command_names_a_checkpoint_given_as_weights_in_one_line(tmp_path, command):
    """The user-facing end of the checks above: one ``Error:`` line naming the file and the export command, exit 1,
    nothing written."""
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)).save(photos / "photo.png")
    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"generator": create_generator("tiny-unet").state_dict()}, checkpoint)
    arguments = {
        "colorize": [photos / "photo.png", "-o", tmp_path / "out.png"],
        "preview": [photos / "photo.png", "--sheet", tmp_path / "sheet.png"],
        "batch": [photos, "-o", tmp_path / "colour"],
        "evaluate": ["--data", photos, "--out", tmp_path / "eval"],
    }[command]
    before = sorted(tmp_path.rglob("*"))
    result = CliRunner().invoke(main, [command, *map(str, arguments), "--weights", str(checkpoint)])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0].startswith(f"Error: {checkpoint} is a PyTorch checkpoint")
    assert "--export FILE.safetensors" in lines[0]
    assert sorted(tmp_path.rglob("*")) == before


def test_a_git_lfs_pointer_says_to_fetch_the_weights(tmp_path):
    """A clone without Git LFS holds a small text file in place of the weights: 'header too large' said nothing."""
    path = tmp_path / "model.safetensors"
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 18874368\n")
    with pytest.raises(WeightsError, match=f"^{path} is a Git LFS pointer, not the weights themselves; .*git lfs pull"):
        load_generator(path)


@pytest.mark.parametrize("command", ["colorize", "evaluate"])
def test_a_run_folder_given_as_weights_says_how_to_export_it(tmp_path, command):
    """click refused the folder itself ('File ... is a directory.'), before the message that says what to do."""
    run = tmp_path / "run1"
    run.mkdir()
    torch.save({"generator": create_generator("tiny-unet").state_dict()}, run / "checkpoint.pt")
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8)).save(photos / "photo.png")
    arguments = {"colorize": [photos / "photo.png", "-o", tmp_path / "out.png"],
                 "evaluate": ["--data", photos, "--out", tmp_path / "out.png"]}[command]
    result = CliRunner().invoke(main, [command, *map(str, arguments), "--weights", str(run)])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (f"Error: {run} is a vidcolor train run folder, not a weights file; pass the weights "
                                     f"it exported, or export them with vidcolor train --resume {run} --export "
                                     "FILE.safetensors")
    assert not (tmp_path / "out.png").exists()
