"""Tiny synthetic training photos and a tiny-unet training config, shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from training.config import StageBudget, TrainConfig

CROP = 32


def colour_photo(seed: int, size: tuple[int, int] = (40, 48)) -> np.ndarray:
    """A smooth colour gradient with a coloured square: colour that follows position, plus noise."""
    rng = np.random.default_rng(seed)
    height, width = size
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x / width * 255, y / height * 255, np.full((height, width), 90.0 + 20 * seed)], axis=-1)
    image[8:20, 10:24] = rng.uniform(0, 255, 3)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_training_photos(root: Path) -> Path:
    """8 colour photos in two sub-folders of ``root``, plus 2 grey photos and 1 corrupt file."""
    for index in range(8):
        folder = root / ("street" if index % 2 else "nature")
        folder.mkdir(exist_ok=True)
        Image.fromarray(colour_photo(index)).save(folder / f"photo{index}.png")
    Image.fromarray(np.full((40, 40), 120, np.uint8)).save(root / "nature" / "grey_mode_l.png")
    Image.fromarray(np.full((40, 40, 3), 120, np.uint8)).save(root / "street" / "grey_rgb.jpg")
    (root / "street" / "corrupt.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    return root


def tiny_config(photo_dir: Path, **changes) -> TrainConfig:
    """2 L1 epochs and 1 GAN epoch of tiny-unet at crop 32, batch 4 (2 steps an epoch on the 8 photos)."""
    values = dict(data=[str(photo_dir)], arch="tiny-unet", pretrained=False, crop=CROP, batch_size=4,
                  pretrain=StageBudget(epochs=2), gan=StageBudget(epochs=1), preview_count=1)
    values.update(changes)
    return TrainConfig(**values)
