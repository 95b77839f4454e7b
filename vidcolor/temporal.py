"""Temporal smoothing of per-frame ab predictions along optical flow.

Each frame's ab is blended with the previous *output* warped onto it (DIS optical flow on L), where
the warp is reliable: forward-backward consistent, inside the frame and with a small L warp error.
Occlusions, disocclusions and scene cuts fall back to the current prediction. Scene cuts are found on
exposure-matched thumbnails, so flicker, fades and dark shots do not move the measure; frames without
structure (black, white) keep their prediction and are skipped, so the next frame is compared with, and
follows, the last frame that had structure. Film grain, new in every frame, is taken out of the cut measure
(:func:`grain_corrected`), and a short run of odd frames (up to :data:`_ODD_RUN`: an explosion or a partly
blown flash lasting a frame or two, stray frames at a splice) counts no cut: each frame after it is compared
with, and follows, the frame before it. Streaming: the state is one previous L and ab, the frame before the
last cut and the last pair's measure, so memory is constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .arguments import check_type, finite_number

# Forward-backward check: a pixel is consistent when |f + b|^2 <= _FB_RELATIVE * (|f|^2 + |b|^2)
# + _FB_ABSOLUTE, with f current -> previous and b previous -> current sampled at the end of f.
_FB_RELATIVE = 0.01
_FB_ABSOLUTE = 0.5
# L warp error (8-bit levels) at which reliability starts to fall, and where it reaches zero.
_L_ERROR_LOW = 10.0
_L_ERROR_HIGH = 30.0
# Erode the reliability this many pixels (to stay off occlusion edges), then soften it with this sigma.
_MASK_ERODE = 1
_MASK_SIGMA = 1.0
# The cut measure compares thumbnails this many times smaller than the frame, so that film grain and
# noise average out and the structure of the picture remains.
_THUMBNAIL_SCALE = 4
# A frame whose thumbnail's mean absolute deviation is under this (8-bit levels) has no structure to
# compare: black or white frames between shots, the end of a fade, a flash frame.
_FLAT_CONTRAST = 0.5
# Added to the cut measure's denominator (8-bit levels): L comes in whole levels and codecs quantise
# nearly black frames coarsely, so there the residual is mostly rounding, not a change of picture.
_ROUNDING_ALLOWANCE = 0.5
# Rows and columns at the frame's edges whose L spreads less than this (standard deviation, 8-bit
# levels) are letterbox or pillarbox bars, left out of the cut measure; in dark, low-contrast frames the
# limit falls to this fraction of the median line's spread, so that the picture's own lines stay in.
_BAR_FLATNESS = 2.0
_BAR_RELATIVE = 0.25
# Grain floors of the cut measure above this are taken as this: beyond it the grain drowns the picture.
_GRAIN_FLOOR_LIMIT = 1.0
# Frames with structure after a cut that are still compared with the frame before it: a run of odd frames this
# long (a flash or an explosion lasting a few frames, a splice's stray frames) counts no cut when the shot returns.
_ODD_RUN = 3
# ... and returns to that frame when it matches it under this share of the cut threshold: clearly, since a take of
# the same set-up after a real cut can score just under the threshold against it
_RETURN_SHARE = 0.5


@dataclass(frozen=True)
class TemporalOptions:
    """Settings of the temporal-consistency stage.

    ``strength`` is the blend weight of the warped previous colour where the warp is fully reliable
    (0: per-frame output, 1: follow the previous colour). ``cut_threshold`` applies to the cut
    measure of :func:`cut_score`: the mean absolute L warp residual, after matching the previous
    frame's exposure to the current one's, divided by the current frame's mean absolute L deviation,
    both on thumbnails of the picture inside any letterbox or pillarbox bars (:func:`picture_area`),
    with the grain floor taken out (:func:`grain_corrected`). On the sample videos it is 0.01-0.2 within
    a shot (up to 0.35 in fast, motion-blurred pans) and 0.75-1.5 across a cut, also when they are
    darkened to Y' codes 16-42 with 15 % flicker.
    """

    enabled: bool = True
    strength: float = 0.7
    cut_threshold: float = 0.6

    def __post_init__(self) -> None:
        check_type("enabled", self.enabled, bool)
        finite_number("strength", self.strength, minimum=0.0, maximum=1.0)
        finite_number("cut_threshold", self.cut_threshold, above=0.0)


def as_luma(lightness: np.ndarray) -> np.ndarray:
    """Return ``lightness`` (h, w) as contiguous uint8, rounding and clipping float 0..255 input."""
    if lightness.ndim != 2:
        raise ValueError(f"lightness must be (h, w), got shape {lightness.shape}")
    if lightness.dtype == np.uint8:
        return np.ascontiguousarray(lightness)
    return np.clip(np.rint(lightness), 0, 255).astype(np.uint8)


def create_flow(preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST) -> cv2.DISOpticalFlow:
    """Return an OpenCV DIS optical-flow engine; the smoother uses the fast preset."""
    return cv2.DISOpticalFlow_create(preset)


def sample_maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the absolute ``cv2.remap`` x and y maps of a (h, w, 2) displacement field."""
    h, w = flow.shape[:2]
    map_x = flow[..., 0] + np.arange(w, dtype=np.float32)[None, :]
    map_y = flow[..., 1] + np.arange(h, dtype=np.float32)[:, None]
    return map_x, map_y


