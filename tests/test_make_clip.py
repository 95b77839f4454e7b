"""The benchmark clip maker: scales a real clip, loops it when it is shorter, writes atomically."""

import av
import pytest

from benchmarks.make_clip import make_clip
from tests.media import make_video


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
    with pytest.raises(av.FFmpegError):
        make_clip(source, tmp_path / "out.mp4", 64, 48, 5)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["noise.mp4"]
