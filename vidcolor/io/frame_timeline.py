"""When each frame of a video shows: its frame timeline, and where a decoded frame's time falls on it."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class FrameTimeline:
    """When each frame of a video shows, from its packets: ``times[i]`` is frame i's time (stream time
    base, sorted) and ``end`` where the last frame stops showing (its duration, or one frame period).

    ``slot`` is one frame period. ``lag``: decoded AVI frames carry the dts of the packet the decoder
    returned them on, ``lag`` packets after their own (its reordering delay). ``seekable`` is False where
    a seek cannot be trusted to say which frame it reached: a bare stream without times (given one slot
    per packet) and MPEG program streams (FFmpeg's times after a seek there can be a frame off).
    """

    times: list[int]
    end: Fraction | int
    time_base: Fraction
    slot: int = 1
    lag: int = 0
    seekable: bool = True

    def __len__(self) -> int:
        return len(self.times)

    def index_at(self, seconds: float) -> int | None:
        """The frame shown ``seconds`` after the first frame starts; None at or past the end."""
        if not self.times:
            return None
        exact = Fraction(seconds).limit_denominator(1_000_000)  # 0.3, not 0.29999...: frames start on it
        target = self.times[0] + exact / self.time_base
        if target >= self.end:
            return None
        return max(bisect.bisect_right(self.times, target) - 1, 0)

    def index_of(self, pts: int) -> int:
        """The index of a decoded frame timed ``pts``: the nearest time on the timeline (frames the decoder
        returns after the last packet follow it slot by slot), less the decoder's ``lag``."""
        return max(_position(self.times, pts, self.slot) - self.lag, 0)

    def holds(self, pts: int) -> bool:
        """Whether ``pts`` is (within a quarter frame) one of the times: after a seek into an MPEG program
        stream the decoder can give times half a frame off, which do not say which frame it is."""
        position = _position(self.times, pts, self.slot)
        return position >= len(self.times) or abs(self.times[position] - pts) <= self.slot / 4

    def seconds_of(self, index: int) -> float:
        """When frame ``index`` starts, in seconds after the first frame (0 for an empty timeline)."""
        if not self.times:
            return 0.0
        last = len(self.times) - 1
        start = self.times[min(index, last)] + max(index - last, 0) * self.slot
        return float((start - self.times[0]) * self.time_base)


def _position(times: list[int], pts: int, slot: int) -> int:
    """Where ``pts`` falls on the sorted ``times``: the nearest one, or past the last by whole slots."""
    if pts > times[-1]:
        return len(times) - 1 + round((pts - times[-1]) / slot)
    after = bisect.bisect_left(times, pts)
    return after if after == 0 or times[after] - pts < pts - times[after - 1] else after - 1


def own_keyframe(keyframes: list[int], carried: int | None) -> int | None:
    """The time of the keyframe a decoder's first frame, which carries the dts ``carried``, comes from: the
    latest of ``keyframes`` (AVI dts, rising) at or before it, for the decoder returns each frame a few packets
    after its own (fewer than a GOP). None where there is none, or no time."""
    if carried is None:
        return None
    position = bisect.bisect_right(keyframes, carried)
    return keyframes[position - 1] if position else None


def decoder_lag(times: list[int], carried: int, keyframes: list[int], slot: int) -> int:
    """How many packets after its own the decoder returns an AVI frame (whose dts it carries): counted for the
    first frame from its keyframe, not from the first frame of the timeline, which damage may have lost; from
    the first where no keyframe comes before it (leading frames of a cut GOP that decode alone)."""
    own = own_keyframe(keyframes, carried)
    return _position(times, carried, slot) - (_position(times, own, slot) if own is not None else 0)

