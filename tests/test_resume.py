"""--resume: an interrupted render continues and gives exactly what an uninterrupted one gives."""

import errno
import json
import os
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli import main
from tests.media import (
    drop_first_packets, make_damaged_times, make_slideshow, make_video, read_packets, read_video_frames,
)
from vidcolor import pipeline
from vidcolor.errors import OutputError, VidcolorWarning
from vidcolor.io.encode import EncodeSettings
from vidcolor.io.decode import VideoSource
from vidcolor.models import create_generator, save_generator
from vidcolor.pipeline import colorize_video
from vidcolor.resume import colorize_video_resumable, resume_folder
from vidcolor.temporal import TemporalOptions
from vidcolor.worker import Colorizer


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    torch.manual_seed(0)
    model = create_generator("tiny-unet")
    with torch.no_grad():  # visible colour, so a wrong smoother state would show
        last = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        last.weight.normal_(std=0.5)
    return Colorizer(model, device="cpu", render_size=64)


def video_timing(path):
    with av.open(str(path)) as container:
        return [(p.pts, p.dts, p.is_keyframe) for p in container.demux(container.streams.video[0]) if p.size]


def decoded_planes(path):
    with av.open(str(path)) as container:
        return [np.concatenate([frame.to_ndarray().ravel()]) for frame in container.decode(video=0)]


class StopAfter:
    """Raise KeyboardInterrupt (as Ctrl-C would) once ``limit`` frames have gone through the model."""

    def __init__(self, monkeypatch, limit: int) -> None:
        self.seen = 0
        original = pipeline.FrameColorizer.__call__

        def interrupting(frame_colorizer, frames):
            self.seen += len(frames)
            if self.seen > limit:
                raise KeyboardInterrupt
            return original(frame_colorizer, frames)

        monkeypatch.setattr(pipeline.FrameColorizer, "__call__", interrupting)


def interrupted_render(monkeypatch, source, out, colorizer, render: dict, limit: int):
    """Start a resumable render, stop it with Ctrl-C after ``limit`` frames; its resume folder."""
    with monkeypatch.context() as patch:
        StopAfter(patch, limit=limit)
        with pytest.raises(KeyboardInterrupt):
            colorize_video_resumable(source, out, colorizer, **render)
    return resume_folder(out)


@pytest.mark.parametrize("options", [dict(), dict(vfr=True)], ids=["cfr-aac", "vfr"])
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, colorizer, monkeypatch, options):
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=40, audio="aac", **options)
    reference = tmp_path / "reference.mp4"
    render = dict(temporal=TemporalOptions(strength=0.8), batch_size=4, progress=False, segment_seconds=0.4)
    colorize_video_resumable(source, reference, colorizer, **render)
    assert not resume_folder(reference).exists()

    out = tmp_path / "out.mp4"
    folder = interrupted_render(monkeypatch, source, out, colorizer, render, limit=27)
    assert not out.exists() and folder.is_dir()
    manifest = json.loads((folder / "manifest.json").read_text())
    kept = [segment["file"] for segment in manifest["segments"]]
    assert kept and sorted(p.name for p in folder.glob("segment-*")) == kept
    assert sum(segment["frames"] for segment in manifest["segments"]) <= 27
    assert not list(folder.glob(".*partial*"))

    result = colorize_video_resumable(source, out, colorizer, **render)
    assert result.frames == 40 and not folder.exists()
    # the summary's speed counts only what this run coloured (it said 280 frames in 2.4 s: 116 fps)
    done_before = sum(segment["frames"] for segment in manifest["segments"])
    assert result.coloured == 40 - done_before and result.frames_per_second == pytest.approx(
        result.coloured / result.seconds)
    assert video_timing(out) == video_timing(reference)
    for resumed, uninterrupted in zip(decoded_planes(out), decoded_planes(reference), strict=True):
        # Same pictures. libx264 is not bit-exact between identical runs on CPUs with AVX-512
        # (its macroblock-tree code; two encodes differ by ~0.1-0.5 levels), so compare within that.
        assert np.abs(resumed.astype(int) - uninterrupted).mean() < 1.0
    assert read_packets(out, "audio") == read_packets(source, "audio")
    before, after = read_video_frames(source), read_video_frames(out)
    assert [p * tb for p, tb, _ in after] == [p * tb for p, tb, _ in before]
    assert all((a[2] == b[2]).mean() > 0.99 or abs(a[2].astype(int) - b[2]).mean() < 1 for a, b in zip(before, after))


