"""Temporal smoother on synthetic sequences: a textured scene translated a few pixels per frame."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest
import torch

from benchmarks.flicker_metrics import warp_error
from vidcolor.color import grey_to_lightness
from vidcolor.temporal import TemporalOptions, TemporalSmoother, picture_area

SIZE = 96
OBJECT_AB = (40.0, 25.0)
BACKGROUND_AB = (-20.0, -30.0)


def texture(seed: int, size: int) -> np.ndarray:
    """Blurred noise stretched to 20..235, uint8 (size, size)."""
    noise = np.random.default_rng(seed).random((size, size), dtype=np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 1.5)
    return cv2.normalize(blurred, None, 20, 235, cv2.NORM_MINMAX).astype(np.uint8)


def disk_colours(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Truth ab (2, size, size): a disk of OBJECT_AB on BACKGROUND_AB, and the disk's mask."""
    yy, xx = np.mgrid[:size, :size]
    disk = (xx - size / 2) ** 2 + (yy - size / 2) ** 2 < (size / 4) ** 2
    ab = np.empty((2, size, size), np.float32)
    for channel in range(2):
        ab[channel] = np.where(disk, OBJECT_AB[channel], BACKGROUND_AB[channel])
    return ab, disk


def panning(frames: int, step: tuple[int, int] = (2, 1), seed: int = 0) -> list[tuple[np.ndarray, ...]]:
    """(L, truth ab, object mask) per frame of a camera panning by ``step`` pixels per frame."""
    canvas = SIZE + frames * max(step)
    luma, (ab, disk) = texture(seed, canvas), disk_colours(canvas)
    crops = []
    for index in range(frames):
        x, y = index * step[0], index * step[1]
        window = (slice(y, y + SIZE), slice(x, x + SIZE))
        crops.append((luma[window].copy(), ab[(slice(None), *window)].copy(), disk[window].copy()))
    return crops


def flicker(ab: np.ndarray, mask: np.ndarray, rng: np.random.Generator, sigma: float = 10.0) -> np.ndarray:
    """``ab`` with a random per-frame offset added to the object's colour."""
    noisy = ab.copy()
    noisy[:, mask] += rng.normal(0.0, sigma, (2, 1)).astype(np.float32)
    return noisy


def mean_warp_error(lumas: list[np.ndarray], abs_: list[np.ndarray]) -> float:
    pairs = range(1, len(lumas))
    return float(np.mean([warp_error(lumas[i - 1], lumas[i], abs_[i - 1], abs_[i]) for i in pairs]))


def test_flicker_is_removed() -> None:
    frames = panning(12)
    rng = np.random.default_rng(1)
    smoother = TemporalSmoother()
    lumas, truths, predictions, outputs = [], [], [], []
    for luma, truth, disk in frames:
        prediction = flicker(truth, disk, rng)
        lumas.append(luma)
        truths.append(truth)
        predictions.append(prediction)
        outputs.append(smoother(luma, prediction))
    per_frame = mean_warp_error(lumas, predictions)
    smoothed = mean_warp_error(lumas, outputs)
    truth = mean_warp_error(lumas, truths)
    assert np.array_equal(outputs[0], predictions[0])
    assert smoother.cuts == 0
    assert per_frame > 2.0
    assert truth < 0.1
    # A strength of 0.7 leaves about a quarter of the flicker (exponential averaging along the flow).
    assert smoothed < 0.35 * per_frame
    assert smoothed - truth < 0.35 * (per_frame - truth)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_static_prediction_is_unchanged(dtype: type) -> None:
    luma, truth, _ = panning(1)[0]
    smoother = TemporalSmoother()
    for _ in range(6):
        output = smoother(luma.astype(dtype), truth)
    assert np.abs(output - truth).max() < 0.05


