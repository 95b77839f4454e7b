"""Peak memory of a render must not grow with the video's length (bounded queues, no frame dumps), and a
photo's must stay a small multiple of its pixels.

    python benchmarks/memory.py [--size 1280x720] [--frames 100] [--arch tiny-unet]
    python benchmarks/memory.py --photo 6000x4000 [--arch tiny-unet]

Renders a synthetic grey clip of N and of 4N frames, each in a fresh process, and prints the peak
resident memory of both and their ratio (flat memory: ratio ~1.0). The model only sets the pace; the
pipeline's memory is what is measured, so the tiny model keeps the run short. With ``--photo``, colours
one grey JPEG of that size in a fresh process and prints its peak over the process with the model loaded,
in bytes per pixel.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: the repository's packages and the tests' media maker

from benchmarks._cli import frame_size, positive_int, run  # noqa: E402
from vidcolor.errors import VidcolorError  # noqa: E402
from vidcolor.models import list_generators  # noqa: E402


def render_and_report(clip: Path, arch: str) -> None:
    """Child process: render ``clip`` and print the peak RSS in MiB."""
    import torch

    from vidcolor.models import create_generator
    from vidcolor.pipeline import colorize_video
    from vidcolor.worker import Colorizer

    torch.manual_seed(0)
    colorizer = Colorizer(create_generator(arch), device="cpu")
    colorize_video(clip, clip.with_name(f"out_{clip.name}"), colorizer, progress=False)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def colour_photo_and_report(photo: Path, arch: str) -> None:
    """Child process: print the peak RSS in MiB with the model loaded, then after colouring ``photo``."""
    import torch

    from vidcolor.models import create_generator
    from vidcolor.pipeline import colorize_image
    from vidcolor.worker import Colorizer

    torch.manual_seed(0)
    colorizer = Colorizer(create_generator(arch), device="cpu")
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    colorize_image(photo, photo.with_name(f"out_{photo.stem}.png"), colorizer)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def peak_rss_mib(media: Path, arch: str, mode: str = "--child") -> list[float]:
    """Colour ``media`` in a fresh process (``mode``: a clip, or ``--photo-child``); the peak RSS figures it
    printed. The child's error if it fails."""
    child = [sys.executable, __file__, mode, str(media), "--arch", arch]
    finished = subprocess.run(child, capture_output=True, text=True)
    if finished.returncode:
        lines = finished.stderr.strip().splitlines() or [f"exit status {finished.returncode}"]
        raise VidcolorError(f"colouring {media.name} failed: {lines[-1].removeprefix('error: ')}")
    return [float(value) for value in finished.stdout.split()]


def photo_peak(size: tuple[int, int], arch: str) -> None:
    """Print the memory one photo of ``size`` costs over the loaded model, in MiB and bytes per pixel."""
    import numpy as np
    from PIL import Image

    width, height = size
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "scan.jpg"
        texture = np.random.default_rng(0).integers(0, 256, (max(height // 10, 1), max(width // 10, 1)), np.uint8)
        Image.fromarray(texture).resize((width, height), Image.BILINEAR).save(photo, quality=90)
        loaded, peak = peak_rss_mib(photo, arch, "--photo-child")
    extra = peak - loaded
    print(f"{width}x{height} photo, {arch}: peak RSS {peak:.0f} MiB, {extra:.0f} MiB over the loaded model "
          f"({extra * 2**20 / (width * height):.0f} bytes a pixel)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=frame_size, default="1280x720", help="WxH, both even")
    parser.add_argument("--frames", type=positive_int, default=100)
    parser.add_argument("--arch", default="tiny-unet", choices=list_generators())
    parser.add_argument("--photo", type=frame_size, help="WxH: measure one photo of this size instead")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--photo-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        render_and_report(args.child, args.arch)
        return
    if args.photo_child:
        colour_photo_and_report(args.photo_child, args.arch)
        return
    if args.photo:
        photo_peak(args.photo, args.arch)
        return

    from tests.media import make_video

    width, height = args.size
    peaks = {}
    with tempfile.TemporaryDirectory() as folder:
        for frames in (args.frames, 4 * args.frames):
            clip = make_video(Path(folder) / f"clip{frames}.mp4", size=(width, height), frames=frames, audio="aac")
            peaks[frames] = peak_rss_mib(clip, args.arch)[-1]
    short, long = args.frames, 4 * args.frames
    print(f"{width}x{height}, {args.arch}: peak RSS {peaks[short]:.0f} MiB for {short} frames, "
          f"{peaks[long]:.0f} MiB for {long} frames (ratio {peaks[long] / peaks[short]:.2f})")


if __name__ == "__main__":
    run(main)
