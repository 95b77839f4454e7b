"""The benchmark clip maker: scales a real clip, loops it when it is shorter, writes atomically."""

import sys

import av
import pytest

from benchmarks._cli import run
from benchmarks.make_clip import main, make_clip
from tests.media import make_video
from vidcolor.errors import InputError, OutputError


def test_clip_is_scaled_and_looped_to_the_frame_count(tmp_path):
    source = make_video(tmp_path / "short.mp4", size=(96, 64), frames=10)
    output = tmp_path / "big.mp4"
    assert make_clip(source, output, 160, 120, 25) == 25
    with av.open(str(output)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
    assert (stream.width, stream.height, len(frames)) == (160, 120, 25)
    assert [frame.pts * frame.time_base * stream.average_rate for frame in frames[:3]] == [0, 1, 2]


def test_a_file_without_video_leaves_no_output(tmp_path):
    source = tmp_path / "noise.mp4"
    source.write_bytes(b"not a video at all")
    with pytest.raises(InputError, match="cannot be read as media"):
        make_clip(source, tmp_path / "out.mp4", 64, 48, 5)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["noise.mp4"]


def test_the_source_is_never_replaced_by_its_own_clip(tmp_path):
    """Giving the source as the output used to scale the clip and rename the result over the source."""
    source = make_video(tmp_path / "clip.mp4", size=(96, 64), frames=4)
    original = source.read_bytes()
    with pytest.raises(OutputError, match="would overwrite the input"):
        make_clip(source, source, 64, 48, 4, overwrite=True)
    assert source.read_bytes() == original
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clip.mp4"]


def test_an_existing_output_is_replaced_only_with_overwrite(tmp_path):
    source = make_video(tmp_path / "clip.mp4", size=(96, 64), frames=4)
    output = tmp_path / "big.mp4"
    output.write_bytes(b"an earlier clip")
    with pytest.raises(OutputError, match="already exists"):
        make_clip(source, output, 64, 48, 4)
    assert output.read_bytes() == b"an earlier clip"
    assert make_clip(source, output, 64, 48, 4, overwrite=True) == 4
    with av.open(str(output)) as container:
        assert container.streams.video[0].width == 64


@pytest.mark.parametrize("size", ["0x0", "161x120", "1280", "axb"])
def test_a_bad_size_is_a_usage_error(tmp_path, monkeypatch, capsys, size):
    monkeypatch.setattr(sys, "argv", ["make_clip", str(tmp_path / "in.mp4"), str(tmp_path / "out.mp4"), "--size", size])
    with pytest.raises(SystemExit) as exit_info:
        run(main)
    assert exit_info.value.code == 2
    assert "argument --size" in capsys.readouterr().err


def test_a_missing_source_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["make_clip", str(tmp_path / "missing.mp4"), str(tmp_path / "out.mp4")])
    with pytest.raises(SystemExit) as exit_info:
        run(main)
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'missing.mp4'} does not exist; check the path\n"
    assert not (tmp_path / "out.mp4").exists()
