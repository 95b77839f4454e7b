"""Shared pytest setup: import the package from the checkout and give each test a media folder."""

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    """An empty folder for the synthetic media a test writes."""
    folder = tmp_path / "media"
    folder.mkdir()
    return folder


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Training photos (read-only): 8 colour photos in two sub-folders, 2 grey photos, 1 corrupt file."""
    from training_photos import write_training_photos

    return write_training_photos(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="session")
def bank(photo_dir: Path):
    """The training photos decoded once for crop 32."""
    from training_photos import CROP

    from training.data import build_bank, collect_images

    return build_bank(collect_images([photo_dir]), CROP, progress=False)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generator's weights file (random, seeded), for renders through the CLI."""
    import torch

    from vidcolor.models import create_generator, save_generator

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), path, "tiny-unet", input_size=64)
    return path
