"""--resume: which settings make the same render, what starts over and how it says so, the resume folder's edges, and a
resumed render carrying on exactly where it stopped."""

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.media import live_without_pictures, make_video, read_video_frames
from tests.test_decode_inputs import make_without_pictures
from tests.test_pipeline import _CreatesTheOutput
from tests.locks import CONTENT
from tests.test_resume import StopAfter, colorizer, decoded_planes, frame_times, interrupted_render  # noqa: F401
from tests.test_resume_slots import jittered_times, timed_clip
from vidcolor.pipeline import colorize_video
from vidcolor.temporal import TemporalOptions
from vidcolor import resume
from vidcolor.errors import InputError, OutputBusyError, OutputError, VidcolorWarning
from vidcolor.io.encode import EncodeSettings
from vidcolor.models import create_generator
from vidcolor.resume import colorize_video_resumable, resume_folder
from vidcolor.worker import Colorizer

RENDER = dict(progress=False, segment_seconds=0.2)  # segments of 6 frames at 29.97 fps


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_video(tmp_path / "in.mp4", size=(96, 64), frames=20)


def render_counting(monkeypatch, source: Path, out: Path, colorizer: Colorizer, **options) -> int:  # noqa: F811
    """Render ``source`` to ``out`` with ``--resume``; how many frames went through the model."""
    with monkeypatch.context() as patch:
        counted = StopAfter(patch, limit=10**9)
        assert colorize_video_resumable(source, out, colorizer, **RENDER | options).frames == 20
    return counted.seen


@pytest.mark.parametrize(("change", "named"), [("render_size", "--render-size"), ("batch_size", "--batch-size")])
def test_another_render_size_or_batch_size_starts_over(tmp_path, source, colorizer, monkeypatch, change, named):  # noqa: F811
    """Both change the output's pixels: segments made with the old value must not be joined with new ones."""
    out = tmp_path / "out.mp4"
    interrupted_render(monkeypatch, source, out, colorizer, RENDER, limit=12)
    if change == "render_size":
        other, options = Colorizer(colorizer.model, device="cpu", render_size=32), {}
    else:
        other, options = colorizer, {"batch_size": 2}
    with pytest.warns(VidcolorWarning, match=f"starting over: the 2 finished segments .* with another {named}$"):
        assert render_counting(monkeypatch, source, out, other, **options) == 20


def test_the_starting_over_warning_counts_the_finished_segments(tmp_path, source, colorizer, monkeypatch):  # noqa: F811
    """Nothing finished, nothing to warn of; one finished segment is named in the singular."""
    out, other = tmp_path / "out.mp4", dict(settings=EncodeSettings(crf=20))
    interrupted_render(monkeypatch, source, out, colorizer, RENDER, limit=3)  # stopped inside the first segment
    assert json.loads((resume_folder(out) / "manifest.json").read_text())["segments"] == []
    interrupted_render(monkeypatch, source, tmp_path / "one.mp4", colorizer, RENDER, limit=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VidcolorWarning)
        assert render_counting(monkeypatch, source, out, colorizer, **other) == 20
    with pytest.warns(VidcolorWarning, match=r"the 1 finished segment in it was rendered with another --crf$"):
        assert render_counting(monkeypatch, source, tmp_path / "one.mp4", colorizer, **other) == 20


def test_a_resume_folder_left_by_another_version_starts_over(tmp_path, source, colorizer, monkeypatch):  # noqa: F811
    """Segments laid out by another vidcolor (another manifest version) are not taken over."""
    out = tmp_path / "out.mp4"
    folder = interrupted_render(monkeypatch, source, out, colorizer, RENDER, limit=12)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest | {"version": manifest["version"] - 1}))
    with pytest.warns(VidcolorWarning, match="starting over: the 2 finished segments .* by another version of vidcolor"):
        assert render_counting(monkeypatch, source, out, colorizer) == 20
    assert len(read_video_frames(out)) == 20 and not folder.exists()