def test_correct_prediction_does_not_drift_or_blur_when_moving() -> None:
    smoother = TemporalSmoother()
    for luma, truth, _ in panning(12):
        output = smoother(luma, truth)
    error = np.abs(output - truth)[:, 8:-8, 8:-8]  # the border band enters the frame each step
    assert error.mean() < 0.1
    assert np.percentile(error, 99) < 3.0  # colour edges stay sharp: the object/background step is 60


def test_scene_cut_is_counted_and_not_ghosted() -> None:
    first_scene = panning(5)
    other_luma = texture(seed=7, size=SIZE)
    other_ab = np.full((2, SIZE, SIZE), 5.0, np.float32)
    smoother = TemporalSmoother()
    for luma, truth, _ in first_scene:
        smoother(luma, truth)
    assert smoother.cuts == 0
    output = smoother(other_luma, other_ab)
    assert smoother.cuts == 1
    assert np.array_equal(output, other_ab)
    # The new scene is followed again from the next frame on.
    assert np.abs(smoother(other_luma, other_ab) - other_ab).max() < 0.05
    assert smoother.cuts == 1


@pytest.mark.parametrize("options", [TemporalOptions(strength=0.0), TemporalOptions(enabled=False)])
def test_disabled_returns_prediction_exactly(options: TemporalOptions) -> None:
    rng = np.random.default_rng(2)
    smoother = TemporalSmoother(options)
    for luma, truth, disk in panning(4):
        prediction = flicker(truth, disk, rng)
        assert np.array_equal(smoother(luma, prediction), prediction)


def test_disoccluded_background_falls_back_to_prediction() -> None:
    """A textured square slides right over a static background; the strip it uncovers has no history."""
    background, square = texture(seed=3, size=SIZE), texture(seed=4, size=32)
    step, top = 4, 32
    smoother = TemporalSmoother(TemporalOptions(strength=1.0))
    for index in range(6):
        left = 16 + index * step
        luma = background.copy()
        luma[top : top + 32, left : left + 32] = square
        prediction = np.empty((2, SIZE, SIZE), np.float32)
        for channel in range(2):
            prediction[channel] = BACKGROUND_AB[channel]
            prediction[channel, top : top + 32, left : left + 32] = OBJECT_AB[channel]
        output = smoother(luma, prediction)
    uncovered = (slice(None), slice(top, top + 32), slice(left - step, left))
    ghost = np.abs(output[uncovered] - prediction[uncovered])
    assert ghost.mean() < 3.5  # a ghost of the square would be ~55 away (2.3 measured)
    assert smoother.cuts == 0
    # Away from the moving edges, strength 1 follows the history, which here equals the prediction.
    assert np.abs(output - prediction)[:, :24, :].max() < 0.05


def test_mismatched_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="ab must have shape"):
        TemporalSmoother()(np.zeros((8, 8), np.uint8), np.zeros((2, 8, 9), np.float32))


def with_bars(luma: np.ndarray, side: str) -> np.ndarray:
    """``luma`` with black bars over an eighth of the frame at both ends: ``top`` and bottom (letterbox)
    or ``left`` and right (pillarbox)."""
    framed = luma.copy()
    band = SIZE // 8
    if side == "top":
        framed[:band], framed[-band:] = 0, 0
    else:
        framed[:, :band], framed[:, -band:] = 0, 0
    return framed


@pytest.mark.parametrize("side", ["top", "left"])
def test_scene_cut_inside_letterbox_or_pillarbox_bars_is_counted(side: str) -> None:
    """Archive transfers are often boxed (4:3 in 16:9, scope in 4:3). The bars added their own contrast
    to the cut measure's denominator, so a cut inside them scored ~0.4 and the old shot's colour was
    carried into the new one."""
    smoother = TemporalSmoother()
    for luma, truth, _ in panning(5):
        smoother(with_bars(luma, side), truth)
    assert smoother.cuts == 0
    other_ab = np.full((2, SIZE, SIZE), 5.0, np.float32)
    output = smoother(with_bars(texture(seed=7, size=SIZE), side), other_ab)
    assert smoother.cuts == 1
    assert np.array_equal(output, other_ab)


