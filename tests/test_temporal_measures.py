"""The temporal smoother's building blocks on hand-computed inputs: the warp's reliability, the cut measure,
luma rounding and an older saved state."""

import numpy as np
import pytest

from vidcolor.temporal import (
    TemporalSmoother,
    as_luma,
    consistency_mask,
    cut_score,
    sample_maps,
)


def _uniform_flow(dx: float, shape: tuple[int, int] = (4, 32)) -> np.ndarray:
    flow = np.zeros((*shape, 2), np.float32)
    flow[..., 0] = dx
    return flow


def test_forward_backward_check_follows_its_tolerance():
    """A looser check would trust inconsistent flow at occlusions and ghost the previous colour there."""
    back = _uniform_flow(-10.0)
    maps = sample_maps(back)
    consistent = consistency_mask(back, _uniform_flow(10.0), maps)
    off_by_two = consistency_mask(back, _uniform_flow(8.0), maps)
    # |f + b|^2 = 4 against 0.01 * (100 + 64) + 0.5 = 2.14: reliability 2 - 4 / 2.14
    assert off_by_two[2, 20] == pytest.approx(2.0 - 4.0 / 2.14, abs=1e-5)
    assert consistent[2, 20] == 1.0
    assert consistent[2, 5] == 0.0  # sampled from outside the frame (x - 10 < 0)


def test_cut_score_is_the_residual_over_contrast_plus_the_rounding_allowance():
    """Without the allowance, near-black frames (whose residual is mostly rounding) would count as cuts."""
    current = np.zeros((8, 8), np.uint8)
    current[:, 4:] = 2  # thumbnail [[0, 2], [0, 2]]: contrast 1
    residual = np.ones((8, 8), np.float32)
    assert cut_score(current, residual) == pytest.approx(1.0 / (1.0 + 0.5))


def test_float_lightness_is_rounded_to_the_nearest_level_and_clipped():
    """Truncating float L would darken every frame the smoother follows by up to a level."""
    luma = as_luma(np.array([[100.4, 100.6, -3.0, 300.0]], np.float32))
    assert luma.dtype == np.uint8 and luma.tolist() == [[100, 101, 0, 255]]


def test_a_state_saved_before_odd_runs_were_followed_holds_the_cuts_own_frame():
    """A render saved by an older version resumes with the cut's own frame counted, as it was."""
    smoother = TemporalSmoother()
    luma, ab = np.zeros((8, 8), np.uint8), np.zeros((8, 8, 2), np.float32)
    smoother.load_state({"cuts": np.array(1), "previous_luma": luma, "previous_ab": ab,
                         "before_cut_luma": luma, "before_cut_ab": ab, "before_cut_floor": np.array(0.1)})
    state = smoother.state()
    assert int(state["frames_since_cut"]) == 1 and int(state["cuts_since_cut"]) == 1
    assert float(state["before_cut_floor"]) == pytest.approx(0.1)
