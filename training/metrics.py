"""Image-quality numbers for colourisation: PSNR and SSIM against the truth, and colourfulness.

PSNR and SSIM use ``skimage.metrics`` on RGB float images in [0, 1] with ``data_range=1.0``.
Colourfulness is Hasler & Suesstrunk (2003), "Measuring colourfulness in natural images", on RGB
scaled to 0..255: ``sqrt(std_rg^2 + std_yb^2) + 0.3 * sqrt(mean_rg^2 + mean_yb^2)`` with
``rg = R - G`` and ``yb = (R + G) / 2 - B``. A grey image scores 0.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

DATA_RANGE = 1.0


def _check_pair(truth: np.ndarray, image: np.ndarray) -> None:
    if truth.shape != image.shape or truth.ndim != 3 or truth.shape[2] != 3:
        raise ValueError(f"expected two RGB images of the same (H, W, 3) shape, got {truth.shape} and {image.shape}")


def psnr(truth: np.ndarray, image: np.ndarray) -> float:
    """PSNR in dB of RGB float ``image`` against ``truth`` (both [0, 1]); ``inf`` when identical."""
    _check_pair(truth, image)
    with np.errstate(divide="ignore"):
        return float(peak_signal_noise_ratio(truth.astype(np.float64), image.astype(np.float64), data_range=DATA_RANGE))


def ssim(truth: np.ndarray, image: np.ndarray) -> float:
    """Mean SSIM over the RGB channels (float [0, 1], skimage defaults: a 7x7 window, or for a photo under
    7 px on a side the largest odd window that fits it). Photos under 3 px on a side raise ValueError."""
    _check_pair(truth, image)
    side = min(truth.shape[:2])
    if side < 3:
        raise ValueError(f"a {truth.shape[1]}x{truth.shape[0]} photo is too small for SSIM (3 px a side at least)")
    window = min(7, side if side % 2 else side - 1)
    # channel by channel and averaged, as skimage's channel_axis does, with one channel's float64 temporaries
    return float(np.mean([structural_similarity(truth[..., channel].astype(np.float64),
                                                image[..., channel].astype(np.float64),
                                                data_range=DATA_RANGE, win_size=window) for channel in range(3)]))


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler-Suesstrunk colourfulness of an RGB float image in [0, 1] (computed on 0..255)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB (H, W, 3) image, got {rgb.shape}")
    pixels = rgb.astype(np.float64) * 255.0
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = np.sqrt(rg.std() ** 2 + yb.std() ** 2)
    mean = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(spread + 0.3 * mean)