def test_picture_area_leaves_out_flat_edges_only() -> None:
    luma = with_bars(with_bars(texture(seed=5, size=SIZE), "top"), "left")
    rows, columns = picture_area(luma)
    band = SIZE // 8
    assert (rows.start, rows.stop, columns.start, columns.stop) == (band, SIZE - band, band, SIZE - band)
    assert picture_area(np.zeros((SIZE, SIZE), np.uint8)) == (slice(None), slice(None))


def test_flat_black_frames_between_shots_stay_finite_and_are_no_cuts() -> None:
    black = np.zeros((SIZE, SIZE), np.uint8)
    ab = np.full((2, SIZE, SIZE), 3.0, np.float32)
    smoother = TemporalSmoother()
    outputs = [smoother(black, ab) for _ in range(4)]
    assert smoother.cuts == 0
    assert all(np.isfinite(output).all() and np.abs(output - ab).max() < 0.05 for output in outputs)


# Archive film: shots of textured scenes, often dark and low in contrast, with flicker (the whole frame's
# level pumping from one frame to the next) and gate weave (small random shifts of the picture).
DARK = (16, 40)  # Y' codes: the shot spans 0..26 in 8-bit L
NORMAL = (16, 235)


def scene(seed: int, detail: int | None = None) -> np.ndarray:
    """A scene (SIZE + 64 square) in 0..1: fine detail over coarse shapes; the detail drawn from ``detail``
    instead, when given (a similar shot: the same layout, other details)."""
    noise = np.random.default_rng(seed).random((2, SIZE + 64, SIZE + 64), dtype=np.float32)
    if detail is not None:
        noise[0] = np.random.default_rng(detail).random((SIZE + 64, SIZE + 64), dtype=np.float32)
    layers = [cv2.GaussianBlur(noise[0], (0, 0), 1.5), cv2.GaussianBlur(noise[1], (0, 0), 6.0)]
    mixed = sum(cv2.normalize(layer, None, 0, 1, cv2.NORM_MINMAX) for layer in layers)
    return mixed / 2


def lightness_of_codes(codes: np.ndarray) -> np.ndarray:
    """8-bit L (h, w) of limited-range Y' ``codes``, as the pipeline hands frames to the smoother."""
    grey = torch.from_numpy(np.clip((codes.astype(np.float32) - 16) / 219, 0, 1))
    return (grey_to_lightness(grey) * 2.55).round().to(torch.uint8).numpy()


def shot(seed: int, frames: int, codes: tuple[int, int] = DARK, flicker: float = 0.15, weave: int = 1,
         levels: list[float] | None = None, grain: float = 0.0, detail: int | None = None) -> list[np.ndarray]:
    """L frames of ``scene(seed, detail)`` panning 1 px a frame at Y' ``codes``, with gate weave of up to
    ``weave`` px, flicker (the level above black scaled by up to 1 +- ``flicker``, then by ``levels[i]``, a
    fade) and film grain of standard deviation ``grain`` Y' codes, new in every frame."""
    rng = np.random.default_rng(seed + 100)
    picture = scene(seed, detail)
    out = []
    for index in range(frames):
        x, y = 8 + index + rng.integers(-weave, weave + 1), 8 + rng.integers(-weave, weave + 1)
        gain = (1 + rng.uniform(-flicker, flicker)) * (levels[index] if levels else 1.0)
        level = codes[0] - 16 + (codes[1] - codes[0]) * picture[y : y + SIZE, x : x + SIZE]
        out.append(lightness_of_codes(16 + level * gain + film_grain(grain, [seed, detail or 0, index])))
    return out