def test_starting_over_removes_the_segments_of_the_other_settings(tmp_path, source, colorizer, monkeypatch):  # noqa: F811
    """Old segments left beside a new render were counted by the CLI's 'N finished segments are kept' on Ctrl-C."""
    out = tmp_path / "out.mp4"
    folder = interrupted_render(monkeypatch, source, out, colorizer, RENDER, limit=12)
    assert len(list(folder.glob("segment-*"))) == 2
    with pytest.warns(VidcolorWarning, match="starting over"):
        interrupted_render(monkeypatch, source, out, colorizer, RENDER | dict(settings=EncodeSettings(crf=20)), limit=3)
    assert sorted(path.name for path in folder.iterdir()) == ["manifest.json"]


def test_other_weights_with_their_own_colour_scale_are_named_as_other_weights_only(tmp_path, source, colorizer,  # noqa: F811
                                                                                 monkeypatch):
    """Other weights bring their own calibration, so the saturation they give differs too: not a --saturation change."""
    out = tmp_path / "out.mp4"
    interrupted_render(monkeypatch, source, out, colorizer, RENDER, limit=12)
    other = Colorizer(create_generator("tiny-unet"), device="cpu", render_size=64, calibration=2.0)
    with pytest.warns(VidcolorWarning, match="rendered with another --weights$"):
        assert render_counting(monkeypatch, source, out, other) == 20


def test_a_resume_folder_removed_while_its_lock_was_awaited_is_refused(tmp_path, source, colorizer, monkeypatch):  # noqa: F811
    """A run that finished removes its folder: the lock then taken is on a folder gone from the path, and this run's
    segments would go to a new, unlocked one."""
    out = tmp_path / "out.mp4"
    lock = resume.try_lock

    def after_the_other_run_finished(descriptor: int) -> bool | None:
        shutil.rmtree(resume_folder(out))
        resume_folder(out).mkdir()  # and a third run made it again
        return lock(descriptor)

    monkeypatch.setattr(resume, "try_lock", after_the_other_run_finished)
    with monkeypatch.context() as patch:
        counted = StopAfter(patch, limit=10**9)
        with pytest.raises(OutputBusyError, match="being rendered by another --resume run"):
            colorize_video_resumable(source, out, colorizer, **RENDER)
    assert counted.seen == 0 and not out.exists()


def test_resumed_after_several_segments_the_slots_count_from_the_video_s_first_frame(tmp_path, colorizer,  # noqa: F811
                                                                                      monkeypatch):
    """.m4v frames of a variable-rate source go on slots counted from the video's first frame, also after two
    finished segments (not from the last finished segment's first frame)."""
    source = timed_clip(tmp_path / "in.mp4", jittered_times(30))
    plain, out = tmp_path / "plain.m4v", tmp_path / "out.m4v"
    colorize_video(source, plain, colorizer, progress=False)
    render = dict(progress=False, segment_seconds=0.3)  # segments of 9 frames
    folder = interrupted_render(monkeypatch, source, out, colorizer, render, limit=20)
    assert len(json.loads((folder / "manifest.json").read_text())["segments"]) == 2
    colorize_video_resumable(source, out, colorizer, **render)
    assert frame_times(out) == frame_times(plain) and len(frame_times(plain)) == 30


def test_a_resumed_render_carries_the_smoothing_on_across_the_interruption(tmp_path, source, colorizer,  # noqa: F811
                                                                          monkeypatch):
    """Losslessly encoded, a resumed render's pictures equal an uninterrupted one's: the smoother continues from its
    saved state (started afresh, the frames after the interruption lost the colour carried over from before)."""
    render = dict(RENDER, settings=EncodeSettings(crf=0), temporal=TemporalOptions(strength=0.9))
    reference, out = tmp_path / "reference.mp4", tmp_path / "out.mp4"
    colorize_video_resumable(source, reference, colorizer, **render)
    interrupted_render(monkeypatch, source, out, colorizer, render, limit=12)
    colorize_video_resumable(source, out, colorizer, **render)
    resumed, uninterrupted = decoded_planes(out), decoded_planes(reference)
    assert len(resumed) == len(uninterrupted) == 20
    assert all(np.array_equal(a, b) for a, b in zip(resumed, uninterrupted))


