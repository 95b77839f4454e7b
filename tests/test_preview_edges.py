"""`vidcolor preview` edge cases: the window's `s` with awkward names beside the input, and the window's jump
to a damaged frame with temporal smoothing off."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from media import make_video, pattern_planes
from test_decode_inputs import damage_packets
from test_preview import fake_window

from vidcolor import viewer
from vidcolor.errors import VidcolorWarning
from vidcolor.io.decode import VideoSource
from vidcolor.preview import PreviewSession, preview_frames
from vidcolor.temporal import TemporalOptions
from vidcolor.worker import Colorizer


def tiny_colorizer(weights: Path) -> Colorizer:
    return Colorizer.from_weights(weights, device="cpu", render_size=64)


def test_s_saves_the_pair_of_a_photo_whose_name_is_near_the_length_limit(weights, tmp_path, monkeypatch) -> None:
    """A photo whose name is near the 255-byte limit closed the window with `OSError: File name too long` on
    `s` (the check for a free name raised); the saved name now keeps as much of the stem as fits."""
    photo = tmp_path / f"{'x' * 245}.png"
    cv2.imwrite(str(photo), pattern_planes(96, 64, 0)[0])
    titles = fake_window(monkeypatch, [ord("s"), ord("s"), ord("q")])
    viewer.run_viewer(photo, tiny_colorizer(weights), save_dir=tmp_path)
    saved = sorted(path.name for path in tmp_path.iterdir() if path != photo)
    assert len(saved) == 2, (titles, saved)
    assert all(len(os.fsencode(name)) <= 255 and name.startswith("x" * 200) for name in saved)
    said = [title.split("  saved ")[1].split("  |")[0] for title in titles[1:]]
    assert sorted(said) == saved and said[0].endswith("_frame000000.png")


def test_s_does_not_take_the_name_of_a_broken_link(weights, tmp_path, monkeypatch) -> None:
    """A dangling link where the pair would go counted as free, so every `s` said the PNG "was written by another
    run meanwhile" and nothing was saved; the pair now takes the next free name."""
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), pattern_planes(96, 64, 0)[0])
    (tmp_path / "photo_frame000000.png").symlink_to(tmp_path / "gone.png")
    titles = fake_window(monkeypatch, [ord("s"), ord("q")])
    viewer.run_viewer(photo, tiny_colorizer(weights), save_dir=tmp_path)
    assert "saved photo_frame000000-1.png" in titles[1], titles
    assert (tmp_path / "photo_frame000000-1.png").is_file()
    assert (tmp_path / "photo_frame000000.png").is_symlink()


@pytest.mark.parametrize("packets", [[14], [27, 28, 29]], ids=["middle", "end"])
def test_the_window_holds_the_frame_before_a_damaged_one_with_smoothing_off(weights, tmp_path, packets) -> None:
    """With --temporal off a jump to a damaged frame decoded from the frame itself, so the frame before it was never
    seen: the window showed the frame after it (the render holds the one before), or, for damage at the end, closed
    with "no frame decodes"."""
    clip = make_video(tmp_path / "clip.mp4", size=(96, 64), frames=30, gop=10)
    damaged = damage_packets(clip, tmp_path / "damaged.mp4", packets)
    off = TemporalOptions(enabled=False)
    model = tiny_colorizer(weights)
    with VideoSource(damaged) as source:
        frame_count = len(source.timeline())
    with pytest.warns(VidcolorWarning, match="could not be decoded.*; each shows the frame before it instead"):
        sheet = {frame.index: frame for frame in preview_frames(damaged, model, range(frame_count), temporal=off)}
    lost = [index for index, frame in sheet.items() if frame.shows is not None]
    assert lost, "the damage costs frames"
    for index in lost:
        with PreviewSession(damaged, model, off) as session, warnings.catch_warnings():
            warnings.simplefilter("ignore", VidcolorWarning)  # the damage, warned of above
            shown = session.frame(index)
        assert (shown.index, shown.shows) == (index, sheet[index].shows) and shown.shows < index
        assert np.array_equal(shown.colour, sheet[index].colour)
