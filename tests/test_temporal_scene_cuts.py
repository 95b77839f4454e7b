"""Scene cuts and smoothing at the edges: the frame after a flash, frames of unusual structure (bands, a thin line,
a faint sky, a burned-in subtitle), a change of size, a black leader, the default strength and samples at the
frame's edges."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_temporal import DARK, NORMAL, SIZE, cut_frames, flash, flat, shot, texture
from vidcolor.temporal import TemporalSmoother, consistency_mask, picture_area, sample_maps, thumbnail

INNER = (slice(None), slice(8, -8), slice(8, -8))


def constant_ab(value: float, size: int = SIZE) -> np.ndarray:
    """ab (2, size, size) of one value."""
    return np.full((2, size, size), value, np.float32)


@pytest.mark.parametrize(("codes", "grain", "odd"), [(NORMAL, 0.0, "flash"), (NORMAL, 0.0, "stray"), (DARK, 2.0, "flash")])
def test_a_cut_on_the_frame_after_the_shot_returns_from_an_odd_frame_is_counted(codes: tuple[int, int], grain: float,
                                                                                odd: str) -> None:
    """Frame 5 is a flash (or a stray frame of another shot), frame 6 the shot again, frame 7 a take of the same
    set-up, which scores not far over the threshold. The grain floor for frame 7 is the score of the pair 4 -> 6,
    not the odd frame's own high score, which would hide the cut."""
    first, second = (shot(1, 7, codes, grain=grain, detail=detail) for detail in (None, 50))
    first[5] = flash(first[5], 2.0 if codes == NORMAL else 4.0, (0.3, 0.4)) if odd == "flash" else shot(3, 7, codes)[5]
    assert cut_frames(first + second) == [7]


