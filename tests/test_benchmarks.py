"""The hand-run benchmarks and the example script: they measure what they say and fail in one line."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks import cpu_layout, flicker, memory, sheets, throughput
from benchmarks._cli import run
from tests.media import make_video
from vidcolor.errors import InputError, VidcolorError
from vidcolor.models import create_generator, save_generator
from vidcolor.worker import Colorizer

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_script(main, monkeypatch, capsys, *argv: str) -> tuple[int, str, str]:
    """Run a script's ``main`` as its ``__main__`` block does; returns exit status, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", ["script", *map(str, argv)])
    try:
        run(main)
        status = 0
    except SystemExit as exit_info:
        status = exit_info.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def tiny_weights(path: Path) -> Path:
    torch.manual_seed(0)
    save_generator(create_generator("tiny-unet"), path, "tiny-unet", input_size=64)
    return path


class CountingColorizer:
    """Stands in for a Colorizer: records the frames of each model call."""

    def __init__(self) -> None:
        self.device = torch.device("cpu")
        self.render_size = 32
        self.calls: list[int] = []

    def predict_ab(self, lightness: torch.Tensor) -> torch.Tensor:
        self.calls.append(lightness.shape[0])
        return torch.zeros(lightness.shape[0], 2, 32, 32)


@pytest.mark.parametrize("frames", [10, 16, 3])
def test_generator_alone_times_exactly_the_frames_it_reports(frames):
    """It timed whole batches, 16 frames for a 10-frame clip at batch 8, and divided by 10: fps 1.6x too low."""
    colorizer = CountingColorizer()
    throughput.time_generator(colorizer, frames, batch_size=8)
    warm_up, *timed = colorizer.calls
    assert sum(timed) == frames
    assert max(timed) <= 8


