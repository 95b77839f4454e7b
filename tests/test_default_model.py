"""The bundled default model: present, small, self-describing, and used when no --weights is given."""

import os

import numpy as np
from click.testing import CliRunner

from cli import main
from tests.image_media import make_image
from vidcolor.io.images import read_image
from vidcolor.models import default_weights_path, read_metadata
from vidcolor.worker import Colorizer


def test_bundled_weights_are_fp16_lite0_within_20_mb():
    path = default_weights_path()
    assert os.path.getsize(path) <= 20_000_000  # 20 MB
    metadata = read_metadata(path)
    assert metadata["architecture"] == "lite0-unet" and metadata["dtype"] == "float16"
    assert metadata["metrics"]["psnr"] > metadata["metrics"]["psnr_grey_baseline"]
    lineage = metadata["training"]
    assert lineage["photos"] > 6000 and lineage["initialised_from"]["photos"] > 9000  # GPU fine-tune of the CPU model
    assert metadata["inference"]["saturation"] > 0


def test_default_model_colours_blue_sky_blue():
    """A bright smooth gradient over dark texture reads as sky over ground: the sky must come out blue."""
    colorizer = Colorizer.from_weights(device="cpu")
    height, width = 128, 128
    yy, xx = np.mgrid[0:height, 0:width]
    grey = np.where(yy < 70, 0.75 + 0.15 * yy / 70, 0.25 + 0.1 * np.sin(xx / 2.0) * np.cos(yy / 3.0))
    rgb = colorizer.colorize_rgb(np.repeat(grey[..., None], 3, axis=2).astype(np.float32))
    sky = rgb[5:50].reshape(-1, 3).mean(0)
    assert sky[2] > sky[0] + 0.02, sky  # blue above red


def test_cli_uses_the_bundled_model(tmp_path):
    photo = make_image(tmp_path / "photo.png", size=(96, 64), mode="L")
    out = tmp_path / "colour.png"
    result = CliRunner().invoke(main, [str(photo), "-o", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    colour = read_image(out).rgb
    assert colour.shape == (64, 96, 3)
    assert np.abs(colour[..., 0] - colour[..., 2]).mean() > 0.005  # not grey