def film_grain(sigma: float, seed: list[int]) -> np.ndarray | float:
    """Grain (SIZE square) of standard deviation ``sigma``: noise in clumps of about a pixel and a half."""
    if sigma == 0:
        return 0.0
    clumps = cv2.GaussianBlur(np.random.default_rng(seed).normal(size=(SIZE, SIZE)), (0, 0), 0.6)
    return sigma * clumps / clumps.std()


def flat(code: int, frames: int = 1) -> list[np.ndarray]:
    """``frames`` frames of one Y' code: black (16) between shots, white (235) for a flash frame."""
    return [lightness_of_codes(np.full((SIZE, SIZE), code))] * frames


def cut_frames(lumas: list[np.ndarray], smoother: TemporalSmoother | None = None) -> list[int]:
    """Indices of the frames the smoother counted as scene cuts (constant ab)."""
    smoother = smoother or TemporalSmoother()
    ab = np.zeros((2, SIZE, SIZE), np.float32)
    found = []
    for index, luma in enumerate(lumas):
        before = smoother.cuts
        smoother(luma, ab)
        if smoother.cuts > before:
            found.append(index)
        for _ in range(before - smoother.cuts):  # the frames before were a short run of odd frames, not new shots
            found.pop()
    return found


@pytest.mark.parametrize("codes", [DARK, (16, 30), NORMAL])
def test_cut_between_dark_low_contrast_shots_is_counted(codes: tuple[int, int]) -> None:
    """Between dark shots the old measure stayed under the threshold: the first shot's colour was carried
    into the next for several frames."""
    assert cut_frames(shot(1, 8, codes) + shot(2, 8, codes) + shot(3, 8, codes)) == [8, 16]


@pytest.mark.parametrize("codes", [DARK, (16, 30), NORMAL])
@pytest.mark.parametrize("flicker", [0.1, 0.2])
def test_flicker_and_gate_weave_are_no_cuts(codes: tuple[int, int], flicker: float) -> None:
    assert cut_frames(shot(4, 24, codes, flicker=flicker, weave=2)) == []


@pytest.mark.parametrize("codes", [DARK, NORMAL])
@pytest.mark.parametrize("length", [3, 5])
def test_fade_to_black_between_shots_is_one_cut(codes: tuple[int, int], length: int) -> None:
    """A fade out, black frames and a fade in count once, where the new shot appears (a dark one later in
    its fade in, once it rises out of black). Each step of the fade used to count as a cut, or, in dark
    shots, none did and the old shot's colour came back after the black."""
    out_levels = [1 - (step + 1) / (length + 1) for step in range(length)]
    fade_out = shot(5, 6 + length, codes, levels=[1.0] * 6 + out_levels)
    fade_in = shot(6, length + 6, codes, levels=out_levels[::-1] + [1.0] * 6)
    found = cut_frames(fade_out + flat(16, 3) + fade_in)
    start = len(fade_out) + 3
    assert len(found) == 1 and start <= found[0] < start + length
    if codes == NORMAL:
        assert found == [start]
    # A dip to black inside one shot is no cut.
    again = shot(5, length + 6, codes, levels=out_levels[::-1] + [1.0] * 6)
    assert cut_frames(fade_out + flat(16, 3) + again) == []


def test_flash_frame_is_no_cut_and_does_not_smear() -> None:
    """One white frame inside a shot: it keeps its own colour, and the next frame follows the colour from
    before the flash. It used to count two cuts and restart the smoothing after it."""
    frames = shot(7, 12, NORMAL)
    frames[6] = flat(235)[0]
    before, flash, after = (np.full((2, SIZE, SIZE), value, np.float32) for value in (10.0, -40.0, 30.0))
    smoother = TemporalSmoother()
    outputs = [smoother(luma, before if index < 6 else flash if index == 6 else after)
               for index, luma in enumerate(frames[:8])]
    assert smoother.cuts == 0
    assert np.array_equal(outputs[6], flash)
    followed = after + smoother.options.strength * (before - after)
    inner = (slice(None), slice(8, -8), slice(8, -8))
    assert np.abs(outputs[7] - followed)[inner].mean() < 2.0


