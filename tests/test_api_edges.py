"""Edges of the Python API as a user meets them: the kinds of arrays and tensors ``colorize_rgb`` takes, and
wrong path and on/off arguments refused by name before any work (never a library's traceback, never a
silently replaced file)."""

import importlib.util
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import ConstantColour
from tests.image_media import make_image
from tests.media import make_video
from vidcolor import Colorizer, colorize_image, colorize_video
from vidcolor.batch import colorize_tree
from vidcolor.resume import colorize_video_resumable
from vidcolor.models import create_generator, save_generator

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer(ConstantColour(0.3, -0.2), device="cpu", render_size=32)


@pytest.fixture(scope="module")
def grey() -> np.ndarray:
    """A grey (H, W, 3) uint8 picture with some structure."""
    ramp = np.linspace(0, 255, 30 * 20).reshape(20, 30).astype(np.uint8)
    return np.repeat(ramp[..., None], 3, axis=2)


def test_colorize_rgb_takes_what_numpy_reads_as_an_image(colorizer, grey):
    """A list, a PIL image, a big-endian uint16 array and uint8 / bfloat16 torch tensors failed deep in the
    code (AttributeError, TypeError from torch) or were refused as floats out of range (a uint8 tensor)."""
    expected = colorizer.colorize_rgb(grey)
    wide = grey.astype(np.uint16) * 257
    inputs = {
        "list of floats": (grey / 255).tolist(),
        "PIL image": Image.fromarray(grey),
        "big-endian uint16": wide.astype(">u2"),
        "uint8 tensor": torch.from_numpy(grey),
        "bfloat16 tensor": torch.from_numpy(grey / 255).bfloat16(),
        "float tensor needing grad": torch.from_numpy(grey / 255).float().requires_grad_(),
    }
    for name, value in inputs.items():
        result = colorizer.colorize_rgb(value)
        tolerance = 0.02 if name == "bfloat16 tensor" else 1e-5  # bfloat16 keeps 8 bits of mantissa
        np.testing.assert_allclose(result, expected, atol=tolerance, err_msg=name)


@pytest.mark.parametrize("value, error, words", [
    (None, TypeError, "expected an RGB image array of shape \\(H, W, 3\\), got NoneType"),
    (np.array([[[object()] * 3]]), TypeError, "got an array of Python objects"),
    (np.full((4, 4, 3), np.nan), ValueError, "expected float values in \\[0, 1\\], got NaN values"),
    (np.where(np.eye(4)[..., None] > 0, np.nan, 0.5) * np.ones(3), ValueError, "got NaN values"),
    (np.full((4, 4, 3), np.inf), ValueError, "got infinite values"),
    (torch.rand(3, 8, 8), ValueError, "shape \\(H, W, 3\\), got shape \\(3, 8, 8\\)"),
    (torch.ones(8, 8, 3, dtype=torch.bool), ValueError, "or uint8/uint16, got bool"),
])
def test_colorize_rgb_names_what_is_wrong_with_an_array(colorizer, value, error, words):
    """None was 'shape ()'; NaN values were reported as the range of the other values ('got 0.5 to 0.5')."""
    with pytest.raises(error, match=words):
        colorizer.colorize_rgb(value)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), path, "tiny-unet", input_size=64)
    return path


def test_from_weights_names_a_wrong_argument(weights):
    """bytes or an int was a pathlib TypeError without the argument's name; calibrated="no" counted as True."""
    with pytest.raises(TypeError, match="weights must be str or PathLike or NoneType, not bytes"):
        Colorizer.from_weights(bytes(weights), device="cpu")
    with pytest.raises(TypeError, match="weights must be .* not int"):
        Colorizer.from_weights(3, device="cpu")
    with pytest.raises(TypeError, match="calibrated must be bool, not str"):
        Colorizer.from_weights(weights, calibrated="no", device="cpu")
    assert Colorizer.from_weights(str(weights), device="cpu").device.type == "cpu"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", size=(64, 48), frames=3)


def test_a_string_overwrite_never_replaces_an_existing_output(tmp_path, clip, colorizer):
    """overwrite="no" (or "false" from a config file) is true, and replaced the earlier output."""
    photo = make_image(tmp_path / "photo.png", size=(32, 24))
    for source, name, render in [(clip, "out.mp4", colorize_video), (photo, "out.png", colorize_image),
                                 (clip, "out.mp4", colorize_video_resumable)]:
        earlier = tmp_path / name
        earlier.write_bytes(b"an earlier colour version")
        with pytest.raises(TypeError, match="overwrite must be bool, not str"):
            render(source, earlier, colorizer, overwrite="no")
        assert earlier.read_bytes() == b"an earlier colour version"
    with pytest.raises(TypeError, match="progress must be bool, not str"):
        colorize_video(clip, tmp_path / "other.mp4", colorizer, progress="no")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.mp4", "out.png", "photo.png"]


