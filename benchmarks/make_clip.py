"""Make a benchmark clip: the first N frames of a video (looped if it is shorter), scaled to W×H.

    python benchmarks/make_clip.py ../shared/data/video/color/cockatoo.mp4 clip1080.mp4 --size 1920x1080 --frames 240

The shared clips stop at 720p; the GPU throughput goal is stated at 1080p, so this scales a real clip
up (bicubic, libx264 CRF 18, grey or colour as the source) rather than synthesising one: real texture
and motion keep the decoder and encoder costs realistic. Video only; the throughput benchmark's
numbers do not depend on sound.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import closing
from fractions import Fraction
from itertools import islice
from pathlib import Path

import av
from tqdm import tqdm

from vidcolor.io.output import atomic_output


def _frames_looped(path: Path) -> Iterator[av.VideoFrame]:
    """Every frame of the first video stream, from the start again after the last."""
    while True:
        produced = False
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                produced = True
                yield frame
        if not produced:
            raise ValueError(f"{path} has no video frames")


def make_clip(source: Path, output: Path, width: int, height: int, frames: int, crf: int = 18) -> int:
    """Write ``frames`` frames of ``source`` scaled to ``width`` x ``height`` into ``output``; returns the count."""
    with av.open(str(source)) as probe:
        stream = probe.streams.video[0]
        rate = Fraction(stream.average_rate or stream.guessed_rate or 25)
    with atomic_output(output) as temporary, av.open(str(temporary), "w") as container:
        video = container.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": "medium"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        with closing(_frames_looped(source)) as looped:
            for index, frame in enumerate(tqdm(islice(looped, frames), total=frames, unit="frame", desc=output.name)):
                scaled = frame.reformat(width=width, height=height, format="yuv420p", interpolation="BICUBIC")
                scaled.pts, scaled.time_base = index, 1 / rate
                container.mux(video.encode(scaled))
        container.mux(video.encode())
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--size", default="1920x1080", help="WxH, both even")
    parser.add_argument("--frames", type=int, default=240)
    args = parser.parse_args()
    try:
        width, height = (int(side) for side in args.size.lower().split("x"))
    except ValueError:
        parser.exit(2, f"error: --size must look like 1920x1080, got {args.size}\n")
    if width % 2 or height % 2 or args.frames < 1:
        parser.exit(2, "error: --size needs an even width and height and --frames at least 1\n")
    try:
        written = make_clip(args.source, args.output, width, height, args.frames)
    except (av.FFmpegError, OSError, ValueError) as error:
        parser.exit(1, f"error: {error}\n")
    print(f"{args.output}: {written} frames at {width}x{height}")


if __name__ == "__main__":
    main()