@pytest.mark.parametrize("codes", [DARK, NORMAL])
def test_dissolve_counts_at_most_one_cut_and_ends_in_the_new_colour(codes: tuple[int, int]) -> None:
    """A cross-fade over 16 frames changes little from one frame to the next: the colour follows it, and
    12 frames after it the old shot's colour is gone."""
    first, second = shot(8, 32, codes), shot(9, 32, codes)
    frames = []
    for index in range(32):
        mix = np.clip((index - 4) / 16, 0, 1)
        frames.append(np.rint((1 - mix) * first[index] + mix * second[index]).astype(np.uint8))
    old, new = np.full((2, SIZE, SIZE), -30.0, np.float32), np.full((2, SIZE, SIZE), 30.0, np.float32)
    smoother = TemporalSmoother()
    for index, luma in enumerate(frames):
        mix = np.clip((index - 4) / 16, 0, 1)
        output = smoother(luma, ((1 - mix) * old + mix * new).astype(np.float32))
    assert smoother.cuts <= 1
    assert np.abs(output - new).mean() < 1.0


@pytest.mark.parametrize("codes", [DARK, (16, 30)])
def test_picture_area_keeps_dark_low_contrast_lines(codes: tuple[int, int]) -> None:
    """The lines of a dark shot spread less than 2 levels: most were taken for bars, and the cut measure
    looked at a strip that jumped from frame to frame (a single column of this one)."""
    luma = shot(1, 1, codes)[0]
    assert picture_area(luma) == (slice(0, SIZE), slice(0, SIZE))
    band = SIZE // 8
    boxed = with_bars(with_bars(luma, "top"), "left")
    assert picture_area(boxed) == (slice(band, SIZE - band), slice(band, SIZE - band))


# Film grain as on 16 mm and 8 mm transfers at render size: 3-4 Y' codes on a shot spanning 24 (DARK), 3 on
# one spanning 14. It is new in every frame, so it alone raised the cut measure of a dark shot to 0.6-0.9.
GRAINY = [(DARK, 3.0), (DARK, 4.0), ((16, 30), 3.0), (NORMAL, 6.0)]


@pytest.mark.parametrize(("codes", "grain"), GRAINY)
def test_film_grain_on_dark_shots_is_no_cut(codes: tuple[int, int], grain: float) -> None:
    """Every frame of a grainy dark shot counted as a cut: the colour smoothing restarted at each one,
    so the render flickered as if smoothing were off."""
    assert cut_frames(shot(4, 24, codes, weave=2, grain=grain)) == []


@pytest.mark.parametrize(("codes", "grain"), [(DARK, 3.0), (DARK, 4.0), ((16, 30), 2.0), (NORMAL, 6.0)])
def test_cut_between_grainy_dark_shots_is_counted(codes: tuple[int, int], grain: float) -> None:
    """Shots as grainy as 3 codes on a range of 14 are beyond it: there the grain hides most of the picture."""
    shots = [shot(seed, 8, codes, grain=grain) for seed in (1, 2, 3)]
    assert cut_frames(shots[0] + shots[1] + shots[2]) == [8, 16]


def test_cut_from_clean_to_grainy_shot_and_back_counts_once_each() -> None:
    """The grain of the shot after a cut is not known yet: its first frames must not count again."""
    frames = shot(1, 8, NORMAL) + shot(2, 8, DARK, grain=4.0) + shot(3, 8, NORMAL)
    assert cut_frames(frames) == [8, 16]


