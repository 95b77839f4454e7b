"""`vidcolor preview` as a user steps through a video: where each key moves the window, what the window shows after
a setting changes, what a step costs, the rows of a sheet, and pictures turned as players turn them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from media import make_oriented_clip, make_video, pattern_planes
from test_preview import fake_window

from vidcolor import viewer
from vidcolor.commands.preview import preview_command
from vidcolor.errors import ArgumentError, VidcolorWarning
from vidcolor.io.decode import VideoSource
from vidcolor.models import create_generator, save_generator
from vidcolor.preview import PreviewSession, preview_frames, write_contact_sheet
from vidcolor.temporal import TemporalOptions
from vidcolor.worker import Colorizer

SIZE = (32, 32)
RENDER = 64
OFF = TemporalOptions(enabled=False)

# cv2.waitKeyEx codes (GTK/Qt and Windows) of the arrow and page keys, as the window receives them
LEFT, RIGHT, RIGHT_WINDOWS, PAGE_UP, PAGE_DOWN = 65361, 65363, 2555904, 65365, 65366


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained model whose last conv is re-drawn large, so that its colour is far from grey."""
    torch.manual_seed(0)
    model = create_generator("tiny-unet")
    last_conv = [module for module in model.modules() if isinstance(module, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        torch.nn.init.normal_(last_conv.weight, std=0.5)
    path = tmp_path_factory.mktemp("steps") / "tiny.safetensors"
    save_generator(model, path, "tiny-unet")
    return path


def colorizer(weights: Path) -> Colorizer:
    return Colorizer.from_weights(weights, device="cpu", render_size=RENDER)


def shown_frames(titles: list[str]) -> list[int]:
    """The frame number in each window title."""
    return [int(title.split("frame ")[1].split()[0]) for title in titles]


def test_each_key_moves_the_window_as_its_help_says(weights, tmp_path, monkeypatch) -> None:
    """At 2 fps a second is 2 frames and ten seconds 20: every step and jump key, both ends of the clip, and a step
    back from where a step past the end was clamped to."""
    clip = make_video(tmp_path / "clip.mp4", size=SIZE, frames=40, rate=Fraction(2))  # 20 s
    keys = [ord("d"), RIGHT, RIGHT_WINDOWS, ord("L"), ord("l"), ord("j"), ord("a"), LEFT,
            PAGE_DOWN,  # 10.5 s + 10 s is past the end (20 s): the last frame
            ord("d"), ord("a"),  # a step past the end stays on the last frame; a step back leaves it
            PAGE_UP, ord("J"), ord("a"), ord("d"),  # 19 s - 10 s; 9 s - 10 s: the first frame; a step before it
            ord("q")]
    titles = fake_window(monkeypatch, keys)
    viewer.run_viewer(clip, colorizer(weights), temporal=OFF, save_dir=tmp_path)
    assert shown_frames(titles) == [0, 1, 2, 3, 23, 25, 23, 22, 21, 39, 39, 38, 18, 0, 0, 1]


def test_settings_keys_are_shown_and_a_saved_note_lasts_one_key(weights, tmp_path, monkeypatch) -> None:
    """`t` toggles smoothing both ways, `-` and `+` move the saturation by 0.1, and "saved" is said once."""
    clip = make_video(tmp_path / "clip.mp4", size=SIZE, frames=5)
    keys = [ord("t"), ord("t"), ord("-"), ord("+"), ord("s"), ord("d"), ord("q")]
    titles = fake_window(monkeypatch, keys)
    viewer.run_viewer(clip, colorizer(weights), temporal=TemporalOptions(strength=0.5), save_dir=tmp_path)
    settings = [title.split("  |  ")[0].split("  ", 3)[3] for title in titles]  # after name, frame and time
    assert settings == [
        "temporal on 0.50  saturation 1.00",
        "temporal off  saturation 1.00",
        "temporal on 0.50  saturation 1.00",
        "temporal on 0.50  saturation 0.90",
        "temporal on 0.50  saturation 1.00",
        "temporal on 0.50  saturation 1.00  saved clip_frame000000.png",
        "temporal on 0.50  saturation 1.00",
    ]
    assert shown_frames(titles) == [0, 0, 0, 0, 0, 0, 1]



def test_the_photo_window_moves_the_saturation_by_tenths_down_to_zero(weights, tmp_path, monkeypatch) -> None:
    """`-` ten times takes a photo's saturation from 1 to 0, where it stays; `+` takes it up again."""
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), pattern_planes(*SIZE, 0)[0])
    titles = fake_window(monkeypatch, [ord("-")] * 11 + [ord("+"), ord("q")])
    viewer.run_viewer(photo, colorizer(weights), save_dir=tmp_path)
    shown = [title.split("saturation ")[1].split()[0] for title in titles]
    assert shown == ["1.00", "0.90", "0.80", "0.70", "0.60", "0.50", "0.40", "0.30", "0.20", "0.10", "0.00", "0.00",
                     "0.10"]

