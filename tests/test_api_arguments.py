"""The library's public calls check their arguments before any work: a wrong type is a TypeError naming the
argument, a value out of range an ArgumentError (a ValueError), and the wrong kind of file an InputError;
nothing is written in any of these cases."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import ConstantColour
from tests.image_media import make_image
from tests.media import make_video
from vidcolor import (
    ArgumentError,
    Colorizer,
    EncodeSettings,
    InputError,
    OutputError,
    TemporalOptions,
    WeightsError,
    colorize_image,
    colorize_tree,
    colorize_video,
    colorize_video_resumable,
)
from vidcolor.models import create_generator, save_generator, update_metadata

REPO = Path(__file__).resolve().parents[1]


class NeverCalled(torch.nn.Module):
    """A model whose use fails the test: the checks must come before any inference."""

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        raise AssertionError("the model ran before the arguments were checked")


@pytest.fixture(scope="module")
def unused() -> Colorizer:
    return Colorizer(NeverCalled(), device="cpu", render_size=32)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", size=(64, 48), frames=3)


@pytest.mark.parametrize("options, error, words", [
    ({"saturation": math.nan}, ArgumentError, "saturation must be a finite number"),
    ({"saturation": math.inf}, ArgumentError, "saturation must be a finite number"),
    ({"saturation": -0.5}, ArgumentError, "saturation must be at least 0"),
    ({"saturation": "1.2"}, TypeError, "saturation must be a number"),
    ({"render_size": 256.0}, TypeError, "render_size must be a whole number"),
    ({"render_size": True}, TypeError, "render_size must be a whole number"),
    ({"render_size": 48}, ArgumentError, "render_size must be a multiple of 32"),
    ({"render_size": 0}, ArgumentError, "render_size must be at least 32"),
    ({"calibration": math.nan}, ArgumentError, "calibration must be a finite number"),
    ({"device": 0}, TypeError, "device must be str or device"),
    ({"device": "tpu"}, ArgumentError, "unknown device 'tpu'"),
    ({"metadata": "lite0"}, TypeError, "metadata must be dict"),
])
def test_colorizer_refuses_bad_settings(options, error, words):
    """NaN saturation gave NaN colour (black frames), a float render size failed inside torch's resize."""
    settings = {"device": "cpu", "render_size": 64} | options
    with pytest.raises(error, match=words):
        Colorizer(ConstantColour(0.1, 0.1), **settings)


def test_argument_errors_are_value_errors_and_a_model_must_be_a_module():
    assert issubclass(ArgumentError, ValueError)
    with pytest.raises(TypeError, match="model must be Module"):
        Colorizer("lite0-unet", device="cpu")  # type: ignore[arg-type]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message where there is no GPU")
def test_a_missing_gpu_is_named_without_command_line_wording():
    with pytest.raises(ArgumentError) as raised:
        Colorizer(ConstantColour(0.1, 0.1), device="cuda")
    assert "no CUDA GPU" in str(raised.value) and "--device" not in str(raised.value)


@pytest.mark.parametrize("inference", [{"saturation": math.nan}, {"saturation": "strong"}, {"saturation": -1.0},
                                       {"saturation": True}, [1.2], "strong"])
def test_a_weights_file_with_a_bad_colour_scale_is_a_weights_error(tmp_path, inference):
    weights = tmp_path / "model.safetensors"
    save_generator(create_generator("tiny-unet"), weights, "tiny-unet")
    update_metadata(weights, {"inference": inference})
    with pytest.raises(WeightsError, match="colour scale"):
        Colorizer.from_weights(weights, device="cpu")
    assert Colorizer.from_weights(weights, device="cpu", calibrated=False).calibration == 1.0


@pytest.mark.parametrize("options, error, words", [
    ({"codec": 5}, TypeError, "codec must be str"),
    ({"crf": True}, TypeError, "crf must be a whole number"),
    ({"crf": "18"}, TypeError, "crf must be a whole number"),
    ({"crf": 18.5}, TypeError, "crf must be a whole number"),
    ({"crf": 52}, ArgumentError, "crf must be from 0 to 51"),
    ({"preset": None}, TypeError, "preset must be str"),
])
def test_encode_settings_refuse_bad_fields(options, error, words):
    with pytest.raises(error, match=words):
        EncodeSettings(**options)


@pytest.mark.parametrize("options, error, words", [
    ({"strength": math.nan}, ArgumentError, "strength must be a finite number"),
    ({"strength": 1.5}, ArgumentError, "strength must be from 0 to 1"),
    ({"cut_threshold": 0.0}, ArgumentError, "cut_threshold must be more than 0"),
    ({"cut_threshold": math.inf}, ArgumentError, "cut_threshold must be a finite number"),
    ({"enabled": "off"}, TypeError, "enabled must be bool"),
])
def test_temporal_options_refuse_bad_fields(options, error, words):
    with pytest.raises(error, match=words):
        TemporalOptions(**options)