@pytest.mark.parametrize(("codes", "grain"), [(NORMAL, 0.0), (NORMAL, 3.0), (DARK, 0.0), (DARK, 2.0)])
def test_cut_between_similar_shots_is_counted(codes: tuple[int, int], grain: float) -> None:
    """Takes of one set-up: the same layout of light and dark, other details. (A dark one scores 0.67 without
    grain, just over the threshold, so grain of 3 codes can hide it.)"""
    takes = [shot(1, 8, codes, grain=grain, detail=detail) for detail in (None, 50, 51)]
    assert cut_frames(takes[0] + takes[1] + takes[2]) == [8, 16]


@pytest.mark.parametrize("codes", [NORMAL, DARK])
def test_short_shots_are_each_counted(codes: tuple[int, int]) -> None:
    """A montage of shots two and three frames long, in clean and grainy footage."""
    grain = 0.0 if codes == NORMAL else 3.0
    frames = [frame for seed, length in [(1, 3), (2, 2), (3, 3), (5, 3)] for frame in shot(seed, length, codes, grain=grain)]
    assert cut_frames(frames) == [3, 5, 8]


def flash(frame: np.ndarray, strength: float, centre: tuple[float, float]) -> np.ndarray:
    """``frame`` (L) lit by a flash at ``centre`` (fractions of the frame): light falling off with the distance,
    raising L by ``strength`` times the frame's range at the centre, and clipping at white where it is strong."""
    yy, xx = np.mgrid[:SIZE, :SIZE] / SIZE
    light = strength * np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * 0.3**2))
    lit = frame * (1 + light) + light * float(np.ptp(frame))
    return np.clip(np.rint(lit), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("codes", "strength"), [(DARK, 1.0), (DARK, 4.0), (NORMAL, 0.5), (NORMAL, 2.0)])
def test_partly_blown_flash_frame_is_no_cut_and_does_not_smear(codes: tuple[int, int], strength: float) -> None:
    """A press photographer's flash or an explosion lights one frame unevenly and blows part of it out. It
    counted two cuts (into and out of the flash) and restarted the smoothing after it. Now it keeps its own
    colour and the next frame follows the colour from before it, as after a white flash frame."""
    frames = shot(7, 10, codes)
    frames[6] = flash(frames[6], strength, (0.3, 0.4))
    before, lit, after = (np.full((2, SIZE, SIZE), value, np.float32) for value in (10.0, -40.0, 30.0))
    smoother = TemporalSmoother()
    outputs = [smoother(luma, before if index < 6 else lit if index == 6 else after)
               for index, luma in enumerate(frames)]
    assert smoother.cuts == 0
    assert np.array_equal(outputs[6], lit)
    followed = after + smoother.options.strength * (before - after)
    inner = (slice(None), slice(8, -8), slice(8, -8))
    assert np.abs(outputs[7] - followed)[inner].mean() < 2.0


def test_one_frame_of_another_shot_counts_no_cut() -> None:
    """A stray frame of another shot (a splice) inside a shot is treated as a flash frame."""
    frames = shot(1, 10, NORMAL)
    frames[5] = shot(2, 6, NORMAL)[5]
    assert cut_frames(frames) == []


@pytest.mark.parametrize(("codes", "strength"), [(DARK, 4.0), (NORMAL, 2.0)])
def test_a_flash_over_two_frames_is_no_cut_and_the_shot_follows_its_colour_after_it(codes: tuple[int, int],
                                                                                    strength: float) -> None:
    """An explosion lighting two frames counted two cuts and restarted the smoothing after it."""
    frames = shot(7, 11, codes)
    frames[6], frames[7] = flash(frames[6], strength, (0.3, 0.4)), flash(frames[7], strength * 0.7, (0.35, 0.4))
    before, lit, after = (np.full((2, SIZE, SIZE), value, np.float32) for value in (10.0, -40.0, 30.0))
    smoother = TemporalSmoother()
    outputs = [smoother(luma, before if index < 6 else lit if index < 8 else after) for index, luma in enumerate(frames)]
    assert smoother.cuts == 0
    assert np.array_equal(outputs[6], lit)
    followed = after + smoother.options.strength * (before - after)
    inner = (slice(None), slice(8, -8), slice(8, -8))
    assert np.abs(outputs[8] - followed)[inner].mean() < 2.0