@pytest.mark.parametrize("content", ["[]", "null", '"segments"'])
def test_a_manifest_that_is_not_an_object_starts_over(tmp_path, source, colorizer, monkeypatch, content):  # noqa: F811
    out = tmp_path / "out.mp4"
    folder = interrupted_render(monkeypatch, source, out, colorizer, RENDER, limit=12)
    (folder / "manifest.json").write_text(content)
    assert render_counting(monkeypatch, source, out, colorizer) == 20
    assert len(read_video_frames(out)) == 20 and not folder.exists()


def test_a_segment_length_under_one_frame_renders_a_frame_per_segment(tmp_path, colorizer):  # noqa: F811
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=4)
    out = tmp_path / "out.mp4"
    assert colorize_video_resumable(source, out, colorizer, progress=False, segment_seconds=1e-6).frames == 4
    assert len(read_video_frames(out)) == 4 and not resume_folder(out).exists()


def test_a_symbolic_link_in_the_way_of_the_resume_folder_is_refused(tmp_path, source, colorizer):  # noqa: F811
    """A link to a folder passed for the resume folder: the segments went into its target and were never removed."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out.mp4"
    resume_folder(out).symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(OutputError, match="is in the way of the --resume folder"):
        colorize_video_resumable(source, out, colorizer, **RENDER)
    assert not out.exists() and list(elsewhere.iterdir()) == []


def test_an_output_that_appears_during_a_resumable_render_is_left_alone(tmp_path, source):
    """Without --overwrite a file written at the output meanwhile (a copy into the folder) is kept, as in a plain
    render; the render's frames are kept too, and the error says how to join them (it used to say the run did
    not start, after a whole render)."""
    out = tmp_path / "out.mp4"
    coloriser = Colorizer(_CreatesTheOutput(out), device="cpu", render_size=64)
    with pytest.raises(OutputError, match="it was left alone, and this render's 20 frames are kept in") as error:
        colorize_video_resumable(source, out, coloriser, **RENDER)
    assert "did not start" not in str(error.value) and "--resume --overwrite" in str(error.value)
    assert out.read_bytes() == CONTENT
    joined = colorize_video_resumable(source, out, coloriser, **RENDER, overwrite=True)
    assert joined.coloured == 0 and len(read_video_frames(out)) == 20 and not resume_folder(out).exists()


def test_the_progress_bar_of_a_resumed_render_counts_the_frames_done_before(tmp_path, source, colorizer,  # noqa: F811
                                                                          monkeypatch, capsys):
    out = tmp_path / "out.mp4"
    interrupted_render(monkeypatch, source, out, colorizer, RENDER, limit=12)
    capsys.readouterr()
    colorize_video_resumable(source, out, colorizer, **RENDER | dict(progress=True))
    bar = capsys.readouterr().err
    assert "12/20" in bar and "20/20" in bar  # from the 12 frames done before to the end


def test_a_first_render_counts_no_frames_as_coloured_before(tmp_path, source, colorizer):  # noqa: F811
    """Only a resumed render has a count of its own (the CLI's summary then says 'N coloured in this run')."""
    assert colorize_video_resumable(source, tmp_path / "out.mp4", colorizer, **RENDER).coloured is None


@pytest.mark.parametrize(("make", "words"), [
    (live_without_pictures, "has a video stream but no decodable frames"),
    (lambda path: make_without_pictures(path, "ffv1", "aac", 1024), r"truncated or corrupt \(no frame decodes\)"),
], ids=["no-frames", "none-decodes"])
def test_a_video_without_frames_is_an_input_error_that_leaves_no_resume_folder(tmp_path, colorizer, make, words):  # noqa: F811
    """The error left a hidden resume folder holding only a manifest beside the output: nothing to resume, and
    a rerun fails alike, so it stayed for good."""
    source = make(tmp_path / "no_picture.mkv")
    with pytest.raises(InputError, match=words):
        colorize_video_resumable(source, tmp_path / "out.mp4", colorizer, **RENDER)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["no_picture.mkv"]
