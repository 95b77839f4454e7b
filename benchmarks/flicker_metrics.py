"""Flicker metrics for the temporal-consistency benchmark: ab warp error along the truth's optical flow."""

from __future__ import annotations

import cv2
import numpy as np

from vidcolor.temporal import as_luma, consistency_mask, create_flow, sample_maps, warp


def flow_and_mask(prev_l: np.ndarray, cur_l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the flow (h, w, 2) from ``cur_l`` back to ``prev_l`` and the (h, w) bool mask of pixels
    that pass the forward-backward check and land inside the previous frame.

    Lightness is (h, w) uint8 or float 0..255; the flow is OpenCV DIS, medium preset.
    """
    previous, current = as_luma(prev_l), as_luma(cur_l)
    engine = create_flow(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow_back = engine.calc(current, previous, None)
    flow_forward = engine.calc(previous, current, None)
    return flow_back, consistency_mask(flow_back, flow_forward, sample_maps(flow_back)) >= 1.0


def warp_error(prev_l: np.ndarray, cur_l: np.ndarray, prev_ab: np.ndarray, cur_ab: np.ndarray) -> float:
    """Mean absolute ab difference between ``cur_ab`` and ``prev_ab`` warped onto the current frame.

    The flow comes from ``prev_l`` and ``cur_l``: pass the truth's L. ab arrays are (2, h, w) in Lab
    units; occluded pixels are left out. Returns NaN when no pixel is reliable.
    """
    flow, mask = flow_and_mask(prev_l, cur_l)
    if not mask.any():
        return float("nan")
    previous = np.ascontiguousarray(np.moveaxis(prev_ab.astype(np.float32, copy=False), 0, -1))
    warped = warp(previous, sample_maps(flow))
    difference = np.abs(warped - np.moveaxis(cur_ab.astype(np.float32, copy=False), 0, -1))
    return float(difference[mask].mean())
