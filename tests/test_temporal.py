"""Temporal smoother on synthetic sequences: a textured scene translated a few pixels per frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.flicker_metrics import warp_error
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