@pytest.mark.parametrize(("inserted", "expected"), [(2, []), (3, []), (4, [4, 8])])
def test_a_run_of_up_to_three_frames_of_another_shot_counts_no_cut(inserted: int, expected: list[int]) -> None:
    """Stray frames of another shot at a splice; from four frames on they are a shot of their own."""
    frames = shot(1, 12, NORMAL)
    frames[4 : 4 + inserted] = shot(2, 12, NORMAL)[4 : 4 + inserted]
    assert cut_frames(frames) == expected


def test_a_cut_to_a_take_of_the_same_set_up_is_not_taken_back_a_few_frames_on() -> None:
    """Dark grainy takes of one set-up score just over the cut threshold at the cut and can score just under it
    against the frame before the cut a few frames later: that is no return to the shot before."""
    takes = [shot(1, 8, DARK, grain=2.0, detail=detail) for detail in (None, 50, 51)]
    assert cut_frames(takes[0] + takes[1] + takes[2]) == [8, 16]


def resume_at(frames: list[np.ndarray], stop: int, seed: int, saved: Callable[[dict], dict] = dict) -> tuple[int, int]:
    """Smooth ``frames`` (random ab) in one go and again stopped before frame ``stop``, its state passed through
    ``saved`` and loaded into a new smoother; asserts both give the same outputs after the stop, and returns the cut
    counts at the stop and at the end."""
    rng = np.random.default_rng(seed)
    abs_ = [rng.normal(0, 10, (2, SIZE, SIZE)).astype(np.float32) for _ in frames]
    whole = TemporalSmoother()
    expected = [whole(luma, ab) for luma, ab in zip(frames, abs_)]
    first, second = TemporalSmoother(), TemporalSmoother()
    for luma, ab in zip(frames[:stop], abs_[:stop]):
        first(luma, ab)
    second.load_state(saved({key: np.array(value) for key, value in first.state().items()}))
    resumed = [second(luma, ab) for luma, ab in zip(frames[stop:], abs_[stop:])]
    assert all(np.array_equal(a, b) for a, b in zip(resumed, expected[stop:]))
    assert second.cuts == whole.cuts
    return first.cuts, whole.cuts


def test_state_resumes_within_a_run_of_odd_frames() -> None:
    """Stopped after two stray frames of two other shots, a resumed render takes back both cuts as the whole one
    does."""
    frames = shot(1, 10, NORMAL)
    frames[4], frames[5] = shot(3, 10, NORMAL)[4], shot(4, 10, NORMAL)[5]
    assert resume_at(frames, 6, seed=5) == (2, 0)


def test_a_state_saved_without_the_run_of_odd_frames_resumes_as_one_frame_after_the_cut() -> None:
    """A --resume folder written before runs of odd frames were followed holds no count of the frames since
    the cut: it resumes as saved one frame after it."""
    frames = shot(1, 10, NORMAL)
    frames[4] = shot(3, 10, NORMAL)[4]

    def older(state: dict) -> dict:
        assert int(state.pop("frames_since_cut")) == int(state.pop("cuts_since_cut")) == 1
        return state

    assert resume_at(frames, 5, seed=7, saved=older) == (1, 0)


def test_state_resumes_mid_shot_and_between_a_cut_and_the_next_frame() -> None:
    """A resumed render restores the grain floor and the frame held over a cut, so that it counts and colours
    exactly as the render that was not stopped."""
    frames = shot(1, 6, DARK, grain=3.0) + shot(2, 4, DARK, grain=3.0)
    frames[3] = flash(frames[3], 4.0, (0.5, 0.5))
    for stop in (2, 4, 7):
        assert resume_at(frames, stop, seed=3)[1] == 1
