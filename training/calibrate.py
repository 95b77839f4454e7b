"""Calibrate a model's colour strength: the ab scale that maximises PSNR on photos with known colour.

An L1-trained generator predicts colour too faintly (the conditional median), a GAN-trained one may
overshoot. One scalar fixes most of that. It is stored in the weights' metadata
(``inference.saturation``) and applied by :meth:`vidcolor.worker.Colorizer.from_weights`; the user's
``--saturation`` multiplies it. Calibrate on training photos, never on the photos you report.

    python -m training.calibrate --weights model.safetensors --data ../shared/data/train --count 300
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vidcolor.color import lab_to_rgb, rgb_to_lab
from vidcolor.models import update_metadata
from vidcolor.worker import Colorizer, resize

from .data import find_images, is_grey
from .evaluate import read_rgb
from .metrics import psnr

CANDIDATES = tuple(np.round(np.arange(0.5, 2.51, 0.1), 2))


@torch.inference_mode()
def psnr_by_saturation(colorizer: Colorizer, paths: list[Path], candidates=CANDIDATES) -> dict[float, float]:
    """Mean PSNR against the truth for each ab scale in ``candidates`` (grey photos are skipped)."""
    scores: dict[float, list[float]] = {float(scale): [] for scale in candidates}
    for path in tqdm(paths, unit="photo", desc="calibrating"):
        rgb = read_rgb(path)
        if is_grey((rgb * 255).round().astype(np.uint8)):
            continue
        image = torch.from_numpy(rgb).permute(2, 0, 1)[None].to(colorizer.device)
        lightness = rgb_to_lab(image)[:, :1]
        ab = resize(colorizer.predict_ab(lightness), tuple(lightness.shape[-2:]))
        for scale in scores:
            output = lab_to_rgb(torch.cat([lightness, ab * scale], dim=1))[0].permute(1, 2, 0).cpu().numpy()
            scores[scale].append(psnr(rgb, output))
    return {scale: float(np.mean(values)) for scale, values in scores.items()}


def spread(paths: list[Path], count: int) -> list[Path]:
    """``count`` paths evenly spaced through the sorted list (all of them when there are fewer)."""
    paths = sorted(paths)
    if len(paths) <= count:
        return paths
    return [paths[int(index)] for index in np.linspace(0, len(paths) - 1, count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="colour photos (training photos, not the val set)")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    colorizer = Colorizer.from_weights(args.weights, device=args.device, saturation=1.0, calibrated=False)
    curve = psnr_by_saturation(colorizer, spread(find_images(args.data), args.count))
    best = max(curve, key=curve.get)
    for scale, value in curve.items():
        print(f"saturation {scale:.2f}: PSNR {value:.3f} dB{'  <- best' if scale == best else ''}")
    update_metadata(args.weights, {"inference": {"saturation": best, "calibrated_on": f"{args.count} photos of {args.data}"}})
    print(f"{args.weights}: inference saturation set to {best:.2f}")


if __name__ == "__main__":
    main()