def test_changed_settings_start_over(tmp_path, colorizer, monkeypatch):
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=20)
    out = tmp_path / "out.mp4"
    with monkeypatch.context() as patch:
        StopAfter(patch, limit=12)
        with pytest.raises(KeyboardInterrupt):
            colorize_video_resumable(source, out, colorizer, progress=False, segment_seconds=0.2)
    assert (resume_folder(out) / "segment-00000.mp4").exists()
    with monkeypatch.context() as patch:
        counted = StopAfter(patch, limit=10**9)
        with pytest.warns(VidcolorWarning, match="starting over: .* with another --temporal$"):
            colorize_video_resumable(source, out, colorizer, progress=False, segment_seconds=0.2,
                                     temporal=TemporalOptions(enabled=False))
    assert counted.seen == 20 and len(read_video_frames(out)) == 20


def test_other_weights_with_the_same_metadata_start_over(tmp_path, colorizer, monkeypatch):
    """The manifest named the model by its metadata only: a Colorizer around another module (metadata {})
    took over the first one's finished segments."""
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=20)
    out = tmp_path / "out.mp4"
    interrupted_render(monkeypatch, source, out, colorizer, dict(progress=False, segment_seconds=0.2), limit=12)
    assert (resume_folder(out) / "segment-00000.mp4").exists()
    torch.manual_seed(1)
    other = Colorizer(create_generator("tiny-unet"), device="cpu", render_size=64)
    assert other.metadata == colorizer.metadata
    with monkeypatch.context() as patch:
        counted = StopAfter(patch, limit=10**9)
        with pytest.warns(VidcolorWarning, match="starting over: .* with another --weights$"):
            colorize_video_resumable(source, out, other, progress=False, segment_seconds=0.2)
    assert counted.seen == 20


def test_a_missing_segment_costs_only_the_segments_from_it_on(tmp_path, colorizer, monkeypatch):
    """One deleted segment file used to throw every finished segment away; the ones before it are kept,
    and the result still equals an uninterrupted render."""
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=40)
    render = dict(temporal=TemporalOptions(strength=0.8), batch_size=4, progress=False, segment_seconds=0.2)
    reference = tmp_path / "reference.mp4"
    colorize_video_resumable(source, reference, colorizer, **render)
    out = tmp_path / "out.mp4"
    folder = interrupted_render(monkeypatch, source, out, colorizer, render, limit=30)
    assert len(json.loads((folder / "manifest.json").read_text())["segments"]) >= 4
    (folder / "segment-00002.mp4").unlink()
    with monkeypatch.context() as patch:
        counter = StopAfter(patch, limit=1000)
        result = colorize_video_resumable(source, out, colorizer, **render)
    assert result.frames == 40 and counter.seen == 40 - 2 * 6  # segments 0 and 1 (6 frames each) were kept
    assert video_timing(out) == video_timing(reference)
    for resumed, uninterrupted in zip(decoded_planes(out), decoded_planes(reference), strict=True):
        assert np.abs(resumed.astype(int) - uninterrupted).mean() < 1.0


def test_damaged_segment_and_state_files_are_rendered_again(tmp_path, colorizer, monkeypatch):
    """A truncated segment made every rerun fail at the join; a truncated or deleted state file failed
    with BadZipFile / FileNotFoundError. The damaged segment and those after it are rendered again."""
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=30)
    render = dict(temporal=TemporalOptions(strength=0.8), batch_size=4, progress=False, segment_seconds=0.2)
    for damage in ("truncate segment", "truncate state", "delete state"):
        out = tmp_path / f"{damage.replace(' ', '-')}.mp4"
        folder = interrupted_render(monkeypatch, source, out, colorizer, render, limit=24)
        victim = folder / ("segment-00001.mp4" if "segment" in damage else "state-00001.npz")
        if damage.startswith("truncate"):
            victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
        else:
            victim.unlink()
        with monkeypatch.context() as patch:
            counter = StopAfter(patch, limit=1000)
            assert colorize_video_resumable(source, out, colorizer, **render).frames == 30
        assert counter.seen == 30 - 6, damage  # only segment 0 was kept
        assert len(read_video_frames(out)) == 30


