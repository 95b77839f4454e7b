"""training.soup: weight blends of two exported generators."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training.soup import soup
from vidcolor.errors import InputError, OutputError, WeightsError
from vidcolor.models import create_generator, load_generator, read_metadata, save_generator

REPO = Path(__file__).resolve().parents[1]


def _export(path: Path, seed: int, architecture: str = "tiny-unet") -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = create_generator(architecture, pretrained=False)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_()
    save_generator(model, path, architecture, training={"seed": seed})
    return {name: value.clone() for name, value in model.state_dict().items()}


def test_blend_is_the_weighted_mean_and_the_ends_are_the_ingredients(tmp_path: Path) -> None:
    first = _export(tmp_path / "a.safetensors", 1)
    second = _export(tmp_path / "b.safetensors", 2)
    for weight in (0.0, 0.25, 1.0):
        out = tmp_path / f"blend{weight}.safetensors"
        soup(tmp_path / "a.safetensors", tmp_path / "b.safetensors", weight, out, fp16=False)
        blended = load_generator(out)[0].state_dict()
        for name, value in first.items():
            if value.is_floating_point():
                expected = (1 - weight) * value + weight * second[name]
                torch.testing.assert_close(blended[name], expected, rtol=1e-6, atol=1e-6)
            else:
                assert torch.equal(blended[name], value), name
    recorded = read_metadata(tmp_path / "blend0.25.safetensors")["training"]["soup"]
    assert recorded["weight_of_b"] == 0.25
    assert (recorded["a"]["training"], recorded["b"]["training"]) == ({"seed": 1}, {"seed": 2})


def test_different_architectures_and_bad_weights_are_refused(tmp_path: Path) -> None:
    _export(tmp_path / "tiny.safetensors", 1)
    _export(tmp_path / "resnet.safetensors", 2, architecture="resnet18-unet")
    with pytest.raises(WeightsError, match="cannot blend"):
        soup(tmp_path / "tiny.safetensors", tmp_path / "resnet.safetensors", 0.5, tmp_path / "out.safetensors")
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        soup(tmp_path / "tiny.safetensors", tmp_path / "tiny.safetensors", 1.5, tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()
    original = (tmp_path / "tiny.safetensors").read_bytes()  # it overwrote an input, and any --out
    with pytest.raises(OutputError, match="would overwrite the input"):
        soup(tmp_path / "tiny.safetensors", tmp_path / "tiny.safetensors", 0.5, tmp_path / "tiny.safetensors",
             overwrite=True)
    soup(tmp_path / "tiny.safetensors", tmp_path / "tiny.safetensors", 0.5, tmp_path / "blend.safetensors")
    with pytest.raises(OutputError, match="pass --overwrite"):
        soup(tmp_path / "tiny.safetensors", tmp_path / "tiny.safetensors", 0.5, tmp_path / "blend.safetensors")
    assert (tmp_path / "tiny.safetensors").read_bytes() == original
    with pytest.raises(WeightsError, match="not found"):  # a missing A beside an existing --out: a traceback
        soup(tmp_path / "missing.safetensors", tmp_path / "tiny.safetensors", 0.5, tmp_path / "blend.safetensors",
             overwrite=True)


def test_command_line_reports_errors_in_one_line(tmp_path: Path) -> None:
    _export(tmp_path / "a.safetensors", 1)
    result = subprocess.run([sys.executable, "-m", "training.soup", str(tmp_path / "a.safetensors"),
                             str(tmp_path / "missing.safetensors"), "--weight", "0.5", "--out", str(tmp_path / "o.safetensors")],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("Error: ") and "not found" in result.stderr


def test_unwritable_out_is_one_line(tmp_path: Path) -> None:
    _export(tmp_path / "a.safetensors", 1)
    result = subprocess.run([sys.executable, "-m", "training.soup", str(tmp_path / "a.safetensors"),
                             str(tmp_path / "a.safetensors"), "--weight", "0.5",
                             "--out", str(tmp_path / "missing" / "o.safetensors")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "output folder" in result.stderr and "does not exist" in result.stderr
    assert not list(tmp_path.rglob("*.tmp"))


def test_out_must_be_safetensors(tmp_path: Path) -> None:
    _export(tmp_path / "a.safetensors", 1)
    with pytest.raises(OutputError, match="must end in .safetensors"):
        soup(tmp_path / "a.safetensors", tmp_path / "a.safetensors", 0.5, tmp_path / "blend.pt")
    assert not (tmp_path / "blend.pt").exists()
