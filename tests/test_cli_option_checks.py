"""The command line's options: values out of range are usage errors before any work, and the values given
reach the render (read back from the files written)."""

import functools
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli import main
from tests.image_media import make_image
from tests.media import make_video
from tests.test_preview import fake_window
from vidcolor.batch_report import FileResult
from vidcolor.commands.batch import file_line
from vidcolor.commands.colorize import interrupted_resume_message
from vidcolor.errors import VidcolorWarning
from vidcolor.models import create_generator, save_generator
from vidcolor.resume import colorize_video_resumable, resume_folder


def run(*args: object, **kwargs) -> "click.testing.Result":  # noqa: F821
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A grey, moving 64x48 clip of 6 frames."""
    return make_video(tmp_path_factory.mktemp("clip") / "grey.mp4", size=(64, 48), frames=6)


OUT_OF_RANGE = [("--batch-size", "0"), ("--render-size", "0"), ("--render-size", "48"), ("--saturation", "4.5"),
                ("--temporal-strength", "1.5"), ("--crf", "52")]


@pytest.mark.parametrize(("command", "option", "value"), [
    (command, option, value) for command in ("colorize", "batch", "preview") for option, value in OUT_OF_RANGE
    if not (command == "preview" and option == "--crf")  # preview takes no encoder options
])
def test_an_option_value_out_of_range_is_a_usage_error_before_the_model_loads(tmp_path, weights, clip, monkeypatch,
                                                                              command, option, value):
    for module in ("colorize", "batch", "preview"):
        monkeypatch.setattr(f"vidcolor.commands.{module}.load_colorizer", lambda *a: pytest.fail("model loaded"))
    source = clip.parent if command == "batch" else clip
    output = {"colorize": ["-o", tmp_path / "out.mp4"], "batch": ["-o", tmp_path / "colour"],
              "preview": ["--sheet", tmp_path / "sheet.png"]}[command]
    result = run(command, source, *output, "--weights", weights, option, value)
    assert result.exit_code == 2, result.output
    assert option in result.stderr and "Try " in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_debug_setting_lets_an_unexpected_error_through_with_its_traceback(tmp_path, weights, clip, monkeypatch):
    def broken(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'planes'")

    monkeypatch.setattr("vidcolor.pipeline.run_stages", broken)
    monkeypatch.setenv("VIDCOLOR_DEBUG", "1")
    result = run(clip, "-o", tmp_path / "out.mp4", "--weights", weights, "-q")
    assert isinstance(result.exception, AttributeError) and result.exit_code == 1
    assert "VIDCOLOR_DEBUG" not in result.stderr
    assert not (tmp_path / "out.mp4").exists()


def test_a_file_named_dash_is_read_as_the_input(tmp_path, weights, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_image(tmp_path / "photo.png", mode="L").rename(tmp_path / "-")
    result = run("-", "-o", "colour.png", "--weights", weights, "--render-size", "64")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("colour.png: 96x64 in ")


@pytest.fixture(scope="module")
def vivid_weights(tmp_path_factory) -> Path:
    """A tiny generator (random, seeded) whose weights are scaled up, so that its colour varies with the picture."""
    torch.manual_seed(0)
    generator = create_generator("tiny-unet")
    with torch.no_grad():
        for parameter in generator.parameters():
            if parameter.ndim > 1:
                parameter.mul_(3.0)
    path = tmp_path_factory.mktemp("weights") / "vivid.safetensors"
    save_generator(generator, path, "tiny-unet", input_size=64)
    return path


def render_frames(clip: Path, output: Path, weights: Path, *options: str) -> list[np.ndarray]:
    """The Y, U and V planes of each frame of a lossless render of ``clip`` with ``options``."""
    result = run(clip, "-o", output, "--weights", weights, "--render-size", "64", "--codec", "ffv1", "-q", *options)
    assert result.exit_code == 0, result.output
    with av.open(str(output)) as container:
        return [frame.reformat(format="yuv420p").to_ndarray() for frame in container.decode(video=0)]


def test_temporal_off_colours_each_frame_alone_like_strength_zero(tmp_path, vivid_weights, clip):
    off = render_frames(clip, tmp_path / "off.mkv", vivid_weights, "--temporal", "off")
    zero = render_frames(clip, tmp_path / "zero.mkv", vivid_weights, "--temporal-strength", "0")
    full = render_frames(clip, tmp_path / "full.mkv", vivid_weights, "--temporal-strength", "1")
    assert len(off) == len(zero) == len(full) == 6
    assert off[0][48:].std() > 10  # the chroma planes hold colour
    assert all(np.array_equal(a, b) for a, b in zip(off, zero))
    assert np.array_equal(off[0], full[0])  # the first frame has nothing before it to follow
    assert not any(np.array_equal(a, b) for a, b in zip(off[1:], full[1:]))


def test_the_crf_given_reaches_the_encoder(tmp_path, weights, clip):
    output = tmp_path / "out.mp4"
    result = run(clip, "-o", output, "--weights", weights, "--render-size", "64", "--crf", "51", "-q")
    assert result.exit_code == 0, result.output
    assert b" crf=51.0 " in output.read_bytes()  # x264 writes its settings into the stream


@pytest.mark.parametrize(("segments", "expected"), [
    (1, "interrupted; 1 finished segment is kept in"),
    (2, "interrupted; 2 finished segments are kept in"),
    (0, "interrupted before the first segment was finished; no output was written"),
])
def test_an_interrupted_resume_counts_the_segments_it_kept(tmp_path, segments, expected):
    output = tmp_path / "out.mp4"
    folder = resume_folder(output)
    folder.mkdir()
    for number in range(segments):
        (folder / f"segment-{number:05d}.mp4").write_bytes(b"video")
        (folder / f"state-{number:05d}.npz").write_bytes(b"state")
    assert interrupted_resume_message(output).startswith(expected)


def test_a_log_line_writes_the_delete_character_as_an_escape():
    line = file_line(FileResult(file="reel\x7f.mp4", kind="video", status="done", frames=3, seconds=2.0))
    assert line == "done: reel\\x7f.mp4: 3 frames in 2.0 s"


def test_the_window_opens_at_the_start_given(tmp_path, weights, clip, monkeypatch):
    """The clip is 29.97 frames a second: 0.15 s falls in frame 4 (0.1335 s to 0.1668 s)."""
    titles = fake_window(monkeypatch, [ord("q")])
    result = run("preview", clip, "--start", "0.15", "--weights", weights, "--render-size", "64")
    assert result.exit_code == 0, result.output
    assert len(titles) == 1 and " frame 4 " in titles[0], titles


def test_an_existing_output_is_refused_before_the_model_loads(tmp_path, clip, monkeypatch):
    monkeypatch.setattr("vidcolor.commands.colorize.load_colorizer", lambda *a: pytest.fail("model loaded"))
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"keep me")
    result = run(clip, "-o", existing)
    assert result.exit_code == 1 and "--overwrite" in result.stderr, result.output
    assert existing.read_bytes() == b"keep me"


def test_a_resumed_render_says_how_many_frames_it_coloured_in_this_run(tmp_path, weights, monkeypatch):
    """12 frames at 29.97 fps in segments of 0.2 s (6 frames): Ctrl-C in the second segment keeps the first."""
    from vidcolor import pipeline

    render = functools.partial(colorize_video_resumable, segment_seconds=0.2)
    monkeypatch.setattr("vidcolor.commands.colorize.colorize_video_resumable", render)
    source = make_video(tmp_path / "in.mp4", size=(64, 48), frames=12)
    arguments = [source, "-o", tmp_path / "out.mp4", "--weights", weights, "--render-size", "64", "--resume"]
    colour = pipeline.FrameColorizer.__call__

    def ctrl_c_after_six_frames(frame_colorizer, frames):
        ctrl_c_after_six_frames.seen += len(frames)
        if ctrl_c_after_six_frames.seen > 6:
            raise KeyboardInterrupt
        return colour(frame_colorizer, frames)

    ctrl_c_after_six_frames.seen = 0
    with monkeypatch.context() as patch:
        patch.setattr(pipeline.FrameColorizer, "__call__", ctrl_c_after_six_frames)
        interrupted = run(*arguments)
    assert interrupted.exit_code == 130 and "1 finished segment is kept" in interrupted.stderr, interrupted.output
    result = run(*arguments)
    assert result.exit_code == 0, result.output
    assert "out.mp4: 12 frames (6 coloured in this run, the rest before) in " in result.stderr, result.stderr


def test_a_sheet_that_is_not_an_image_name_or_already_exists_is_refused_before_the_model_loads(tmp_path, clip,
                                                                                                 monkeypatch):
    monkeypatch.setattr("vidcolor.commands.preview.load_colorizer", lambda *a: pytest.fail("model loaded"))
    result = run("preview", clip, "--sheet", tmp_path / "sheet.mp4")
    assert result.exit_code == 2 and "sheet.mp4 is not an image name; use one of " in result.stderr, result.output
    existing = tmp_path / "sheet.png"
    existing.write_bytes(b"keep me")
    result = run("preview", clip, "--sheet", existing)
    assert result.exit_code == 1 and "--overwrite" in result.stderr, result.output
    assert existing.read_bytes() == b"keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["sheet.png"]


def test_one_video_option_given_for_a_photo_is_named_in_the_singular(tmp_path, weights):
    photo = make_image(tmp_path / "photo.png", mode="L")
    with pytest.warns(VidcolorWarning) as caught:
        result = run(photo, "-o", tmp_path / "colour.png", "--weights", weights, "--render-size", "64", "--batch-size", "4")
    assert result.exit_code == 0, result.output
    assert [str(warning.message) for warning in caught] == [f"--batch-size is for video; ignored for the photo {photo}"]