@pytest.mark.parametrize(("name", "codec"), [("cut.avi", "mpeg4"), ("cut.mkv", "libx264")])
def test_a_recording_cut_inside_a_gop_keeps_all_its_sound(tmp_path, colorizer, name, codec):
    """The join's sound pass went back to the start by a seek: a cut AVI refuses it (the file is opened
    again; that failed, or lost the sound, when the sound streams were taken from the closed file), and in
    a cut Matroska file it lands on the first keyframe, after the first sound packets (2 were lost)."""
    whole = make_video(tmp_path / ("whole-" + name), size=(96, 64), frames=40, codec=codec, gop=8, audio="mp3")
    source = drop_first_packets(whole, tmp_path / name, 3)
    plain = colorize_video(source, tmp_path / "plain.mp4", colorizer, progress=False)
    out = tmp_path / "out.mp4"
    result = colorize_video_resumable(source, out, colorizer, progress=False, segment_seconds=0.4)
    assert result.frames == plain.frames > 0
    assert len(read_packets(out, "audio")) == len(read_packets(source, "audio")) > 0


def test_resume_never_empties_a_folder_that_is_not_its_own(tmp_path, colorizer):
    """A folder that happened to have the resume folder's name (here holding the input itself) was wiped."""
    out = tmp_path / "out.mp4"
    folder = resume_folder(out)
    folder.mkdir()
    source = make_video(folder / "in.mp4", size=(96, 64), frames=6)
    (folder / "notes.txt").write_text("precious")
    with pytest.raises(OutputError, match="holds files that are not vidcolor's"):
        colorize_video_resumable(source, out, colorizer, progress=False)
    assert source.is_file() and (folder / "notes.txt").read_text() == "precious" and not out.exists()
    in_the_way = tmp_path / "other.mp4"
    resume_folder(in_the_way).write_text("x")
    with pytest.raises(OutputError, match="in the way"):
        colorize_video_resumable(source, in_the_way, colorizer, progress=False)


def test_cli_resume_message_and_continue(tmp_path, colorizer, monkeypatch):
    weights = tmp_path / "tiny.safetensors"
    save_generator(colorizer.model, weights, "tiny-unet")
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=330, audio="mp3")
    out = tmp_path / "out.mp4"
    args = [str(source), "-o", str(out), "--weights", str(weights), "--render-size", "64", "--resume", "-q"]
    with monkeypatch.context() as patch:
        StopAfter(patch, limit=310)
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 130
    assert "run the same command again to continue" in result.stderr
    assert not out.exists()
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert len(read_video_frames(out)) == 330


def frame_times(path):
    """Each frame's time in seconds as vidcolor reads it (AVI: its frame slot)."""
    with VideoSource(path) as source:
        return [frame.pts * source.info.time_base for frame in source.frames()]


@pytest.mark.parametrize("options", [dict(rate=Fraction(25)), dict(rate=Fraction(30000, 1001), audio="aac"), dict(vfr=True)],
                         ids=["25fps", "ntsc-aac", "vfr"])
def test_avi_output_keeps_frame_slots(tmp_path, colorizer, options):
    """AVI stores no per-frame times: segments must still land on the right frame slots when joined."""
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=30, **options)
    plain, resumable = tmp_path / "plain.avi", tmp_path / "resumable.avi"
    colorize_video(source, plain, colorizer, progress=False)
    colorize_video_resumable(source, resumable, colorizer, progress=False, segment_seconds=0.4)
    # Same frame slots; only the keyframe flags differ (each segment starts on a keyframe).
    assert [t[:2] for t in video_timing(resumable)] == [t[:2] for t in video_timing(plain)]
    times = frame_times(resumable)
    assert len(times) == 30 and times == sorted(set(times))
    if "rate" in options:  # a constant-rate source keeps its exact times
        assert times == [index / options["rate"] for index in range(30)]


