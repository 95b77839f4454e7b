"""Colour-strength calibration: finds the right ab scale, and the stored value is applied on load."""

import numpy as np
import pytest
from PIL import Image
from skimage.color import lab2rgb

from tests.helpers import ConstantColour
from training.calibrate import psnr_by_saturation, spread
from vidcolor.models import create_generator, read_metadata, save_generator, update_metadata
from vidcolor.worker import Colorizer


def test_calibration_finds_the_scale_of_a_too_faint_model(tmp_path):
    """Flat photos of Lab (60, 40, -30); the model predicts half that colour, so 2.0 is best."""
    paths = []
    for index, lightness in enumerate((45, 60, 75)):
        lab = np.zeros((32, 32, 3))
        lab[...] = (lightness, 40, -30)
        rgb = (lab2rgb(lab) * 255).round().astype(np.uint8)
        paths.append(tmp_path / f"flat{index}.png")
        Image.fromarray(rgb).save(paths[-1])
    faint = Colorizer(ConstantColour(20 / 110, -15 / 110), device="cpu", render_size=32)
    curve = psnr_by_saturation(faint, paths, candidates=(1.0, 1.5, 2.0, 2.5))
    assert max(curve, key=curve.get) == 2.0
    assert curve[2.0] > curve[1.0] + 10


def test_stored_saturation_is_applied_and_multiplied(tmp_path):
    path = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), path, "tiny-unet")
    update_metadata(path, {"inference": {"saturation": 1.7}})
    assert read_metadata(path)["inference"]["saturation"] == 1.7
    assert read_metadata(path)["architecture"] == "tiny-unet"
    assert Colorizer.from_weights(path, device="cpu").saturation == pytest.approx(1.7)
    assert Colorizer.from_weights(path, device="cpu", saturation=2.0).saturation == pytest.approx(3.4)
    assert Colorizer.from_weights(path, device="cpu", saturation=2.0, calibrated=False).saturation == 2.0


def test_spread_picks_evenly_and_keeps_short_lists(tmp_path):
    paths = [tmp_path / f"{i:02d}.png" for i in range(10)]
    assert spread(paths, 20) == paths
    assert spread(paths, 3) == [paths[0], paths[4], paths[9]]
