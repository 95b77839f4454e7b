"""Peak memory of a render must not grow with the video's length (bounded queues, no frame dumps).

    python benchmarks/memory.py [--size 1280x720] [--frames 100] [--arch tiny-unet]

Renders a synthetic grey clip of N and of 4N frames, each in a fresh process, and prints the peak
resident memory of both and their ratio (flat memory: ratio ~1.0). The model only sets the pace; the
pipeline's memory is what is measured, so the tiny model keeps the run short.
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


def peak_rss_mib(clip: Path, arch: str) -> float:
    """Render ``clip`` in a fresh process and return its peak RSS; the child's error if it fails."""
    child = [sys.executable, __file__, "--child", str(clip), "--arch", arch]
    finished = subprocess.run(child, capture_output=True, text=True)
    if finished.returncode:
        lines = finished.stderr.strip().splitlines() or [f"exit status {finished.returncode}"]
        raise VidcolorError(f"the render of {clip.name} failed: {lines[-1].removeprefix('error: ')}")
    return float(finished.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=frame_size, default="1280x720", help="WxH, both even")
    parser.add_argument("--frames", type=positive_int, default=100)
    parser.add_argument("--arch", default="tiny-unet", choices=list_generators())
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        render_and_report(args.child, args.arch)
        return

    from tests.media import make_video

    width, height = args.size
    peaks = {}
    with tempfile.TemporaryDirectory() as folder:
        for frames in (args.frames, 4 * args.frames):
            clip = make_video(Path(folder) / f"clip{frames}.mp4", size=(width, height), frames=frames, audio="aac")
            peaks[frames] = peak_rss_mib(clip, args.arch)
    short, long = args.frames, 4 * args.frames
    print(f"{width}x{height}, {args.arch}: peak RSS {peaks[short]:.0f} MiB for {short} frames, "
          f"{peaks[long]:.0f} MiB for {long} frames (ratio {peaks[long] / peaks[short]:.2f})")


if __name__ == "__main__":
    run(main)
