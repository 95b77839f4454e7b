"""Blend two fine-tunes of one model by averaging their weights (a two-ingredient model soup).

Two generators fine-tuned briefly from the same weights (say an L1 fine-tune and a GAN fine-tune)
lie close together in weight space, so their weighted average behaves like a blend of their outputs:
``--weight`` moves the result from A's cautious colour towards B's vivid colour, at the cost of one
model. Choose the weight on photos you do not report, or report every weight you tried.

    python -m training.soup l1.safetensors gan.safetensors --weight 0.25 --out blend.safetensors
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from vidcolor.errors import InputError, OutputError, VidcolorError, WeightsError
from vidcolor.io.output import check_output_path
from vidcolor.models import load_generator, save_generator


def blend_state_dicts(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor], weight: float) -> dict[str, torch.Tensor]:
    """``(1 - weight) * first + weight * second`` for float tensors; integer tensors (counters) come from ``first``."""
    if first.keys() != second.keys():
        raise WeightsError("the two models have different layers")
    return {
        name: torch.lerp(value, second[name].to(value.dtype), weight) if value.is_floating_point() else value
        for name, value in first.items()
    }


def soup(first_path: str | os.PathLike, second_path: str | os.PathLike, weight: float, out: str | os.PathLike,
         fp16: bool = True, overwrite: bool = False) -> None:
    """Write the blend of two exported generators of the same architecture to ``out`` (never over either
    of them, nor over an existing file unless ``overwrite``)."""
    if not 0.0 <= weight <= 1.0:
        raise InputError(f"--weight must lie in [0, 1], not {weight}")
    if Path(out).suffix != ".safetensors":
        raise OutputError(f"--out {out} must end in .safetensors, the format vidcolor --weights reads")
    for source in (first_path, second_path):
        check_output_path(Path(source), Path(out), overwrite)
    first, first_meta = load_generator(first_path)
    second, second_meta = load_generator(second_path)
    if first_meta["architecture"] != second_meta["architecture"]:
        raise WeightsError(f"cannot blend {first_meta['architecture']} with {second_meta['architecture']}")
    first.load_state_dict(blend_state_dicts(first.state_dict(), second.state_dict(), weight))
    training = {"soup": {"weight_of_b": weight,
                         "a": {"file": Path(first_path).name, "training": first_meta.get("training", {})},
                         "b": {"file": Path(second_path).name, "training": second_meta.get("training", {})}}}
    save_generator(first, out, first_meta["architecture"], input_size=first_meta["input_size"], training=training,
                   dtype=torch.float16 if fp16 else torch.float32)


def main() -> None:
    """Blend A and B into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="first model (.safetensors)")
    parser.add_argument("b", type=Path, help="second model, same architecture")
    parser.add_argument("--weight", type=float, required=True, help="share of B, 0..1")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fp32", action="store_true", help="store float32 instead of float16")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    args = parser.parse_args()
    try:
        soup(args.a, args.b, args.weight, args.out, fp16=not args.fp32, overwrite=args.overwrite)
    except VidcolorError as error:  # a bad --weight, unreadable inputs (WeightsError) or an unwritable --out
        parser.exit(1, f"Error: {error}\n")
    print(f"wrote {args.out}: {1 - args.weight:g} x {args.a.name} + {args.weight:g} x {args.b.name}")


if __name__ == "__main__":
    main()