@pytest.mark.parametrize("render", [colorize_video, colorize_video_resumable])
@pytest.mark.parametrize("options, error, words", [
    ({"settings": None}, TypeError, "settings must be EncodeSettings"),
    ({"temporal": True}, TypeError, "temporal must be TemporalOptions"),
    ({"batch_size": 0}, ArgumentError, "batch_size must be at least 1"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be a whole number"),
])
def test_video_renders_check_their_arguments_before_any_work(tmp_path, clip, unused, render, options, error, words):
    with pytest.raises(error, match=words):
        render(clip, tmp_path / "out.mp4", unused, progress=False, **options)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seconds, error", [(0, ArgumentError), (-1.0, ArgumentError), (math.nan, ArgumentError),
                                            ("10", TypeError)])
def test_resumable_render_checks_its_segment_length(tmp_path, clip, unused, seconds, error):
    """A segment length of 0 or NaN went on into the render (NaN: a ValueError from round() after the resume
    folder was made)."""
    with pytest.raises(error, match="segment_seconds"):
        colorize_video_resumable(clip, tmp_path / "out.mp4", unused, progress=False, segment_seconds=seconds)
    assert list(tmp_path.iterdir()) == []


def test_a_render_needs_a_colorizer(tmp_path, clip):
    with pytest.raises(TypeError, match="colorizer must be Colorizer"):
        colorize_video(clip, tmp_path / "out.mp4", ConstantColour(0.1, 0.1), progress=False)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="colorizer must be Colorizer"):
        colorize_image(make_image(tmp_path / "in.png"), tmp_path / "out.png", None)  # type: ignore[arg-type]


def test_colorize_video_refuses_a_photo(tmp_path, unused):
    """A photo became a one-frame video, without a word."""
    photo = make_image(tmp_path / "photo.jpg")
    with pytest.raises(InputError, match="single still picture; colour it with colorize_image"):
        colorize_video(photo, tmp_path / "out.mp4", unused, progress=False)
    with pytest.raises(InputError, match="colorize_image"):
        colorize_video_resumable(photo, tmp_path / "out.mkv", unused, progress=False)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["photo.jpg"]


def test_colorize_image_refuses_an_animation_or_a_video(tmp_path, clip, unused):
    """An animated GIF came out as its first frame alone, a video as an unreadable-image error."""
    frames = [Image.fromarray(np.full((32, 48), value, np.uint8)) for value in (40, 120, 200)]
    gif = tmp_path / "animation.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    for source in (gif, clip):
        with pytest.raises(InputError, match="moving pictures .* colour it with colorize_video"):
            colorize_image(source, tmp_path / "out.png", unused)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["animation.gif"]


@pytest.mark.parametrize("name, words", [("out.xyz", "cannot write images as '.xyz'"),
                                         ("out", "'out' has no file extension")])
def test_colorize_image_checks_the_output_type_before_the_model_runs(tmp_path, unused, name, words):
    """The output's extension was checked after the whole photo had been coloured."""
    photo = make_image(tmp_path / "photo.png")
    with pytest.raises(OutputError, match=words):
        colorize_image(photo, tmp_path / name, unused)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["photo.png"]


def test_colorize_rgb_refuses_an_empty_array():
    colorizer = Colorizer(ConstantColour(0.1, 0.1), device="cpu", render_size=32)
    for shape in [(0, 10, 3), (10, 0, 3)]:
        with pytest.raises(ValueError, match="at least 1x1 pixels"):
            colorizer.colorize_rgb(np.zeros(shape, np.uint8))


def test_an_odd_sized_source_is_an_input_error(tmp_path):
    source = make_video(tmp_path / "odd.mkv", size=(97, 65), frames=3, codec="ffv1")
    colorizer = Colorizer(ConstantColour(0.1, 0.1), device="cpu", render_size=32)
    with pytest.raises(InputError, match="even width and height"):
        colorize_video(source, tmp_path / "out.mp4", colorizer, progress=False)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["odd.mkv"]


def test_colorize_tree_checks_its_arguments_before_making_the_output_folder(tmp_path, unused):
    source = tmp_path / "archive"
    source.mkdir()
    make_image(source / "photo.png")
    with pytest.raises(ArgumentError, match="batch_size must be at least 1"):
        colorize_tree(source, tmp_path / "coloured", unused, batch_size=0, progress=False)
    with pytest.raises(TypeError, match="settings must be EncodeSettings"):
        colorize_tree(source, tmp_path / "coloured", unused, settings="fast", progress=False)
    assert not (tmp_path / "coloured").exists()


def test_importing_the_library_raises_no_warning():
    """fastai's import set a deprecated pandas option: `python -W error -c 'import vidcolor'` failed."""
    result = subprocess.run([sys.executable, "-W", "error", "-c", "import vidcolor"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