@pytest.mark.parametrize("render", [colorize_video, colorize_image, colorize_video_resumable])
def test_renders_name_a_path_of_the_wrong_type(tmp_path, clip, colorizer, render):
    """bytes, None or the colorizer first (arguments swapped) were pathlib's 'expected str, bytes or
    os.PathLike object' without saying which argument."""
    with pytest.raises(TypeError, match="input_path must be str or PathLike, not bytes"):
        render(bytes(clip), tmp_path / "out.mp4", colorizer)
    with pytest.raises(TypeError, match="output_path must be str or PathLike, not NoneType"):
        render(clip, None, colorizer)
    with pytest.raises(TypeError, match="input_path must be str or PathLike, not Colorizer"):
        render(colorizer, clip, tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_run_names_a_wrong_argument_before_any_work(tmp_path, colorizer):
    """`colorize_tree(b"src", ...)` was pathlib's TypeError, `progress="no"` drew a bar and `on_file="log.txt"`
    failed after the first file was coloured."""
    src = tmp_path / "src"
    src.mkdir()
    make_image(src / "a.png", size=(32, 24), mode="L")
    with pytest.raises(TypeError, match="src_dir must be str or PathLike, not bytes"):
        colorize_tree(bytes(src), tmp_path / "dst", colorizer)
    with pytest.raises(TypeError, match="dst_dir must be str or PathLike, not NoneType"):
        colorize_tree(src, None, colorizer)
    with pytest.raises(TypeError, match="progress must be bool, not str"):
        colorize_tree(src, tmp_path / "dst", colorizer, progress="no")
    with pytest.raises(TypeError, match="on_file must be a function taking each file's result, not str"):
        colorize_tree(src, tmp_path / "dst", colorizer, on_file="log.txt")
    assert not (tmp_path / "dst").exists()


def load_example():
    spec = importlib.util.spec_from_file_location("colorize_with_python", REPO / "examples" / "colorize_with_python.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(monkeypatch, *args: object) -> str | None:
    """Run the example's main() with ``args``; its exit message, or None when it finished."""
    example = load_example()
    monkeypatch.setattr(example.Colorizer, "from_weights",
                        lambda **_: Colorizer(ConstantColour(0.3, -0.2), device="cpu", render_size=32))
    monkeypatch.setattr(sys, "argv", ["example", *map(str, args)])
    try:
        example.main()
    except SystemExit as exit_info:
        return exit_info.code
    return None


def test_the_example_checks_inputs_and_the_output_folder_before_any_work(tmp_path, clip, monkeypatch):
    """A missing input left an empty --out folder behind (made before the input was looked at); an --out
    that is a file was '[Errno 17] File exists'; an existing second output was refused after the first was
    written."""
    photo = make_image(tmp_path / "photo.png", size=(32, 24))
    out = tmp_path / "out"
    assert run_example(monkeypatch, clip, tmp_path / "missing.mp4", "--out", out) == \
        f"error: {tmp_path / 'missing.mp4'} does not exist; check the path"
    assert not out.exists()
    assert run_example(monkeypatch, clip, "--out", photo) == \
        f"error: --out {photo} is a file, not a folder; choose a folder for the colour versions"
    out.mkdir()
    (out / "clip.mp4").write_bytes(b"an earlier colour version")
    assert run_example(monkeypatch, photo, clip, "--out", out) == \
        f"error: output {out / 'clip.mp4'} already exists; pass --overwrite to replace it"
    assert sorted(path.name for path in out.iterdir()) == ["clip.mp4"]
    assert run_example(monkeypatch, photo, clip, "--out", out, "--overwrite") is None
    assert sorted(path.name for path in out.iterdir()) == ["clip.mp4", "photo.png"]


def test_the_example_colours_a_video_whose_file_type_takes_no_h264(tmp_path, monkeypatch):
    """The example forced libx264, so a .webm (or .mpg, .ogv, .gif) input, written under its own name, failed with
    "cannot take libx264 video" after the photos before it were written."""
    webm = make_video(tmp_path / "film.webm", size=(64, 48), frames=3, codec="libvpx-vp9")
    out = tmp_path / "out"
    assert run_example(monkeypatch, webm, "--out", out) is None
    with av.open(str(out / "film.webm")) as container:
        assert container.streams.video[0].codec_context.name == "vp9"
        assert sum(1 for _ in container.decode(video=0)) == 3
