"""The inference wrapper: weights it must refuse, the precision it picks on a GPU, CPU batching."""

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli import main
from tests.helpers import ConstantColour
from tests.media import make_video
from vidcolor.errors import WeightsError
from vidcolor.models import create_generator, save_generator
from vidcolor.worker import CPU_PIXELS_PER_CALL, Colorizer, autocast_dtype


def _diverged_model(value: float) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_generator("tiny-unet").eval()
    with torch.no_grad():
        next(model.parameters()).view(-1)[3] = value
    return model


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_weights_holding_nan_or_inf_are_refused(value: float) -> None:
    """A diverged training run saves NaN weights; they coloured every frame green (Cb = Cr = 0) with exit 0."""
    with pytest.raises(WeightsError, match="NaN or infinite"):
        Colorizer(_diverged_model(value), device="cpu", render_size=64)


def test_diverged_weights_file_is_a_one_line_error_before_any_output(tmp_path: Path) -> None:
    weights = tmp_path / "diverged.safetensors"
    save_generator(_diverged_model(float("nan")), weights, "tiny-unet", input_size=64)
    with pytest.raises(WeightsError, match=f"^{weights}: the model's .* holds NaN"):
        Colorizer.from_weights(weights, device="cpu", render_size=64)
    clip = make_video(tmp_path / "grey.mp4", size=(64, 48), frames=3)
    output = tmp_path / "colour.mp4"
    result = CliRunner().invoke(main, [str(clip), "-o", str(output), "--weights", str(weights),
                                       "--render-size", "64", "-q"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and "NaN" in lines[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diverged.safetensors", "grey.mp4"]


@pytest.mark.parametrize(("capability", "expected"), [((7, 5), torch.float16), ((7, 0), torch.float16),
                                                      ((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16)])
def test_autocast_dtype_is_bf16_only_where_the_gpu_computes_in_it(monkeypatch, capability, expected) -> None:
    """A T4 (7.5) answers ``torch.cuda.is_bf16_supported()`` with True (emulation), but cuDNN has no bf16
    convolutions there: the U-Net must run in fp16 on it."""
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert autocast_dtype(torch.device("cuda")) == expected


def test_autocast_dtype_asks_the_colorizers_own_gpu(monkeypatch) -> None:
    """On a machine with an old and a new GPU, ``cuda:1`` is judged by cuda:1, not by the current device."""
    capabilities = {0: (7, 5), 1: (8, 6)}
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability",
                        lambda device=None: capabilities[torch.device(device).index if device is not None else 0])
    assert autocast_dtype(torch.device("cuda:1")) == torch.bfloat16
    assert autocast_dtype(torch.device("cuda:0")) == torch.float16


class _CallSizes(ConstantColour):
    """A constant colour that records how many frames each call held."""

    def __init__(self) -> None:
        super().__init__(0.2, -0.1)
        self.calls: list[int] = []

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        self.calls.append(len(l_norm))
        return super().forward(l_norm)


@pytest.mark.parametrize(("render_size", "frames"), [(64, 1), (128, 9), (256, 5), (512, 2)])
def test_cpu_calls_hold_two_256_frames_of_pixels_and_every_frame_once(render_size: int, frames: int) -> None:
    model = _CallSizes()
    colorizer = Colorizer(model, device="cpu", render_size=render_size)
    ab = colorizer.predict_ab(torch.rand(frames, 1, 48, 80) * 100)
    per_call = max(1, CPU_PIXELS_PER_CALL // render_size**2)
    assert sum(model.calls) == frames and max(model.calls) == min(per_call, frames)
    assert ab.shape == (frames, 2, render_size, render_size)
    assert np.allclose(ab[:, 0].numpy(), 0.2 * 110, atol=1e-4) and np.allclose(ab[:, 1].numpy(), -0.1 * 110, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_a_photo_coloured_in_row_bands_is_the_photo_coloured_whole(monkeypatch, dtype) -> None:
    """The Lab maths of a 24 MP scan held ~12 float copies of it at once (4.4 GB peak); row bands give the
    same colours."""
    torch.manual_seed(0)
    colorizer = Colorizer(create_generator("tiny-unet"), device="cpu", render_size=64)
    rng = np.random.default_rng(1)
    rgb = rng.random((53, 70, 3)).astype(np.float32)
    rgb = rgb if dtype == np.float32 else np.rint(rgb * np.iinfo(dtype).max).astype(dtype)
    whole = colorizer.colorize_rgb(rgb)
    monkeypatch.setattr("vidcolor.worker.BAND_PIXELS", 70 * 8)  # bands of 8 rows, the last of 5
    assert np.abs(colorizer.colorize_rgb(rgb) - whole).max() < 1e-5  # float rounding of other kernel sizes only
    with pytest.raises(ValueError, match="shape"):
        colorizer.colorize_rgb(rgb[..., :2])


def test_one_colorizer_called_from_two_threads_at_once_gives_each_thread_its_own_colours() -> None:
    """fastai's DynamicUnet keeps each call's encoder activations on the module (hooks): two threads calling
    one model at once got each other's activations, so a frame took colour from another video's frame (about
    a third of the calls), or the call failed on mismatched sizes."""
    import threading

    torch.manual_seed(0)
    model = create_generator("tiny-unet")
    last_conv = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last_conv.weight.mul_(300)  # it starts near zero (grey): make each frame's colour its own
    colorizer = Colorizer(model, device="cpu", render_size=64)
    twin = Colorizer(model, device="cpu", render_size=64, saturation=2.0)  # a second wrapper of the same model
    lightness = [torch.rand(4, 1, 64, 64) * 100 for _ in range(2)]
    expected = [colorizer.predict_ab(lightness[0]), twin.predict_ab(lightness[1])]
    wrong = [0, 0]

    def call(index: int) -> None:
        for _ in range(40):
            ab = (colorizer, twin)[index].predict_ab(lightness[index])
            wrong[index] += not torch.equal(ab, expected[index])

    threads = [threading.Thread(target=call, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == [0, 0]


def test_a_read_only_array_is_coloured_without_torchs_warning_about_it() -> None:
    """Arrays from ``np.load(mmap_mode="r")``, ``np.frombuffer`` or another library are often read-only: colorize_rgb
    handed them to torch as they were and torch warned that writing to them is undefined behaviour."""
    import warnings

    colorizer = Colorizer(ConstantColour(0.2, -0.1), device="cpu", render_size=64)
    rgb = np.random.default_rng(0).random((20, 30, 3)).astype(np.float32)
    expected = colorizer.colorize_rgb(rgb)
    rgb.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(colorizer.colorize_rgb(rgb), expected)