def test_a_setting_change_recolours_the_frame_on_screen(weights, tmp_path) -> None:
    """After `t` or a saturation change the frame on screen is coloured again with the new setting, as a sheet with
    that setting colours it."""
    clip = make_video(tmp_path / "clip.mp4", size=(96, 64), frames=20)
    on = TemporalOptions(strength=0.5)
    expected_on, expected_off = (preview_frames(clip, colorizer(weights), [19], temporal=options)[0].colour
                                 for options in (on, OFF))
    assert np.abs(expected_on - expected_off).mean() * 255 > 0.2  # smoothing does move the colour here
    with PreviewSession(clip, colorizer(weights), on) as session:
        smoothed = session.frame(19).colour
        session.configure(temporal=OFF)
        unsmoothed = session.frame(19).colour
        session.configure(saturation=0.0)
        grey = session.frame(19)
    # batches of 1 and of 8 round differently in the last float bit; a chroma code may flip by one
    assert np.abs(smoothed - expected_on).mean() * 255 < 0.05
    assert np.abs(unsmoothed - expected_off).max() * 255 < 1e-3
    assert np.abs(grey.colour - grey.original).max() * 255 < 1.0  # saturation 0: the grey picture


def test_a_step_forward_decodes_one_frame(weights, tmp_path, monkeypatch) -> None:
    """Frame 10 with a 10-frame warm-up decodes frames 0 to 10; each step on from it decodes just the next frame."""
    clip = make_video(tmp_path / "clip.mp4", size=SIZE, frames=20)  # one keyframe, at frame 0
    decoded: list[int] = []
    luma = VideoSource._luma
    monkeypatch.setattr(VideoSource, "_luma", lambda self, frame, index: decoded.append(1) or luma(self, frame, index))
    with PreviewSession(clip, colorizer(weights), TemporalOptions(strength=0.5)) as session:
        session.frame(10)
        assert len(decoded) == 11
        assert [session.frame(index).index for index in range(11, 16)] == [11, 12, 13, 14, 15]
    assert len(decoded) == 16


def test_a_jump_moves_at_least_one_frame_where_frames_last_longer_than_it(weights, tmp_path) -> None:
    """In a slideshow of 2-second pictures, a one-second jump forward still goes to the next picture."""
    slideshow = make_video(tmp_path / "slideshow.mkv", size=SIZE, frames=6, rate=Fraction(1, 2))
    with PreviewSession(slideshow, colorizer(weights), OFF) as session:
        assert [session.timeline.seconds_of(index) for index in range(6)] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        assert [session.index_after(index, 1.0) for index in range(6)] == [1, 2, 3, 4, 5, 5]
        assert [session.index_after(index, -1.0) for index in range(6)] == [0, 0, 1, 2, 3, 4]


def test_a_one_row_sheet_shows_the_frame_it_starts_at(weights, tmp_path) -> None:
    """One row is the first frame, or with a start time, the frame shown then (29.97 fps: frame 9 from 0.3003 s)."""
    clip = make_video(tmp_path / "clip.mp4", size=SIZE, frames=20)
    model = colorizer(weights)
    assert write_contact_sheet(clip, tmp_path / "first.png", model, frames=1, temporal=OFF).frames == [0]
    assert write_contact_sheet(clip, tmp_path / "ninth.png", model, frames=1, temporal=OFF,
                               start_seconds=0.31).frames == [9]


