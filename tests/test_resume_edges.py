"""--resume after what a hard kill or a changed folder leaves behind."""

import errno
import json
import os
from pathlib import Path

import pytest

from tests.media import make_video, read_packets, read_video_frames
from tests.test_resume import StopAfter, colorizer, interrupted_render, video_timing  # noqa: F401 (fixture)
from vidcolor import pipeline
from vidcolor.errors import OutputBusyError, OutputError
from vidcolor.resume import colorize_video_resumable, resume_folder
from vidcolor.temporal import TemporalOptions

RENDER = dict(temporal=TemporalOptions(strength=0.8), batch_size=4, progress=False, segment_seconds=0.2)


def test_what_a_kill_leaves_half_written_is_rendered_again(tmp_path, colorizer, monkeypatch):  # noqa: F811
    """kill -9 can stop a run inside a segment's file, its state file, or the manifest's temporary file; the
    rerun renders that segment again and the result equals an uninterrupted render, seams included."""
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=30, audio="aac")
    reference = tmp_path / "reference.mp4"
    colorize_video_resumable(source, reference, colorizer, **RENDER)
    out = tmp_path / "out.mp4"
    folder = interrupted_render(monkeypatch, source, out, colorizer, RENDER, limit=14)
    done = len(json.loads((folder / "manifest.json").read_text())["segments"])
    assert done == 2
    (folder / f".segment-{done:05d}.partial.mp4").write_bytes(b"\0\0\0\x18ftypisom")  # cut mid-box
    (folder / f"state-{done:05d}.npz").write_bytes(b"PK\3\4")  # a state file cut short
    (folder / "manifest.json.tmp").write_text('{"version": 1, "segm')
    with monkeypatch.context() as patch:
        counted = StopAfter(patch, limit=10**9)
        result = colorize_video_resumable(source, out, colorizer, **RENDER)
    assert counted.seen == 30 - 2 * 6 and result.frames == 30 and not folder.exists()
    assert video_timing(out) == video_timing(reference)
    assert [frame[0] for frame in read_video_frames(out)] == [frame[0] for frame in read_video_frames(reference)]
    assert read_packets(out, "audio") == read_packets(source, "audio")


def test_a_resume_folder_it_cannot_write_in_is_refused_before_colouring(tmp_path, colorizer, monkeypatch):  # noqa: F811
    """A resume folder made read-only after the interruption was found only when the next segment, coloured
    meanwhile, was renamed into it (the stale working file a kill leaves needs no new entry): a bare
    PermissionError, not the one-line advice."""
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=20)
    out = tmp_path / "out.mp4"
    folder = interrupted_render(monkeypatch, source, out, colorizer, RENDER, limit=12)
    (folder / ".segment-00002.partial.mp4").write_bytes(b"")
    before = sorted(path.name for path in folder.iterdir())
    denied = PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    access, replace, write_text = os.access, os.replace, Path.write_text

    def access_read_only(path, mode, **kwargs):  # what a read-only folder answers (root's too: chattr +i)
        return not (Path(path) == folder and mode & os.W_OK) and access(path, mode, **kwargs)

    def replace_in_read_only(src, dst):  # it refuses renames into it
        if Path(dst).parent == folder:
            raise denied
        return replace(src, dst)

    def write_in_read_only(path, *args, **kwargs):  # ... and new files in it
        if path.parent == folder and not path.exists():
            raise denied
        return write_text(path, *args, **kwargs)

    with monkeypatch.context() as patch:
        counted = StopAfter(patch, limit=10**9)
        patch.setattr(os, "access", access_read_only)
        patch.setattr(os, "replace", replace_in_read_only)
        patch.setattr(Path, "write_text", write_in_read_only)
        with pytest.raises(OutputError, match=r"the --resume folder .* is not writable .*run the same command again"):
            colorize_video_resumable(source, out, colorizer, **RENDER)
    assert counted.seen == 0 and not out.exists()
    assert sorted(path.name for path in folder.iterdir()) == before
    assert colorize_video_resumable(source, out, colorizer, **RENDER).frames == 20


def test_a_second_run_into_the_same_output_leaves_the_first_alone(tmp_path, colorizer, monkeypatch):  # noqa: F811
    """A second --resume run into the same output with another setting (typed in another terminal) emptied the
    folder under the running one, which then failed with a bare FileNotFoundError when it renamed its segment."""
    source = make_video(tmp_path / "in.mp4", size=(96, 64), frames=20)
    out = tmp_path / "out.mp4"
    second: list[BaseException] = []
    original = pipeline.FrameColorizer.__call__

    def meanwhile(frame_colorizer, frames):
        if not second and (resume_folder(out) / "segment-00001.mp4").exists():
            with pytest.raises(OutputBusyError) as raised:
                colorize_video_resumable(source, out, colorizer, **RENDER | dict(batch_size=2))
            second.append(raised.value)
        return original(frame_colorizer, frames)

    monkeypatch.setattr(pipeline.FrameColorizer, "__call__", meanwhile)
    result = colorize_video_resumable(source, out, colorizer, **RENDER)
    assert "being rendered by another --resume run right now" in str(second[0])
    assert result.frames == 20 and len(read_video_frames(out)) == 20 and not resume_folder(out).exists()