def test_flicker_skips_files_that_are_not_videos(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", size=(64, 48), frames=3, grey=False)
    (tmp_path / "notes.txt").write_text("where the clips come from\n")
    (tmp_path / ".DS_Store").write_bytes(b"\0\1")
    (tmp_path / "sub").mkdir()
    videos, skipped = flicker.find_videos(tmp_path)
    assert videos == [clip]
    assert skipped == [tmp_path / "notes.txt"]


def test_flicker_refuses_a_folder_without_videos(tmp_path):
    (tmp_path / "notes.txt").write_text("no clips here\n")
    with pytest.raises(InputError, match="no videos in"):
        flicker.find_videos(tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        flicker.find_videos(tmp_path / "notes.txt")


def test_flicker_warms_the_model_up_before_the_first_timed_render(tmp_path, monkeypatch, capsys):
    """The first clip's per-frame fps included the model's one-off kernel selection."""
    clips = tmp_path / "clips"
    clips.mkdir()
    make_video(clips / "clip.mp4", size=(64, 48), frames=3, grey=False)
    events = []
    monkeypatch.setattr(flicker, "warm_up", lambda colorizer: events.append("warm-up"))
    monkeypatch.setattr(flicker, "measure_clip", lambda *args: events.append("measure") or {})
    monkeypatch.setattr(flicker, "markdown", lambda rows, weights: "")
    run_script(flicker.main, monkeypatch, capsys, clips, "--weights", tiny_weights(tmp_path / "w.safetensors"),
               "--device", "cpu", "--frames", 3, "--out", tmp_path / "out")
    assert events == ["warm-up", "measure"]


def test_flicker_table_has_the_readme_columns(tmp_path, monkeypatch, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    make_video(clips / "clip.mp4", size=(64, 48), frames=3, grey=False)
    (clips / "notes.txt").write_text("not a clip\n")
    status, out, err = run_script(flicker.main, monkeypatch, capsys, clips, "--weights",
                                  tiny_weights(tmp_path / "w.safetensors"), "--device", "cpu", "--frames", 3,
                                  "--out", tmp_path / "out")
    assert (status, err) == (0, "")
    assert "notes.txt: not a video, skipped" in out
    table = (tmp_path / "out" / "flicker_strength0.7.md").read_text().splitlines()
    header = next(line for line in table if line.startswith("| clip |"))
    assert header in (REPO_ROOT / "README.md").read_text()
    assert any(line.startswith("| clip.mp4 | 3 |") for line in table)


@pytest.mark.parametrize("frames", ["1", "0"])
def test_flicker_needs_two_frames(tmp_path, monkeypatch, capsys, frames):
    status, _, err = run_script(flicker.main, monkeypatch, capsys, tmp_path, "--frames", frames)
    assert status == 2 and "--frames: must be at least 2" in err


def test_a_missing_clip_is_one_line(tmp_path, monkeypatch, capsys):
    status, out, err = run_script(throughput.main, monkeypatch, capsys, tmp_path / "missing.mp4", "--arch", "tiny-unet")
    assert status == 1
    assert err == f"error: {tmp_path / 'missing.mp4'} does not exist; check the path\n"


@pytest.mark.parametrize(("main", "argv", "complaint"), [
    (throughput.main, ["clip.mp4", "--frames", "0"], "--frames: must be at least 1"),
    (throughput.main, ["clip.mp4", "--arch", "resnet-unet"], "--arch: invalid choice"),
    (memory.main, ["--size", "1280"], "--size: expected WxH"),
    (memory.main, ["--size", "641x360"], "--size: width and height must be even"),
    (cpu_layout.main, ["--calls", "0"], "--calls: must be at least 1"),
    (cpu_layout.main, ["--sizes", "100"], "--sizes: render sizes are multiples of 32"),
    (sheets.main, ["--val", "v", "--archival", "a", "--count", "0"], "--count: must be at least 1"),
])
def test_a_bad_option_is_a_usage_error(monkeypatch, capsys, main, argv, complaint):
    status, _, err = run_script(main, monkeypatch, capsys, *argv)
    assert status == 2
    assert complaint in err and "Traceback" not in err


def test_a_failed_memory_render_reports_the_childs_error(tmp_path):
    """A failing child used to end in CalledProcessError, its own message hidden in captured output."""
    clip = tmp_path / "clip.mp4"
    clip.write_text("not a video\n")
    with pytest.raises(VidcolorError, match="colouring clip.mp4 failed: .*cannot be read as media"):
        memory.peak_rss_mib(clip, "tiny-unet")


def test_the_photo_memory_benchmark_reports_bytes_a_pixel(monkeypatch, capsys):
    status, out, err = run_script(memory.main, monkeypatch, capsys, "--photo", "640x480")
    assert status == 0, err
    assert out.startswith("640x480 photo, tiny-unet: peak RSS ") and out.rstrip().endswith("bytes a pixel)")


def test_sheets_refuse_a_folder_without_readable_photos(tmp_path, monkeypatch, capsys):
    """It printed the sheet's path as if written when the folder held no readable photo."""
    val, archival = tmp_path / "val", tmp_path / "archival"
    val.mkdir()
    archival.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(val / "p.png")
    (archival / "broken.jpg").write_bytes(b"not a jpeg")
    status, out, err = run_script(sheets.main, monkeypatch, capsys, "--val", val, "--archival", archival,
                                  "--weights", tiny_weights(tmp_path / "w.safetensors"), "--out", tmp_path / "out")
    assert status == 1
    assert out == f"{tmp_path / 'out' / 'val_sheet.png'}: 1 photos\n"
    assert err.startswith(f"error: no readable photos in {archival}")
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["val_sheet.png"]


def load_example():
    spec = importlib.util.spec_from_file_location("colorize_with_python", REPO_ROOT / "examples" / "colorize_with_python.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_colorizer(**_options) -> Colorizer:
    return Colorizer(create_generator("tiny-unet"), device="cpu", render_size=64)


def grey_photo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((24, 32), 120, np.uint8)).save(path)
    return path


def test_example_refuses_two_inputs_with_one_output_name(tmp_path, monkeypatch, capsys):
    """Both a/x.png and b/x.png were written to OUT/x.png, the second replacing the first."""
    example = load_example()
    monkeypatch.setattr(example.Colorizer, "from_weights", tiny_colorizer)
    first, second = grey_photo(tmp_path / "a" / "x.png"), grey_photo(tmp_path / "b" / "x.png")
    monkeypatch.setattr(sys, "argv", ["example", str(first), str(second), "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as exit_info:
        example.main()
    assert exit_info.value.code == f"error: {first} and {second} would both be written as x.png; " \
                                   "colour them into different --out folders"
    assert not (tmp_path / "out").exists()


def test_example_keeps_an_existing_output_without_overwrite(tmp_path, monkeypatch):
    example = load_example()
    monkeypatch.setattr(example.Colorizer, "from_weights", tiny_colorizer)
    photo = grey_photo(tmp_path / "in" / "x.png")
    earlier = tmp_path / "out" / "x.png"
    earlier.parent.mkdir()
    earlier.write_bytes(b"an earlier colour version")
    monkeypatch.setattr(sys, "argv", ["example", str(photo), "--out", str(earlier.parent)])
    with pytest.raises(SystemExit) as exit_info:
        example.main()
    assert "already exists" in exit_info.value.code
    assert earlier.read_bytes() == b"an earlier colour version"
    monkeypatch.setattr(sys, "argv", ["example", str(photo), "--out", str(earlier.parent), "--overwrite"])
    example.main()
    with Image.open(earlier) as written:
        assert written.size == (32, 24)