def bands(seed: int) -> np.ndarray:
    """L (SIZE square) of horizontal bands: every row one level (a sky graded to the horizon, a test card)."""
    levels = np.random.default_rng(seed).integers(20, 235, SIZE // 8)
    return np.repeat(levels, 8)[:, None].repeat(SIZE, axis=1).astype(np.uint8)


def test_frames_of_horizontal_bands_are_all_picture_and_are_smoothed() -> None:
    """No row has any spread but the columns do: the frame is all picture, followed within a shot and cut from
    other bands like any other picture."""
    luma = bands(1)
    assert picture_area(luma) == (slice(None), slice(None))
    smoother = TemporalSmoother()
    smoother(luma, constant_ab(10.0))
    output = smoother(luma, constant_ab(30.0))
    assert smoother.cuts == 0
    assert np.abs(output - (30.0 + 0.7 * (10.0 - 30.0)))[INNER].max() < 0.05
    assert np.array_equal(smoother(bands(2), constant_ab(5.0)), constant_ab(5.0))  # other bands: a cut
    assert smoother.cuts == 1


def test_a_black_frame_with_a_thin_bright_line_is_treated_as_black() -> None:
    """A television switching off between shots: black but for a line two rows high. Its picture is the line
    alone, too thin for a thumbnail row of its own; it has no structure, keeps its own colour and counts no cut."""
    line = np.zeros((SIZE, SIZE), np.uint8)
    line[SIZE // 2 : SIZE // 2 + 2, 8:-8] = 200
    frames = shot(1, 4, NORMAL)
    smoother = TemporalSmoother()
    for luma in frames[:3]:
        smoother(luma, constant_ab(10.0))
    kept = smoother(line, constant_ab(-40.0).astype(np.float64))
    assert kept.dtype == np.float32 and np.array_equal(kept, constant_ab(-40.0))
    output = smoother(frames[3], constant_ab(30.0))
    assert smoother.cuts == 0
    assert np.abs(output - (30.0 + 0.7 * (10.0 - 30.0)))[INNER].mean() < 0.5  # follows the colour before the line


def test_a_change_of_frame_size_restarts_the_smoothing_and_stray_frames_after_it_count_no_cut() -> None:
    """A cut (frame 4), then the size changes (frame 5): that frame keeps its colour, the smoothing follows the
    new size from the next frame on, and a stray frame there (7) is taken back as in any shot."""
    small = [luma[:64, :64] for luma in shot(3, 6, NORMAL)]
    small[2] = shot(4, 6, NORMAL)[2][:64, :64]
    smoother = TemporalSmoother()
    for luma in shot(1, 4, NORMAL) + shot(2, 1, NORMAL):
        smoother(luma, constant_ab(10.0))
    assert smoother.cuts == 1
    outputs = [smoother(luma, constant_ab(30.0 + index, 64)) for index, luma in enumerate(small)]
    assert smoother.cuts == 1
    assert np.array_equal(outputs[0], constant_ab(30.0, 64))
    assert np.array_equal(outputs[2], constant_ab(32.0, 64))  # the stray frame keeps its own colour
    before = 31.0 + 0.7 * (30.0 - 31.0)  # ... and the next one follows the frame before it
    assert np.abs(outputs[3] - (33.0 + 0.7 * (before - 33.0)))[INNER].mean() < 0.2


def test_the_first_picture_after_a_black_leader_keeps_its_own_colour() -> None:
    """Black frames at the start have nothing to follow; the first frame with a picture starts the smoothing."""
    smoother = TemporalSmoother()
    for luma in flat(16, 3):
        smoother(luma, constant_ab(-40.0))
    frames = shot(1, 2, NORMAL)
    assert np.array_equal(smoother(frames[0], constant_ab(10.0)), constant_ab(10.0))
    output = smoother(frames[1], constant_ab(30.0))
    assert np.abs(output - (30.0 + 0.7 * (10.0 - 30.0)))[INNER].mean() < 1.0
    assert smoother.cuts == 0


def test_the_default_strength_carries_seventy_percent_of_the_previous_colour() -> None:
    """The documented default (--temporal-strength 0.7) on a still frame, where the warp is fully reliable."""
    luma = texture(seed=5, size=SIZE)
    smoother = TemporalSmoother()
    smoother(luma, constant_ab(10.0))
    output = smoother(luma, constant_ab(30.0))
    assert np.abs(output - 16.0)[INNER].max() < 0.05


@pytest.mark.parametrize(("flow", "outside"), [((0.5, 0.0), (slice(None), slice(31, 32))),
                                               ((0.0, 2.0), (slice(2, 4), slice(None)))])
def test_samples_past_the_last_column_or_row_are_unreliable(flow: tuple[float, float],
                                                            outside: tuple[slice, slice]) -> None:
    """A wide frame (4 x 32) followed along a uniform, consistent flow: pixels sampled beyond the last column
    (x + 0.5 > 31) or row (y + 2 > 3) have no history there; all others are fully reliable."""
    back = np.zeros((4, 32, 2), np.float32)
    back[...] = flow
    reliability = consistency_mask(back, -back, sample_maps(back))
    expected = np.ones((4, 32), np.float32)
    expected[outside] = 0.0
    assert np.array_equal(reliability, expected)


def test_the_thumbnail_of_a_wide_area_averages_four_by_four_blocks() -> None:
    """The cut measure of a letterboxed frame looks at a wide picture area: its thumbnail keeps its shape."""
    luma = np.arange(8 * 16, dtype=np.uint8).reshape(8, 16)
    expected = luma.reshape(2, 4, 4, 4).mean(axis=(1, 3))
    assert np.allclose(thumbnail(luma), expected)


def test_picture_area_keeps_a_faint_sky_at_the_top_of_a_bright_frame() -> None:
    """Rows spreading 4 levels (a hazy sky) are picture: only lines flatter than 2 levels are bars."""
    luma = texture(seed=5, size=SIZE)
    haze = np.random.default_rng(6).normal(0.0, 4.0, (16, SIZE))
    luma[:16] = np.clip(np.rint(180 + haze), 0, 255).astype(np.uint8)
    assert picture_area(luma) == (slice(0, SIZE), slice(0, SIZE))


def subtitled(luma: np.ndarray) -> np.ndarray:
    """``luma`` with a burned-in subtitle: bright strokes over the middle of the frame's lower part."""
    out = luma.copy()
    strokes = (np.arange(SIZE) // 3) % 2 == 0
    out[76:84, 20:76][:, strokes[20:76]] = 235
    return out


def test_picture_area_of_a_dark_frame_with_a_burned_in_subtitle_is_the_whole_frame() -> None:
    """The subtitle's few bright lines must not make the dark picture's lines look like bars."""
    for luma in shot(1, 3, (16, 30)):
        assert picture_area(subtitled(luma)) == (slice(0, SIZE), slice(0, SIZE))
