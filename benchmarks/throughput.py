"""Throughput of the video pipeline against its parts, measured in one run on one machine.

    python benchmarks/throughput.py CLIP [--arch lite0-unet] [--frames 120] [--batch-size 8] [--temporal off]
        [--device auto]

Prints frames per second for
  * transcode:  decode + encode with the same encoder settings, no model (the I/O floor),
  * generator:  the model alone on the same number of frames, already in memory, in the same batches
                (after one warm-up batch),
  * end to end: ``colorize_video`` (decode, model, merge, encode overlapped in threads),
and the ratios end-to-end / generator and end-to-end / transcode. Use a clip of at least a
few seconds; ``--frames`` caps how many frames each measurement uses.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's packages

from benchmarks._cli import positive_int, run  # noqa: E402
from vidcolor.errors import InputError  # noqa: E402
from vidcolor.io.decode import LumaFrame, VideoSource  # noqa: E402
from vidcolor.io.encode import EncodeSettings, VideoSink  # noqa: E402
from vidcolor.models import create_generator, list_generators  # noqa: E402
from vidcolor.pipeline import colorize_video  # noqa: E402
from vidcolor.temporal import TemporalOptions  # noqa: E402
from vidcolor.worker import Colorizer  # noqa: E402


def _neutral_chroma(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    half = ((y.shape[0] + 1) // 2, (y.shape[1] + 1) // 2)
    neutral = np.full(half, 128, np.uint8)
    return neutral, neutral


def transcode(clip: Path, out: Path, settings: EncodeSettings, max_frames: int | None = None) -> int:
    """Decode frames and encode them again with grey chroma, copying the sound up to the last frame kept;
    returns frames written."""
    frames = 0
    with VideoSource(clip) as source, VideoSink(out, source, settings) as sink:
        for item in source.items():
            if not isinstance(item, LumaFrame):
                sink.write_packet(item)
            elif max_frames is None or frames < max_frames:
                sink.write_frame(item.y, *_neutral_chroma(item.y), item.pts)
                frames += 1
            else:  # the sound after the last frame kept would make the cut clip look truncated
                break
    return frames


def batch_sizes(frames: int, batch_size: int) -> list[int]:
    """The batches a render of ``frames`` frames gives the model: full ones, then the rest."""
    full, rest = divmod(frames, batch_size)
    return [batch_size] * full + ([rest] if rest else [])


def time_generator(colorizer: Colorizer, frames: int, batch_size: int) -> float:
    """Seconds for the model alone to predict ab for exactly ``frames`` frames held in memory."""
    lightness = torch.rand(batch_size, 1, colorizer.render_size, colorizer.render_size, device=colorizer.device) * 100
    colorizer.predict_ab(lightness)  # warm-up
    if colorizer.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for size in batch_sizes(frames, batch_size):
        colorizer.predict_ab(lightness[:size])
    if colorizer.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--arch", default="lite0-unet", choices=list_generators())
    parser.add_argument("--frames", type=positive_int, default=120)
    parser.add_argument("--batch-size", type=positive_int, default=8)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--temporal", choices=["on", "off"], default="off")
    args = parser.parse_args()

    settings = EncodeSettings()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        clip = folder / "clip.mkv"  # the first --frames frames, near-lossless, with the sound
        if not transcode(args.clip, clip, EncodeSettings(crf=10, preset="ultrafast"), max_frames=args.frames):
            raise InputError(f"{args.clip} has no video frames")
        colorizer = Colorizer(create_generator(args.arch), device=args.device)
        started = time.perf_counter()
        frames = transcode(clip, folder / "transcode.mkv", settings)
        transcode_s = time.perf_counter() - started
        generator_s = time_generator(colorizer, frames, args.batch_size)
        result = colorize_video(
            clip, folder / "colour.mkv", colorizer, settings=settings,
            temporal=TemporalOptions(enabled=args.temporal == "on"), batch_size=args.batch_size, progress=False,
        )
    with VideoSource(args.clip) as source:
        size = f"{source.info.width}x{source.info.height}"
    rows = [("transcode", frames / transcode_s), ("generator alone", frames / generator_s),
            ("end to end", result.frames / result.seconds)]
    print(f"clip {args.clip.name} ({size}), {frames} frames, {args.arch} on {colorizer.device}, "
          f"batch {args.batch_size}, temporal {args.temporal}, torch threads {torch.get_num_threads()}")
    for name, fps in rows:
        print(f"  {name:<16} {fps:8.2f} fps")
    print(f"  end to end / generator alone: {rows[2][1] / rows[1][1]:.2f}")
    print(f"  end to end / transcode:       {rows[2][1] / rows[0][1]:.2f}")


if __name__ == "__main__":
    run(main)
