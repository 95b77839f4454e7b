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
