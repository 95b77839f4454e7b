"""Flicker benchmark: does temporal smoothing hold colour steady without losing accuracy or speed?

    python benchmarks/flicker.py ../shared/data/video/color [--weights W] [--frames 60] [--strength 0.7]
        [--device auto] [--out test_results]

For every colour clip: the first ``--frames`` frames are turned grey (chroma set to neutral, luma
untouched), colourised per frame (``--temporal off``) and with temporal smoothing (``--temporal on``),
and compared with the truth:

* warp error: mean |ab(t) - warp(ab(t-1))| along optical flow computed on the TRUTH's L, occluded
  pixels masked (``flicker_metrics.warp_error``), for the truth itself, per-frame and temporal output;
* PSNR of the RGB output against the truth;
* frames per second of each render (the model is warmed up once before the first, so its one-off
  kernel selection is not counted).

Every video in the folder is measured (hidden files and files that are not videos are skipped, and
named); ``--frames`` must be at least 2, since the warp error compares consecutive frames.

Goals: temporal warp error <= 1.3 x the truth's, PSNR no more than 0.3 dB below per-frame, and speed
within 25 % of per-frame. Writes ``flicker_strengthS.md`` and ``.csv`` to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from skimage.color import rgb2lab

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._cli import run  # noqa: E402
from benchmarks.flicker_metrics import warp_error  # noqa: E402
from benchmarks.throughput import transcode  # noqa: E402
from vidcolor.errors import InputError  # noqa: E402
from vidcolor.io.encode import EncodeSettings  # noqa: E402
from vidcolor.io.probe import media_kind  # noqa: E402
from vidcolor.io.decode import stated_matrix  # noqa: E402
from vidcolor.pipeline import colorize_video  # noqa: E402
from vidcolor.temporal import TemporalOptions  # noqa: E402
from vidcolor.worker import Colorizer  # noqa: E402

METRIC_WIDTH = 320  # frames are compared at this width: flow on full HD would dominate the run


def find_videos(folder: Path) -> tuple[list[Path], list[Path]]:
    """The videos directly in ``folder`` (sorted) and the other files there, which are skipped."""
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; pass the folder of colour clips")
    videos, skipped = [], []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        try:
            is_video = media_kind(path) == "video"
        except InputError:
            is_video = False
        (videos if is_video else skipped).append(path)
    if not videos:
        raise InputError(f"no videos in {folder}")
    return videos, skipped


def warm_up(colorizer: Colorizer) -> None:
    """One untimed model call, so the first render's fps does not include the library's kernel selection."""
    size = colorizer.render_size
    colorizer.predict_ab(torch.full((8, 1, size, size), 50.0))


def decoded_rgb(path: Path, limit: int) -> list[np.ndarray]:
    """The first ``limit`` frames as RGB uint8 as players show them (an untagged frame in the matrix players
    assume for its height, not swscale's BT.601 at any size), resized to METRIC_WIDTH wide."""
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if not frame.format.is_rgb:
                frame.colorspace = stated_matrix(int(frame.colorspace), frame.height)
            rgb = frame.to_ndarray(format="rgb24")
            height = round(rgb.shape[0] * METRIC_WIDTH / rgb.shape[1])
            frames.append(cv2.resize(rgb, (METRIC_WIDTH, height), interpolation=cv2.INTER_AREA))
            if len(frames) == limit:
                break
    return frames


def lab_planes(frames: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """L scaled to 0..255 and ab (2, h, w) in Lab units for each frame."""
    labs = [rgb2lab(frame) for frame in frames]
    return [lab[..., 0] * 2.55 for lab in labs], [np.moveaxis(lab[..., 1:], -1, 0) for lab in labs]


def mean_warp_error(truth_l: list[np.ndarray], ab: list[np.ndarray]) -> float:
    errors = [warp_error(truth_l[i - 1], truth_l[i], ab[i - 1], ab[i]) for i in range(1, len(ab))]
    return float(np.nanmean(errors))


def mean_psnr(truth: list[np.ndarray], output: list[np.ndarray]) -> float:
    values = [cv2.PSNR(t, o) for t, o in zip(truth, output)]
    return float(np.mean(values))


def measure_clip(clip: Path, colorizer: Colorizer, frames: int, folder: Path, strength: float) -> dict[str, float | str]:
    """Grey version of ``clip``, both renders, and their scores."""
    grey = folder / f"{clip.name}_grey.mkv"
    count = transcode(clip, grey, EncodeSettings(crf=0, preset="ultrafast"), max_frames=frames)
    truth = decoded_rgb(clip, count)
    truth_l, truth_ab = lab_planes(truth)
    row: dict[str, float | str] = {"clip": clip.name, "frames": count, "truth_warp": mean_warp_error(truth_l, truth_ab)}
    for mode in ("off", "on"):
        out = folder / f"{clip.name}_{mode}.mkv"
        started = time.perf_counter()
        colorize_video(grey, out, colorizer, temporal=TemporalOptions(enabled=mode == "on", strength=strength), progress=False,
                       settings=EncodeSettings(crf=12, preset="veryfast"))
        row[f"fps_{mode}"] = count / (time.perf_counter() - started)
        output = decoded_rgb(out, count)
        row[f"warp_{mode}"] = mean_warp_error(truth_l, lab_planes(output)[1])
        row[f"psnr_{mode}"] = mean_psnr(truth, output)
    return row


def markdown(rows: list[dict], weights: str) -> str:
    lines = [
        f"Flicker benchmark ({weights}); warp error of ab in Lab units along the truth's flow, lower is steadier.",
        "",
        "| clip | frames | warp truth | warp per-frame | warp temporal | temporal / truth | PSNR per-frame | "
        "PSNR temporal | fps per-frame | fps temporal |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['clip']} | {row['frames']} | {row['truth_warp']:.2f} | {row['warp_off']:.2f} | "
            f"{row['warp_on']:.2f} | {row['warp_on'] / row['truth_warp']:.2f} | {row['psnr_off']:.2f} | "
            f"{row['psnr_on']:.2f} | {row['fps_off']:.2f} | {row['fps_on']:.2f} |"
        )
    mean = {key: float(np.mean([row[key] for row in rows])) for key in rows[0] if key not in ("clip", "frames")}
    lines.append(
        f"| **mean** | | {mean['truth_warp']:.2f} | {mean['warp_off']:.2f} | {mean['warp_on']:.2f} | "
        f"{mean['warp_on'] / mean['truth_warp']:.2f} | {mean['psnr_off']:.2f} | {mean['psnr_on']:.2f} | "
        f"{mean['fps_off']:.2f} | {mean['fps_on']:.2f} |"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", type=Path, help="folder of colour clips")
    parser.add_argument("--weights", type=Path, default=None, help="default: the bundled model")
    parser.add_argument("--frames", type=int, default=60, help="first frames of each clip, at least 2")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--strength", type=float, default=TemporalOptions().strength)
    parser.add_argument("--out", type=Path, default=Path("test_results"))
    args = parser.parse_args()
    if args.frames < 2:
        parser.error(f"argument --frames: must be at least 2, got {args.frames}")
    TemporalOptions(strength=args.strength)  # an ArgumentError now rather than after the first clip

    clips, skipped = find_videos(args.clips)
    for path in skipped:
        print(f"{path.name}: not a video, skipped", flush=True)
    colorizer = Colorizer.from_weights(args.weights, device=args.device)
    warm_up(colorizer)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for clip in clips:
            rows.append(measure_clip(clip, colorizer, args.frames, Path(folder), args.strength))
            print(f"{clip.name}: {rows[-1]}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown(rows, f"{args.weights.name if args.weights else 'bundled model'}, strength {args.strength}")
    stem = f"flicker_strength{args.strength:g}"
    (args.out / f"{stem}.md").write_text(table)
    with (args.out / f"{stem}.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(table)


if __name__ == "__main__":
    run(main)