def test_a_sheet_without_frames_has_eight_evenly_spaced_rows(weights, tmp_path) -> None:
    """The default: 8 rows, frame round(i * 19 / 7) of a 20-frame clip in row i."""
    clip = make_video(tmp_path / "clip.mp4", size=SIZE, frames=20)
    result = CliRunner().invoke(preview_command, [str(clip), "--sheet", str(tmp_path / "sheet.png"), "--weights",
                                                  str(weights), "--device", "cpu", "--render-size", str(RENDER),
                                                  "--temporal", "off"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "frames 0, 3, 5, 8, 11, 14, 16, 19 " in result.output


@pytest.mark.parametrize("rotation", [180, 270])
def test_a_turned_video_is_shown_turned(weights, tmp_path, rotation) -> None:
    """A display matrix turning the picture a half or three quarters (counter-clockwise) turns the panels so."""
    width, height = 32, 16
    clip = make_oriented_clip(tmp_path / "turned.mp4", (width, height), rotation=rotation)
    (frame,) = preview_frames(clip, colorizer(weights), [1], temporal=OFF)
    with VideoSource(clip) as source:
        stored = [luma.y for luma in source.frames()][1]
    expected = np.rot90(np.clip((stored - 16.0) / 219.0, 0, 1), rotation // 90)
    assert frame.original.shape[:2] == frame.colour.shape[:2] == expected.shape
    assert np.abs(frame.original[..., 0] - expected).max() < 1e-6


def test_a_sheet_of_no_rows_is_refused(weights, tmp_path) -> None:
    """`frames=0` from Python is an error naming it, and nothing is written (it gave a one-row sheet)."""
    clip = make_video(tmp_path / "clip.mp4", size=SIZE, frames=5)
    with pytest.raises(ArgumentError, match="frames"):
        write_contact_sheet(clip, tmp_path / "sheet.png", colorizer(weights), frames=0, temporal=OFF)
    assert not (tmp_path / "sheet.png").exists()


def test_the_temporal_and_batch_options_given_for_a_photo_are_named_as_unused(weights, tmp_path) -> None:
    """A photo is one picture: smoothing across frames and batches of frames do nothing for it, and the warning says
    so for each of them given."""
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), pattern_planes(*SIZE, 0)[0])
    with pytest.warns(VidcolorWarning) as caught:
        result = CliRunner().invoke(preview_command, [str(photo), "--sheet", str(tmp_path / "sheet.png"), "--weights",
                                                      str(weights), "--device", "cpu", "--render-size", str(RENDER),
                                                      "--batch-size", "4", "--temporal", "off", "--temporal-strength",
                                                      "0.5"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (said,) = [str(warning.message) for warning in caught if "ignored for the photo" in str(warning.message)]
    assert said.split(" are for video")[0].split(", ") == ["--batch-size", "--temporal", "--temporal-strength"]


def test_a_pixel_shape_no_camera_makes_is_shown_square(weights, tmp_path) -> None:
    """Pixels stated as 9 times as wide as tall (damaged metadata) are not stretched into 288-px panels."""
    clip = make_oriented_clip(tmp_path / "wide.mkv", SIZE, aspect=Fraction(9))
    (frame,) = preview_frames(clip, colorizer(weights), [0], temporal=OFF)
    assert frame.original.shape == frame.colour.shape == (SIZE[1], SIZE[0], 3)


def test_frames_asked_for_past_the_end_are_left_out(weights, tmp_path) -> None:
    """A 5-frame clip has frames 0 to 4: frame 5 (its length) and later are not made up from the last one."""
    clip = make_video(tmp_path / "clip.mp4", size=SIZE, frames=5)
    shown = preview_frames(clip, colorizer(weights), [4, 5, 9], temporal=OFF)
    assert [(frame.index, frame.shows) for frame in shown] == [(4, None)]
