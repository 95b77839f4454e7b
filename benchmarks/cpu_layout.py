"""CPU memory layout for inference and training, NCHW against channels_last in one run.

    python benchmarks/cpu_layout.py [--arch lite0-unet] [--sizes 128 256 512] [--calls 1 2 4 8] [--repeats 3]

Inference: for each render size and each number of frames per model call, frames per second of the
generator alone in NCHW (PyTorch's default) and in channels_last, and the ratio to NCHW at 8 frames
per call (the pipeline's default batch). ``vidcolor.worker.CPU_PIXELS_PER_CALL`` was chosen from this.
Training: photos per second of L1 training steps (Adam, batch 16, 128x128 crops) in both layouts.
The bundled weights are used for ``lite0-unet`` inference (what users run); other architectures and
the training steps use untrained generators.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's packages

from benchmarks._cli import positive_int, run  # noqa: E402
from vidcolor.models import create_generator, default_weights_path, list_generators, load_generator  # noqa: E402


def frames_per_second(model: nn.Module, size: int, frames_per_call: int, channels_last: bool, repeats: int) -> float:
    """Best of ``repeats`` timings of the model on ``frames_per_call`` random L frames of ``size``²."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    batch = (torch.rand(frames_per_call, 1, size, size) * 2 - 1).contiguous(memory_format=layout)
    calls = max(2, 16 // frames_per_call)
    best = 0.0
    with torch.inference_mode():
        model(batch)  # warm-up: oneDNN picks its kernels on the first call
        for _ in range(repeats):
            started = time.perf_counter()
            for _ in range(calls):
                model(batch)
            best = max(best, calls * frames_per_call / (time.perf_counter() - started))
    return best


def training_photos_per_second(arch: str, channels_last: bool, steps: int = 6, batch: int = 16, crop: int = 128) -> float:
    """Photos per second of L1 training steps of a fresh ``arch`` generator (after one warm-up step)."""
    torch.manual_seed(0)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = create_generator(arch, pretrained=False).train().to(memory_format=layout)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    lightness = (torch.rand(batch, 1, crop, crop) * 2 - 1).contiguous(memory_format=layout)
    ab = (torch.rand(batch, 2, crop, crop) * 0.4 - 0.2).contiguous(memory_format=layout)
    for step in range(steps + 1):
        if step == 1:
            started = time.perf_counter()
        optimizer.zero_grad()
        (model(lightness) - ab).abs().mean().backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - started)


def load_model(arch: str) -> nn.Module:
    """The bundled model for its own architecture, else an untrained generator."""
    if arch == "lite0-unet":
        return load_generator(default_weights_path())[0].eval()
    return create_generator(arch, pretrained=False).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="lite0-unet", choices=list_generators())
    parser.add_argument("--sizes", type=positive_int, nargs="+", default=[128, 256, 512],
                        help="render sizes, multiples of 32")
    parser.add_argument("--calls", type=positive_int, nargs="+", default=[1, 2, 4, 8], help="frames per model call")
    parser.add_argument("--repeats", type=positive_int, default=3)
    args = parser.parse_args()
    if any(size % 32 for size in args.sizes):
        parser.error(f"argument --sizes: render sizes are multiples of 32, got {args.sizes}")

    model = load_model(args.arch)
    reference = 8 if 8 in args.calls else max(args.calls)  # NCHW at this many frames per call is the baseline
    print(f"{args.arch} on the CPU, {torch.get_num_threads()} threads; fps of the generator alone (best of {args.repeats})")
    print(f"| render size | frames per call | NCHW fps | channels_last fps | channels_last / NCHW at {reference} per call |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        results = {
            (n, last): frames_per_second(model, size, n, last, args.repeats)
            for n in args.calls
            for last in (False, True)
        }
        baseline = results[(reference, False)]
        for n in args.calls:
            nchw, last = results[(n, False)], results[(n, True)]
            print(f"| {size} | {n} | {nchw:.2f} | {last:.2f} | {last / baseline:.2f} |")
    nchw, last = (training_photos_per_second(args.arch, layout) for layout in (False, True))
    print(f"\ntraining (L1 steps, batch 16, crop 128): NCHW {nchw:.1f} photos/s, "
          f"channels_last {last:.1f} photos/s, ratio {last / nchw:.2f}")


if __name__ == "__main__":
    run(main)