@pytest.mark.parametrize("options", [dict(), dict(vfr=True, audio="aac")], ids=["cfr", "vfr-aac"])
def test_matroska_output_joins_segments_with_b_frames(tmp_path, colorizer, options):
    """Matroska stores pts only, so the dts of each segment's first reordered packets are derived on joining."""
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=30, **options)
    plain, resumable = tmp_path / "plain.mkv", tmp_path / "resumable.mkv"
    colorize_video(source, plain, colorizer, progress=False)
    colorize_video_resumable(source, resumable, colorizer, progress=False, segment_seconds=0.3)
    assert frame_times(resumable) == frame_times(plain) and len(frame_times(plain)) == 30
    with av.open(str(plain)) as a, av.open(str(resumable)) as b:  # the join stated 1/time base (15360 fps)
        assert b.streams.video[0].average_rate == a.streams.video[0].average_rate


@pytest.mark.parametrize(("source_ext", "ext"), [("mp4", "mp4"), ("mp4", "mkv"), ("mkv", "mkv"), ("mp4", "avi")])
def test_a_long_last_frame_keeps_its_duration_with_and_without_resume(tmp_path, colorizer, source_ext, ext):
    """A slideshow's last picture (3 s) was cut to one frame period, by the render and by the join (Matroska
    segments, which store no dts, lost it at the join even after the render kept it)."""
    source = make_slideshow(tmp_path / f"slides.{source_ext}")
    plain, resumable = tmp_path / f"plain.{ext}", tmp_path / f"resumable.{ext}"
    colorize_video(source, plain, colorizer, progress=False)
    colorize_video_resumable(source, resumable, colorizer, progress=False, segment_seconds=0.4)
    for output in (plain, resumable):
        with av.open(str(output)) as container:
            assert container.duration / av.time_base == pytest.approx(3.96, abs=1e-3), output.name
        assert len(read_video_frames(output)) == 25


@pytest.mark.parametrize("name", ["out.gif", "out.mpg", "out.vob"])
def test_outputs_whose_segments_cannot_be_joined_are_refused(tmp_path, colorizer, name):
    """A GIF segment is a whole animation and MPEG-PS segments lose their order at the join: the join failed or
    kept only the first segment, after the whole render."""
    from vidcolor.errors import OutputError

    source = make_video(tmp_path / "in.mp4", size=(64, 48), frames=4)
    with pytest.raises(OutputError, match="--resume cannot join"):
        colorize_video_resumable(source, tmp_path / name, colorizer, progress=False)
    result = CliRunner().invoke(main, [str(source), "-o", str(tmp_path / name), "--resume",
                                       "--weights", str(tmp_path / "never-loaded.safetensors")])
    assert result.exit_code == 1 and "--resume cannot join" in result.output  # before the model loads
    assert not list(tmp_path.glob(".*"))


def test_a_name_too_long_for_the_resume_folder_is_refused_first(tmp_path, colorizer):
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=4)
    with pytest.raises(OutputError, match=r"is too long: its working name '\..*\.vidcolor-resume'"):
        colorize_video_resumable(source, tmp_path / ("c" * 236 + ".mp4"), colorizer, progress=False)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.mp4"]


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_frame_times_that_go_back_are_mended_alike_with_and_without_resume(tmp_path, colorizer, ext):
    """Each segment's sink started afresh, so a frame going back at a segment's start kept its time: 0 s in MP4,
    before the frame ahead of it in Matroska."""
    source = make_damaged_times(tmp_path / "damaged.mkv", [0, 40, 80, 60, 120, 160, 200, 240])
    plain, resumed = tmp_path / f"plain.{ext}", tmp_path / f"resumed.{ext}"
    with pytest.warns(UserWarning, match="frame times go back or repeat"):
        colorize_video(source, plain, colorizer, progress=False)
    with pytest.warns(UserWarning, match="frame times go back or repeat"):
        colorize_video_resumable(source, resumed, colorizer, progress=False, segment_seconds=0.12)
    times = [float(pts * time_base) for pts, time_base, _ in read_video_frames(resumed)]
    assert times == [float(pts * time_base) for pts, time_base, _ in read_video_frames(plain)]
    assert len(times) == 8 and times == sorted(set(times))


