"""Weights files damaged but still well-formed (a zero-filled tail, a flipped byte) are refused in one line,
not loaded into a model that colours with garbage."""

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from cli import main
from vidcolor.errors import WeightsError
from vidcolor.models import (default_weights_path, load_generator, read_metadata, update_metadata)
from vidcolor.models import checkpoint
from vidcolor.worker import Colorizer

DAMAGED = "is damaged: its tensor data does not match the checksum written with it; export it again or copy it again"


@pytest.fixture
def weights(weights, tmp_path):
    """A copy of the tiny weights (tests/conftest.py) that a test may damage."""
    return Path(shutil.copy(weights, tmp_path / "tiny.safetensors"))


def _zero_tail(path, fraction=0.5):
    """Overwrite the last ``fraction`` of ``path`` with zero bytes, as a pre-allocated file cut short holds."""
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        handle.seek(size - int(size * fraction))
        handle.write(bytes(int(size * fraction)))


def _strip_checksum(path):
    """Store ``path`` again as vidcolor wrote it before its exports carried a checksum."""
    metadata = json.loads(safe_open(str(path), "pt").metadata()["vidcolor"])
    del metadata["data_sha256"], metadata["data_bytes"]
    save_file(load_file(str(path)), str(path), metadata={"vidcolor": json.dumps(metadata)})


def _data_start(path):
    with open(path, "rb") as handle:
        return 8 + int.from_bytes(handle.read(8), "little")


def test_an_export_with_a_zero_filled_tail_is_refused(weights):
    _zero_tail(weights)
    with pytest.raises(WeightsError) as caught:
        load_generator(weights)
    assert str(caught.value) == f"{weights} {DAMAGED}"


def test_a_flipped_byte_in_the_tensor_data_is_refused(weights):
    offset = (_data_start(weights) + os.path.getsize(weights)) // 2
    with open(weights, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ 0x01]))
    with pytest.raises(WeightsError, match=f"^{weights} is damaged: its tensor data does not match"):
        load_generator(weights)


def test_an_older_export_without_a_checksum_still_loads(weights):
    expected, _ = load_generator(weights)
    _strip_checksum(weights)
    assert "data_sha256" not in read_metadata(weights)
    loaded, _ = load_generator(weights)
    for name, value in expected.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name


def test_an_older_export_with_a_zero_filled_tail_is_refused(weights):
    """Without a checksum, the zeros that end the file are found blanking whole weight tensors."""
    _strip_checksum(weights)
    _zero_tail(weights)
    with pytest.raises(WeightsError, match=rf"^{weights} is damaged: its last \d+ bytes are zeros, blanking \d+ weight "
                                           r"tensors such as '[\w.]+' \(a copy or write cut short\?\); copy it again"):
        load_generator(weights)


def test_a_copy_of_the_default_model_with_a_zero_filled_tail_is_refused(tmp_path):
    """The bundled model (trained, fp16, no checksum of its own) damaged as a copy cut short leaves it."""
    copy = tmp_path / "copy.safetensors"
    shutil.copyfile(default_weights_path(), copy)
    _zero_tail(copy, 0.1)
    with pytest.raises(WeightsError, match=f"^{copy} is damaged: its last"):
        Colorizer.from_weights(copy, device="cpu")


def test_the_cli_refuses_damaged_weights_in_one_line_and_writes_nothing(tmp_path, weights):
    _zero_tail(weights)
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)).save(photo)
    before = sorted(tmp_path.rglob("*"))
    result = CliRunner().invoke(main, [str(photo), "-o", str(tmp_path / "out.png"), "--weights", str(weights)])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 1 and lines == [f"Error: {weights} {DAMAGED}"], result.output
    assert sorted(tmp_path.rglob("*")) == before


def test_updating_metadata_keeps_the_checksum_valid(weights):
    checksum = read_metadata(weights)["data_sha256"]
    update_metadata(weights, {"inference": {"saturation": 0.9}})
    _, metadata = load_generator(weights)
    assert metadata["inference"] == {"saturation": 0.9} and metadata["data_sha256"] == checksum


def test_updating_the_metadata_of_damaged_weights_is_refused_and_keeps_them(weights):
    """Rewriting them would stamp a fresh checksum on the damaged tensors."""
    _zero_tail(weights)
    content = weights.read_bytes()
    with pytest.raises(WeightsError, match=DAMAGED):
        update_metadata(weights, {"inference": {"saturation": 0.9}})
    assert weights.read_bytes() == content


def test_the_bundled_default_model_matches_its_known_checksum():
    assert hashlib.sha256(default_weights_path().read_bytes()).hexdigest() == checkpoint.DEFAULT_WEIGHTS_SHA256


def test_the_bundled_default_model_is_checked_when_loaded(monkeypatch):
    monkeypatch.setattr(checkpoint, "DEFAULT_WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(WeightsError, match=f"^the bundled default model {default_weights_path()} is damaged: its "
                                           "SHA-256 does not match .*; reinstall vidcolor$"):
        Colorizer.from_weights(device="cpu")
