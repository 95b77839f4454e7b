"""Display matrices that mirror the picture (a phone's front camera, ``ffmpeg -display_hflip``): the render keeps
the mirror, and the preview shows it."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
from av.sidedata.sidedata import Type as SideDataType
from click.testing import CliRunner
from PIL import Image

from cli import main
from tests.media import make_oriented_clip
from vidcolor.io.decode import VideoSource
from vidcolor.preview import preview_frames, write_contact_sheet
from vidcolor.temporal import TemporalOptions
from vidcolor.worker import Colorizer

WIDTH, HEIGHT = 64, 48
# (degrees counter-clockwise, mirrored left-right, mirrored top-bottom), as PyAV's set_display_rotation takes them
ORIENTATIONS = {"turned": (90, False, False), "hflip": (0, True, False), "turned-hflip": (90, True, False),
                "vflip": (0, False, True), "turned-back-hflip": (270, True, False)}


def mirrored_clip(path: Path, rotation: int, hflip: bool, vflip: bool) -> Path:
    """A 3-frame WIDTH x HEIGHT clip (no two corners alike) whose display matrix turns and/or mirrors it."""
    return make_oriented_clip(path, (WIDTH, HEIGHT), rotation=rotation, hflip=hflip, vflip=vflip)


def display_matrix(path: Path) -> tuple[int, ...] | None:
    """The display matrix of ``path``'s first video frame, read with PyAV alone."""
    with av.open(str(path)) as container:
        frame = next(container.decode(container.streams.video[0]))
        side_data = frame.side_data.get(SideDataType.DISPLAYMATRIX)
        return struct.unpack("9i", bytes(side_data)) if side_data is not None else None


def shown(stored: np.ndarray, rotation: int, hflip: bool, vflip: bool) -> np.ndarray:
    """``stored`` as a player shows it: turned ``rotation`` degrees counter-clockwise, then mirrored."""
    picture = np.rot90(stored, rotation // 90)
    picture = np.fliplr(picture) if hflip else picture
    return np.flipud(picture) if vflip else picture


def _render(*args: object) -> list[str]:
    """Run the CLI, which must succeed; the warnings it gave that speak of the display matrix."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [str(warning.message) for warning in caught if "display" in str(warning.message)]


@pytest.mark.parametrize(("ext", "orientation"), [("mp4", "turned"), ("mp4", "hflip"), ("mp4", "turned-hflip"),
                                                  ("mp4", "vflip"), ("mkv", "hflip"), ("mov", "turned-back-hflip")])
def test_a_mirrored_video_keeps_its_mirror(tmp_path: Path, weights: Path, ext: str, orientation: str) -> None:
    """FFmpeg reads a left-right mirror as a half turn (and a top-bottom one as none), so the output was turned
    upside down (or lost its mirror) against the source. The source's display matrix is now written as it is
    (a plain quarter turn as before)."""
    clip = mirrored_clip(tmp_path / f"mirrored.{ext}", *ORIENTATIONS[orientation])
    out = tmp_path / f"colour.{ext}"
    assert _render(clip, "-o", out, "--weights", weights, "--render-size", "64", "-q") == []
    assert display_matrix(clip) is not None
    assert display_matrix(out) == display_matrix(clip)


def test_a_mirrored_video_keeps_its_mirror_when_resumed(tmp_path: Path, weights: Path) -> None:
    """A --resume render joins its segments by copying their stream: the mirror comes through that too."""
    clip = mirrored_clip(tmp_path / "mirrored.mp4", *ORIENTATIONS["turned-hflip"])
    out = tmp_path / "colour.mp4"
    _render(clip, "-o", out, "--weights", weights, "--render-size", "64", "-q", "--resume")
    assert display_matrix(out) == display_matrix(clip)


@pytest.mark.parametrize("orientation", ["turned", "hflip", "turned-hflip", "vflip"])
def test_the_preview_shows_a_mirrored_video_mirrored(tmp_path: Path, weights: Path, orientation: str) -> None:
    """The preview showed a left-right mirrored video turned upside down instead (and a top-bottom mirrored one
    not mirrored), unlike players and the render's output."""
    rotation, hflip, vflip = ORIENTATIONS[orientation]
    clip = mirrored_clip(tmp_path / "mirrored.mp4", rotation, hflip, vflip)
    with VideoSource(clip) as source:
        stored = np.clip((next(source.frames()).y - 16.0) / 219.0, 0, 1).astype(np.float32)
    expected = shown(stored, rotation, hflip, vflip)
    colorizer = Colorizer.from_weights(weights, device="cpu", render_size=64)
    (frame,) = preview_frames(clip, colorizer, [0], temporal=TemporalOptions(enabled=False))
    assert np.abs(frame.original[..., 0] - expected).max() < 1e-5
    sheet = tmp_path / "sheet.png"
    write_contact_sheet(clip, sheet, colorizer, frames=1, temporal=TemporalOptions(enabled=False))
    panel = np.asarray(Image.open(sheet).convert("L"), dtype=np.float32)[-expected.shape[0]:, :expected.shape[1]]
    assert np.abs(panel / 255 - expected).max() <= 1 / 255


@pytest.mark.parametrize(("ext", "orientation", "said"), [("avi", "turned", "90-degree turn"), ("flv", "hflip", "mirror")])
def test_an_output_without_a_display_matrix_says_it_leaves_the_turn_out(tmp_path: Path, weights: Path, ext: str,
                                                                       orientation: str, said: str) -> None:
    """A phone's portrait video written to .avi or .flv (whose files hold no display matrix) played on its side,
    without a word, while the README promises that the rotation is carried over. A warning now says so."""
    clip = mirrored_clip(tmp_path / "phone.mp4", *ORIENTATIONS[orientation])
    out = tmp_path / f"colour.{ext}"
    warned = _render(clip, "-o", out, "--weights", weights, "--render-size", "64", "-q")
    assert display_matrix(out) is None
    assert len(warned) == 1 and f"its display {said}" in warned[0] and "write .mov, .mp4 or .mkv" in warned[0], warned