def durations(path):
    """The file's duration and its video track's, in seconds."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return container.duration / av.time_base, float((video.duration or 0) * video.time_base)


@pytest.mark.parametrize("ext", ["mp4", "mov", "mkv"])
def test_a_resumed_variable_rate_render_lasts_as_long_as_a_plain_one(tmp_path, colorizer, monkeypatch, ext):
    """Each segment's file guessed a duration for its last frame (MP4: 65 ms where the frame shows 33 ms);
    the join kept the last segment's guess, so a resumed phone video ran 32 ms longer than its source."""
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=40, vfr=True, audio="aac")
    plain, out = tmp_path / f"plain.{ext}", tmp_path / f"out.{ext}"
    colorize_video(source, plain, colorizer, progress=False)
    render = dict(progress=False, segment_seconds=0.3)
    interrupted_render(monkeypatch, source, out, colorizer, render, limit=20)
    colorize_video_resumable(source, out, colorizer, **render)
    assert durations(out) == pytest.approx(durations(plain), abs=0.0011)  # Matroska rounds each end to 1 ms
    assert frame_times(out) == frame_times(plain) and len(frame_times(out)) == 40
    assert read_packets(out, "audio") == read_packets(plain, "audio")


@pytest.mark.parametrize("vfr", [True, False])
def test_a_resumed_mxf_from_a_variable_or_film_rate_source_matches_a_plain_render(tmp_path, colorizer, monkeypatch, vfr):
    """MPEG-2 in MXF takes only standard rates and repeats frames to fill its slots: the join set the source's
    average rate (refused: an error after the whole render), and no segment repeated its last frame up to the
    next one's first (72 frames where a plain render has 78)."""
    rate = Fraction(25) if vfr else Fraction(16)  # a silent film's 16 fps goes on 23.976 fps slots
    source = make_video(tmp_path / "in.mp4", size=(64, 48), frames=30, rate=rate, vfr=vfr, audio="aac")
    plain, out = tmp_path / "plain.mxf", tmp_path / "out.mxf"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VidcolorWarning)  # AAC re-encoded as PCM for MXF
        colorize_video(source, plain, colorizer, progress=False)
        render = dict(progress=False, segment_seconds=0.4)
        interrupted_render(monkeypatch, source, out, colorizer, render, limit=12)
        colorize_video_resumable(source, out, colorizer, **render)
    assert frame_times(out) == frame_times(plain) and len(frame_times(out)) > 30


def test_a_full_disk_while_saving_progress_is_an_output_error_and_the_rerun_continues(tmp_path, colorizer, monkeypatch):
    """The smoother state and the manifest were written unguarded: a full disk there gave the CLI's unexpected-error
    line 'OSError: [Errno 28] ... (set VIDCOLOR_DEBUG=1 for details)', which says nothing of the kept segments."""
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=18)
    out = tmp_path / "out.mp4"
    render = dict(progress=False, segment_seconds=0.2)  # segments of 6 frames
    writes = {"state": 0, "manifest": 0}

    def full_on_second_write(kind, original):
        def write(*args, **kwargs):
            if kind == "state" or Path(args[0]).name == "manifest.json.tmp":
                writes[kind] += 1
                if writes[kind] == 2:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return original(*args, **kwargs)
        return write

    with monkeypatch.context() as patch:  # the state after segment 1 is not saved
        patch.setattr(np, "savez", full_on_second_write("state", np.savez))
        with pytest.raises(OutputError, match="No space left on device.*run the same command again to continue"):
            colorize_video_resumable(source, out, colorizer, **render)
    with monkeypatch.context() as patch:  # segment 1 is rendered again and recorded; segment 2's record fails
        patch.setattr(Path, "write_text", full_on_second_write("manifest", Path.write_text))
        with pytest.raises(OutputError, match="No space left on device.*run the same command again to continue"):
            colorize_video_resumable(source, out, colorizer, **render)
    assert not out.exists()
    with monkeypatch.context() as patch:
        counted = StopAfter(patch, limit=10**9)
        assert colorize_video_resumable(source, out, colorizer, **render).frames == 18
    assert counted.seen == 6 and len(read_video_frames(out)) == 18  # segments 0 and 1 were kept


