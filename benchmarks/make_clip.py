"""Make a benchmark clip: the first N frames of a video (looped if it is shorter), scaled to W×H.

    python benchmarks/make_clip.py ../shared/data/video/color/cockatoo.mp4 clip1080.mp4 --size 1920x1080 --frames 240 \
        [--overwrite]

The shared clips stop at 720p; the GPU throughput goal is stated at 1080p, so this scales a real clip
up (bicubic, libx264 CRF 18, grey or colour as the source) rather than synthesising one: real texture
and motion keep the decoder and encoder costs realistic. Video only; the throughput benchmark's
numbers do not depend on sound. An existing output is replaced only with ``--overwrite``, and never the
source itself.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import closing
from fractions import Fraction
from itertools import islice
from pathlib import Path

import av
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's packages

from benchmarks._cli import frame_size, positive_int, run  # noqa: E402
from vidcolor.errors import InputError  # noqa: E402
from vidcolor.io.output import atomic_output, check_output_path  # noqa: E402
from vidcolor.io.probe import open_media  # noqa: E402


def _frames_looped(path: Path) -> Iterator[av.VideoFrame]:
    """Every frame of the first video stream, from the start again after the last."""
    while True:
        produced = False
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                produced = True
                yield frame
        if not produced:
            raise InputError(f"{path} has no video frames")


def make_clip(source: Path, output: Path, width: int, height: int, frames: int, crf: int = 18,
              overwrite: bool = False) -> int:
    """Write ``frames`` frames of ``source`` scaled to ``width`` x ``height`` into ``output``; returns the count.

    ``output`` may not be ``source``, nor exist unless ``overwrite`` (:class:`OutputError`)."""
    check_output_path(source, output, overwrite)
    with open_media(source) as probe:
        if not probe.streams.video:
            raise InputError(f"{source} has no video stream")
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
    parser.add_argument("--size", type=frame_size, default="1920x1080", help="WxH, both even (default: 1920x1080)")
    parser.add_argument("--frames", type=positive_int, default=240)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = parser.parse_args()
    width, height = args.size
    written = make_clip(args.source, args.output, width, height, args.frames, overwrite=args.overwrite)
    print(f"{args.output}: {written} frames at {width}x{height}")


if __name__ == "__main__":
    run(main)