def warp(image: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Sample ``image`` (h, w) or (h, w, c) at ``maps`` with bilinear interpolation."""
    return cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistency_mask(
    flow_back: np.ndarray, flow_forward: np.ndarray, maps: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Soft reliability (h, w) float32 in [0, 1] of ``flow_back`` (current -> previous).

    ``flow_forward`` is previous -> current and ``maps`` are :func:`sample_maps` of ``flow_back``.
    1 where the forward-backward check passes and the sample lies inside the frame, falling to 0 at
    twice the check's tolerance (occlusions and disocclusions).
    """
    h, w = flow_back.shape[:2]
    back_x, back_y = cv2.split(flow_back)
    returned_x, returned_y = cv2.split(warp(flow_forward, maps))
    loop_x, loop_y = back_x + returned_x, back_y + returned_y
    lengths = back_x * back_x + back_y * back_y + returned_x * returned_x + returned_y * returned_y
    tolerance = _FB_RELATIVE * lengths + _FB_ABSOLUTE
    reliability = np.clip(2.0 - (loop_x * loop_x + loop_y * loop_y) / tolerance, 0.0, 1.0)
    inside = (maps[0] >= 0) & (maps[0] <= w - 1) & (maps[1] >= 0) & (maps[1] <= h - 1)
    return (reliability * inside).astype(np.float32)


Area = tuple[slice, slice]
WHOLE_FRAME: Area = (slice(None), slice(None))


def picture_area(luma: np.ndarray) -> Area:
    """The rows and columns of ``luma`` (h, w) inside its letterbox and pillarbox bars: flat lines at the
    edges. A flat frame (black between shots) is all picture."""
    row_spread, column_spread = luma.std(axis=1, dtype=np.float32), luma.std(axis=0, dtype=np.float32)
    typical = float(np.median(np.concatenate([row_spread, column_spread])))
    flatness = min(_BAR_FLATNESS, _BAR_RELATIVE * typical)
    rows, columns = _inner_span(row_spread > flatness), _inner_span(column_spread > flatness)
    if rows is None or columns is None:
        return WHOLE_FRAME
    return rows, columns


def _inner_span(busy: np.ndarray) -> slice | None:
    """The slice from the first to the last True of ``busy``, or None when there is none."""
    indices = np.flatnonzero(busy)
    return slice(int(indices[0]), int(indices[-1]) + 1) if indices.size else None


def thumbnail(luma: np.ndarray) -> np.ndarray:
    """``luma`` (h, w) shrunk :data:`_THUMBNAIL_SCALE` times by area averaging, float32."""
    h, w = luma.shape
    size = (max(1, w // _THUMBNAIL_SCALE), max(1, h // _THUMBNAIL_SCALE))
    return cv2.resize(luma.astype(np.float32), size, interpolation=cv2.INTER_AREA)


def contrast(image: np.ndarray) -> float:
    """Mean absolute deviation of ``image`` from its mean."""
    values = image.astype(np.float32, copy=False)
    return float(np.mean(np.abs(values - values.mean())))


def is_flat(luma: np.ndarray) -> bool:
    """Whether ``luma`` (h, w) has no structure to follow or compare (its thumbnail is nearly uniform)."""
    return contrast(thumbnail(luma[picture_area(luma)])) < _FLAT_CONTRAST


def exposure_gain(current: np.ndarray, warped_previous: np.ndarray) -> float:
    """Ratio of the thumbnails' contrasts: how much the exposure changed (flicker, a step of a fade)."""
    return contrast(thumbnail(current)) / max(contrast(thumbnail(warped_previous)), _FLAT_CONTRAST)


def luma_residual(current: np.ndarray, warped_previous: np.ndarray, area: Area = WHOLE_FRAME) -> np.ndarray:
    """Signed L warp error (h, w) float32 in 8-bit levels, after matching the exposure of ``area``: the
    previous frame's deviations from its mean are scaled by :func:`exposure_gain` and moved to the
    current frame's mean."""
    luma, previous = current.astype(np.float32), warped_previous.astype(np.float32)
    gain = exposure_gain(luma[area], previous[area])
    return (luma - float(luma[area].mean())) - gain * (previous - float(previous[area].mean()))


def cut_score(current: np.ndarray, residual: np.ndarray) -> float:
    """Scene-cut measure: the thumbnails' mean absolute :func:`luma_residual` over the current frame's
    thumbnail contrast, so independent of exposure (flicker, fades, dark shots) and of grain."""
    return float(np.mean(np.abs(thumbnail(residual)))) / (contrast(thumbnail(current)) + _ROUNDING_ALLOWANCE)


def grain_corrected(score: float, floor: float) -> float:
    """The :func:`cut_score` ``score`` with the grain floor ``floor`` (the score of the pair before) taken out.

    Grain (and noise) new in every frame adds to the residual but not to the picture: where its part of a
    thumbnail's variance is v, a pair within the shot scores f**2 = 2v and a cut whose grain-free score is
    c scores c**2 (1 - v) + 2v. So c = sqrt((score**2 - f**2) / (1 - f**2 / 2)), taking the pair before
    as within the shot: 0 within a grainy shot, the grain-free score across a cut.
    """
    floor = min(floor, _GRAIN_FLOOR_LIMIT)
    return float(np.sqrt(max(score * score - floor * floor, 0.0) / (1.0 - floor * floor / 2)))


@dataclass(frozen=True)
class _Match:
    """Frame ``previous`` followed onto the current frame: the flow back, its sample maps, the exposure-matched
    L residual and the cut score."""

    previous: np.ndarray
    flow_back: np.ndarray
    maps: tuple[np.ndarray, np.ndarray]
    residual: np.ndarray
    score: float


class TemporalSmoother:
    """Streaming temporal-consistency filter for (2, h, w) ab predictions; see the module docstring."""

    def __init__(self, options: TemporalOptions = TemporalOptions()) -> None:
        self.options = options
        self.cuts = 0
        # The warp flow runs the fast preset down to full resolution (finest scale 1 instead of 2): its
        # sub-pixel error would otherwise blur colour edges a little more at every frame (~2 ms more).
        self._flow_back = create_flow()
        self._flow_back.setFinestScale(1)
        self._flow_forward = create_flow()
        self._previous_luma: np.ndarray | None = None
        self._previous_ab: np.ndarray | None = None  # (h, w, 2) float32, the last output
        # The frame before the last cut (L, output ab, grain floor), while the frames after it may still return to
        # it: how many of those have come (the cut's own frame the first) and the cuts counted since it
        self._before_cut: tuple[np.ndarray, np.ndarray, float] | None = None
        self._since_cut = 0
        self._cuts_since = 0
        self._floor: float | None = None  # the last pair's cut score, None before the first pair

    def state(self) -> dict[str, np.ndarray]:
        """Everything the next frame depends on, as arrays (to save a render that will be resumed)."""
        state = {"cuts": np.array(self.cuts)}
        if self._previous_luma is not None and self._previous_ab is not None:
            state.update(previous_luma=self._previous_luma, previous_ab=self._previous_ab)
        if self._before_cut is not None:
            luma, ab, floor = self._before_cut
            state.update(before_cut_luma=luma, before_cut_ab=ab, before_cut_floor=np.array(floor),
                         frames_since_cut=np.array(self._since_cut), cuts_since_cut=np.array(self._cuts_since))
        if self._floor is not None:
            state.update(grain_floor=np.array(self._floor))
        return state

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned; the next frame then blends exactly as it would have."""
        self.cuts = int(state["cuts"])
        self._previous_luma = state["previous_luma"] if "previous_luma" in state else None
        self._previous_ab = state["previous_ab"] if "previous_ab" in state else None
        self._before_cut = None
        if "before_cut_luma" in state:
            floor = float(state["before_cut_floor"])
            self._before_cut = (state["before_cut_luma"], state["before_cut_ab"], floor)
            # a state saved before runs of odd frames were followed holds the cut's own frame
            self._since_cut = int(state.get("frames_since_cut", 1))
            self._cuts_since = int(state.get("cuts_since_cut", 1))
        self._floor = float(state["grain_floor"]) if "grain_floor" in state else None

    def __call__(self, lightness: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """Return the temporally smoothed ab (2, h, w) float32 for this frame.

        ``lightness`` is the frame's (h, w) luma at render size, uint8 or float 0..255; ``ab`` is the
        model's (2, h, w) prediction in any linear ab units. The first frame, a frame after a scene cut
        or a change of size, a frame without structure (:func:`is_flat`) and the first one with
        structure after such frames at the start are returned unchanged. The first pair of frames only
        sets the grain floor: a cut one frame into the stream is not counted.
        """
        luma = as_luma(lightness)
        if ab.shape != (2, *luma.shape):
            raise ValueError(f"ab must have shape (2, {luma.shape[0]}, {luma.shape[1]}), got {ab.shape}")
        if not self.options.enabled or self.options.strength == 0.0:
            return ab.astype(np.float32, copy=True)
        current = np.ascontiguousarray(np.moveaxis(ab.astype(np.float32, copy=False), 0, -1))
        output = current
        previous = self._previous_luma
        if previous is not None and previous.shape == luma.shape and not is_flat(previous):
            if is_flat(luma):
                # Nothing to follow or compare: the next frame is compared with the last one that has
                # structure, so a fade through black counts one cut and a flash frame none.
                return ab.astype(np.float32, copy=True)
            output = self._follow(luma, current, previous)
        self._previous_luma = luma
        self._previous_ab = output
        return np.ascontiguousarray(np.moveaxis(output, -1, 0))

    def _follow(self, luma: np.ndarray, current: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """Blend ``current`` (h, w, 2) with the warped previous output, or count a cut and keep it.

        The :data:`_ODD_RUN` frames after a cut are first compared with the frame before it: if one matches, the
        frames between were a short run of odd frames, the cuts counted since are taken back and this frame
        follows the one before them.
        """
        before_cut = self._before_cut
        if before_cut is not None and before_cut[0].shape == luma.shape:
            before_luma, before_ab, floor = before_cut
            match = self._match(luma, before_luma)
            if grain_corrected(match.score, floor) <= _RETURN_SHARE * self.options.cut_threshold:
                self.cuts -= self._cuts_since
                self._before_cut = None
                self._floor = match.score
                return self._blend(luma, current, before_ab, match)
        if before_cut is not None and (self._since_cut >= _ODD_RUN or before_cut[0].shape != luma.shape):
            self._before_cut = before_cut = None  # a new shot: its cut stays counted
        match = self._match(luma, previous)
        floor, self._floor = (match.score if self._floor is None else self._floor), match.score
        is_cut = grain_corrected(match.score, floor) > self.options.cut_threshold
        self.cuts += is_cut
        if before_cut is not None:
            self._since_cut += 1
            self._cuts_since += is_cut
        elif is_cut:
            self._before_cut, self._since_cut, self._cuts_since = (previous, self._previous_ab, floor), 1, 1
        if is_cut:
            return current
        return self._blend(luma, current, self._previous_ab, match)

    def _match(self, luma: np.ndarray, previous: np.ndarray) -> _Match:
        """Follow ``previous`` (h, w) onto ``luma`` along the flow back, and score the pair as a cut."""
        flow_back = self._flow_back.calc(luma, previous, None)
        maps = sample_maps(flow_back)
        area = picture_area(luma)
        residual = luma_residual(luma, warp(previous, maps), area)
        return _Match(previous, flow_back, maps, residual, cut_score(luma[area], residual[area]))

    def _blend(self, luma: np.ndarray, current: np.ndarray, previous_ab: np.ndarray, match: _Match) -> np.ndarray:
        """``current`` (h, w, 2) blended with ``previous_ab`` warped along ``match``, where it is reliable."""
        flow_forward = self._flow_forward.calc(match.previous, luma, None)
        reliability = consistency_mask(match.flow_back, flow_forward, match.maps)
        reliability *= np.clip((_L_ERROR_HIGH - np.abs(match.residual)) / (_L_ERROR_HIGH - _L_ERROR_LOW), 0.0, 1.0)
        kernel = np.ones((2 * _MASK_ERODE + 1,) * 2, np.uint8)
        reliability = cv2.GaussianBlur(cv2.erode(reliability, kernel), (0, 0), _MASK_SIGMA)
        weight = (self.options.strength * reliability)[..., None]
        return current + weight * (warp(previous_ab, match.maps) - current)