def test_starting_over_says_which_setting_or_input_changed(tmp_path, colorizer, monkeypatch):
    """Finished segments made with other settings, or of an input that has changed since, were thrown away
    without a word: a rerun with another --crf silently redid hours of work."""
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=20)
    out = tmp_path / "out.mp4"
    render = dict(progress=False, segment_seconds=0.2)
    interrupted_render(monkeypatch, source, out, colorizer, render, limit=12)
    with pytest.warns(VidcolorWarning, match=r"starting over: the 2 finished segments .* were rendered with "
                                             r"another --crf and --temporal-strength"):
        interrupted_render(monkeypatch, source, out, colorizer, render | dict(
            settings=EncodeSettings(crf=20), temporal=TemporalOptions(strength=0.5)), limit=12)
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    with pytest.warns(VidcolorWarning, match=r"starting over: the 2 finished segments .* were rendered from "
                                             r"another version of .*in\.mp4"):
        interrupted_render(monkeypatch, source, out, colorizer, render, limit=12)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VidcolorWarning)  # the same command again: no warning
        assert colorize_video_resumable(source, out, colorizer, **render).frames == 20


@pytest.mark.parametrize("ext", ["m4v", "3gp"])
def test_mp4_family_outputs_on_frame_slots_keep_exact_frame_times(tmp_path, colorizer, ext):
    """.m4v and .3gp muxers keep each frame's time but, like AVI, get frames on slots; their segments were joined
    as AVI's, the first frame of each from the manifest and the rest as read back, 0.3 ms early (a segment's start
    is rounded to 1 ms in its edit list)."""
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=30, audio="aac")
    plain, resumable = tmp_path / f"plain.{ext}", tmp_path / f"resumable.{ext}"
    colorize_video(source, plain, colorizer, progress=False)
    colorize_video_resumable(source, resumable, colorizer, progress=False, segment_seconds=0.3)
    assert frame_times(resumable) == frame_times(plain) == [index * Fraction(1001, 30000) for index in range(30)]
    assert read_packets(resumable, "audio") == read_packets(plain, "audio")


@pytest.mark.parametrize("ext", ["mkv", "webm"])
def test_a_resumed_variable_rate_ts_states_the_frame_rate_a_plain_render_states(tmp_path, colorizer, ext):
    """An MPEG-TS whose frame rate varies states no average rate: the join stated none either, so Matroska took
    30000 fps from the H.264 timing information, and WebM, without a default frame duration, read its last frame
    back with none."""
    source = make_video(tmp_path / "in.ts", size=(96, 64), frames=30, rate=Fraction(25), vfr=True)
    plain, resumable = tmp_path / f"plain.{ext}", tmp_path / f"resumable.{ext}"
    colorize_video(source, plain, colorizer, progress=False)
    colorize_video_resumable(source, resumable, colorizer, progress=False, segment_seconds=0.4)
    with av.open(str(plain)) as a, av.open(str(resumable)) as b:
        assert b.streams.video[0].average_rate == a.streams.video[0].average_rate == 25
    assert frame_times(resumable) == frame_times(plain) and len(frame_times(plain)) == 30
    assert video_durations(resumable) == video_durations(plain)


def video_durations(path):
    """Each video packet's duration in seconds, in presentation order."""
    with av.open(str(path)) as container:
        packets = [packet for packet in container.demux(container.streams.video[0]) if packet.size]
    return [float(packet.duration * packet.time_base) for packet in sorted(packets, key=lambda packet: packet.pts)]


@pytest.mark.parametrize("options", [dict(rate=Fraction(25), audio="mp3"), dict(rate=Fraction(30000, 1001), audio="aac")],
                         ids=["25fps-mp3", "ntsc-aac"])
def test_an_ogv_render_of_a_source_that_starts_late_resumes(tmp_path, colorizer, options):
    """Ogg keeps each page's time (its frames are on slots counted from it), but its segments were joined as AVI's,
    counted from a first frame at 0: from a source whose first frame is not at 0 (MPEG-TS, a camcorder's .mts) each segment's first
    frame went back before the frame ahead of it, and the join failed ('Invalid argument') after the whole render."""
    source = make_video(tmp_path / "in.ts", size=(96, 64), frames=30, **options)
    plain, resumable = tmp_path / "plain.ogv", tmp_path / "resumable.ogv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VidcolorWarning)  # the sound is re-encoded for Ogg
        colorize_video(source, plain, colorizer, progress=False)
        colorize_video_resumable(source, resumable, colorizer, progress=False, segment_seconds=0.4)
    assert frame_times(resumable) == frame_times(plain) == frame_times(source)
    assert read_packets(resumable, "audio") == read_packets(plain, "audio")
