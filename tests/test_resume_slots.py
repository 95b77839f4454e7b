"""--resume into outputs on frame slots (.m4v, .3gp, AVI): every segment counts its slots from the video's first
frame, as a render in one go does."""

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from tests.media import pattern_planes
from tests.test_resume import frame_times, interrupted_render
from vidcolor.models import create_generator
from vidcolor.pipeline import colorize_video
from vidcolor.resume import colorize_video_resumable
from vidcolor.worker import Colorizer

TICK = Fraction(1, 90000)


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    torch.manual_seed(0)
    return Colorizer(create_generator("tiny-unet"), device="cpu", render_size=64)


def timed_clip(path: Path, times: list[int]) -> Path:
    """H.264 in MP4 whose frames are at ``times`` (in 1/90000 s), as a phone's variable-rate video."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.time_base = stream.time_base = TICK
        stream.options = {"crf": "12", "preset": "ultrafast"}
        for index, pts in enumerate(times):
            frame = av.VideoFrame(96, 64, "yuv420p")
            for plane, values in zip(frame.planes, pattern_planes(96, 64, index)):
                rows = np.zeros((plane.height, plane.line_size), np.uint8)
                rows[:, : plane.width] = values
                plane.update(rows)
            frame.pts, frame.time_base = pts, TICK
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def jittered_times(frames: int) -> list[int]:
    """Frames about 1/30 s apart, each off by a different fraction of a slot, starting 13 ms in."""
    times, pts = [], 1170
    for index in range(frames):
        times.append(pts)
        pts += 3003 + (700 if index % 3 == 0 else -350) + (index * 37) % 400
    return times


@pytest.mark.parametrize("ext", ["m4v", "3gp"])
def test_resumed_variable_rate_segments_keep_the_frame_times_of_a_render_in_one_go(tmp_path, colorizer, monkeypatch, ext):
    """Each segment counted its frame slots from its own first frame, a render in one go from the video's: after
    the first segment, frames of a variable-rate source came out up to 2 ms off (the same after an interruption,
    whose segments take the video's first frame from the manifest)."""
    source = timed_clip(tmp_path / "in.mp4", jittered_times(30))
    plain, out = tmp_path / f"plain.{ext}", tmp_path / f"out.{ext}"
    colorize_video(source, plain, colorizer, progress=False)
    render = dict(progress=False, segment_seconds=0.3)
    interrupted_render(monkeypatch, source, out, colorizer, render, limit=12)
    colorize_video_resumable(source, out, colorizer, **render)
    times = frame_times(plain)
    assert len(times) == 30 and times == sorted(set(times))
    assert frame_times(out) == times


@pytest.mark.parametrize("ext", ["m4v", "avi"])
def test_a_segment_whose_first_frame_rounds_onto_the_slot_before_joins_as_a_render_in_one_go(tmp_path, colorizer, ext):
    """A frame 9 ms after the one before it, at the start of a segment, goes to the next slot in a render in one go;
    the segment, not knowing the slot before it, put it on the one taken (AVI: the join failed after the whole
    render) or counted its slots from it (.m4v: 17 ms early from there on)."""
    times = [index * 3000 for index in range(9)] + [24800 + index * 3000 for index in range(21)]
    source = timed_clip(tmp_path / "in.mp4", times)
    plain, resumed = tmp_path / f"plain.{ext}", tmp_path / f"resumed.{ext}"
    colorize_video(source, plain, colorizer, progress=False)
    colorize_video_resumable(source, resumed, colorizer, progress=False, segment_seconds=0.3)
    assert frame_times(resumed) == frame_times(plain) and len(frame_times(plain)) == 30


def test_a_segment_that_left_out_a_frame_is_kept_when_the_render_resumes(tmp_path, colorizer, monkeypatch):
    """Three frames 1 ms apart have two slots in .m4v, and the last is left out; the segment holding it then had
    fewer packets than frames coloured, was taken for damaged and was rendered again on every resume."""
    times = [index * 3000 for index in range(5)] + [12090, 12180] + [18000 + index * 3000 for index in range(23)]
    source = timed_clip(tmp_path / "in.mp4", times)
    out = tmp_path / "out.m4v"
    render = dict(progress=False, segment_seconds=0.3)
    with pytest.warns(UserWarning, match=r"^out\.m4v \(segment 1\): 1 frame\(s\) of this video were left out"):
        folder = interrupted_render(monkeypatch, source, out, colorizer, render, limit=22)
    finished = [segment["frames"] for segment in json.loads((folder / "manifest.json").read_text())["segments"]]
    assert finished[0] == 9 and len(finished) >= 2  # the first segment coloured 9 frames and wrote 8
    result = colorize_video_resumable(source, out, colorizer, **render)  # its warning was given when it was made
    assert result.coloured == 30 - sum(finished)
    assert len(frame_times(out)) == 29
