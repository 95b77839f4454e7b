"""The frames one decoding pass loses to damage (refused packets, packets that give no frame), and the
warning that lists them."""

from __future__ import annotations

import bisect
from fractions import Fraction
from pathlib import Path

import av

from vidcolor.io.frame_timeline import own_keyframe

_LISTED_TIMES = 5  # damaged frames whose times a warning lists
_STEADY_STEPS, _STEADY_GAPS = 64, 1000  # a stream with more kinds of step between frames, or wide steps, is variable-rate
# how decoders refuse a damaged packet: invalid data; EPERM, the bare -1 of older decoders (DV: a frame cut short);
# EINVAL (raw video: a packet shorter than a frame); an external library's error (PNG: zlib on damaged data)
DAMAGE_ERRORS = (av.error.InvalidDataError, av.error.PermissionError, av.error.ArgumentError, av.error.ExternalError)


class DamagedFrames:
    """The frames one decoding pass loses to damage: packets the decoder refuses (``refused``), and packets it
    takes but returns no frame for (``lost``, their times).

    ``timed``: the container stores each packet's pts, which the decoder gives its frame, so the times of
    packets sent from the first keyframe on that never come back on a frame are the lost ones (earlier times
    are an open GOP's leading frames, which need the GOP before; a packet between an interlaced frame and the
    next is taken as that frame's second field, as in H.264 PAFF, a packet per field). Packets before the
    first keyframe (a recording cut inside a GOP, or a first keyframe so damaged that it is not flagged as
    one) give no frame either: where the decoder refused any before the first frame, those before that frame
    are lost too (they are no frames of the timeline, so the frames after them keep their places). Elsewhere
    (AVI, whose pts are guesses; a bare stream) a refused packet is the lost frame, at its dts: with frame
    threads the decoder refuses a few packets after the damaged one, so that time is a few frames late. There
    the first frame is the one of the latest keyframe at or before the dts it carries (see
    :func:`own_keyframe`): the packets before that keyframe are lost, and where the decoder refused any, the
    packets before the first keyframe too, as for timed packets.

    ``steady``: the frames should come at a steady rate, so that where nine steps in ten between them are the
    shortest one, a step of two or more whole ones holds frames lost with their packets (MPEG-TS: a frame
    whose start code is damaged is merged into the packet before)."""

    def __init__(self, timed: bool = True, steady: bool = False, reorders: bool = True) -> None:
        self.refused = 0
        self.first_error: av.FFmpegError | None = None
        self.lost: list[int] = []
        self._timed = timed
        self._pending: list[int] = []  # sorted pts of packets sent whose frames have not come back
        self._start: int | None = None  # the first keyframe's pts
        self._leading: list[int] = []  # times of the packets sent before the first keyframe
        self._opening: list[tuple[int, bool]] = []  # untimed: (dts, keyframe) of the packets sent before a frame came
        self._keyframe_seen = False
        self._sent = 0  # packets sent from the first keyframe on
        self._returned = 0  # frames returned
        self._finished = False  # the pass reached the end of the file
        self.first: int | None = None  # the time of the first frame returned
        self._latest: int | None = None  # the pts of the latest frame returned
        self._order: dict[int, int] = {}  # timed: the number (in sending order) of the packet sent at each pts
        self._latest_order: int | None = None  # the number of the latest frame's packet
        self._field_follows = False  # the latest frame was interlaced: its second field may have a packet
        self._unplaced = 0  # frames lost since the latest frame returned, by refusal
        self._steady = steady
        self._reorders = reorders  # the decoder may return frames out of decoding order (B-frames)
        self._spacing: int | None = None  # the shortest step between consecutive frames
        self._steps: dict[int, int] = {}  # how often each step occurs
        self._wide_steps: list[tuple[int, int]] = []  # (time, step) of the steps that may hold lost frames

    @property
    def count(self) -> int:
        """How many frames were lost: at least one per refused packet, and once the pass ended, where the decoder
        refused any, at least as many as it returned fewer frames than it took packets (a refused flush leaves
        frames in it; before the end, frames still being decoded are no loss)."""
        short = self._sent - self._returned if self.refused and self._finished else 0
        return max(self.refused, len(self.lost), short)

    def sent(self, packet: av.Packet) -> None:
        """Note a video packet given to the decoder."""
        self._keyframe_seen = self._keyframe_seen or packet.is_keyframe
        if packet.is_discard:
            return
        time = packet.pts if self._timed else packet.dts
        if not self._keyframe_seen:
            if time is not None:
                self._leading.append(time)
            return
        self._sent += 1
        if not self._timed and not self._returned and time is not None:
            self._opening.append((time, packet.is_keyframe))
        if not self._timed or packet.pts is None:
            return
        if self._start is None:
            self._start = packet.pts
        if packet.pts >= self._start:
            bisect.insort(self._pending, packet.pts)
            self._order[packet.pts] = self._sent

    def refuse(self, packet: av.Packet | None, error: av.FFmpegError) -> None:
        """Note a packet the decoder refused; where its time does not find it (before the first keyframe once
        a frame came, or not timed), it is the lost frame. None: the flush, which leaves the frames still in the
        decoder lost (their times find them)."""
        self.refused += 1
        self.first_error = self.first_error or error
        if packet is None:
            return
        timed = self._timed and packet.pts is not None
        if timed and (self.first is None or (self._start is not None and packet.pts >= self._start)):
            return  # found by the times of the frames that come back (see returned)
        time = packet.pts if timed else packet.dts if packet.dts is not None else packet.pts
        if time is not None:
            self.lost.append(time)
        if not timed:
            self._unplaced += 1  # a frame of the timeline: the frames after it keep their places

    def returned(self, frame: av.VideoFrame) -> int | None:
        """Note a decoded frame; returns how many frames were lost since the one before (so that the frames
        after them keep their places), or None for a frame that comes back after its place has passed: damage
        upset the decoder's reordering, and a frame whose packet came later was returned first, which counted
        this one lost. It is left out, as lost (it would show out of order, and number the frames after it one
        too high)."""
        lost, self._unplaced = self._unplaced, 0
        self._returned += 1
        pts = frame.pts
        if self.first is None:
            lost = self._open(frame, lost)
        if not self._timed or pts is None:
            return lost
        if self._latest is not None and pts < self._latest and pts in self.lost:
            order, latest_order = self._order.get(pts), self._latest_order
            if order is not None and latest_order is not None and order < latest_order:
                del self._order[pts]
                return None
            self.lost.remove(pts)  # its packet came after the latest frame's (damaged times): it was not lost
        before = bisect.bisect_left(self._pending, pts)
        own = before < len(self._pending) and self._pending[before] == pts
        order = self._order.pop(pts, None) if own else None
        earlier = self._pending[:before]
        # a decoder that returns frames in decoding order has not reached the packets sent after this frame's,
        # whatever their times (a damaged source's times going back)
        waiting = [] if self._reorders or order is None else [
            time for time in earlier if self._order.get(time, -1) > order]
        self._pending[:before + own] = waiting
        lost += self._lose([time for time in earlier if time not in waiting])
        self._field_follows = frame.interlaced_frame
        if self._steady:
            self._step_to(pts)
        if self._latest is None or pts >= self._latest:
            self._latest, self._latest_order = pts, order
        return lost

    def finish(self) -> None:
        """Note the end of the pass: the packets still waiting gave no frame, and the wide steps hold lost ones."""
        self._finished = True
        self._lose(self._pending)
        self._pending = []
        self.lost.extend(self._lost_in_steps())
        self.lost.sort()

    def warning(self, path: Path, start: int, time_base: Fraction) -> str:
        """The warning for ``path`` of the frames lost, with their times in seconds from ``start`` (the
        stream's start time, in its ``time_base``)."""
        times = [f"{float((pts - start) * time_base):.2f} s" for pts in sorted(self.lost)[:_LISTED_TIMES]]
        if len(self.lost) > _LISTED_TIMES:
            times.append("...")
        where = f" (at {', '.join(times)})" if times else ""
        count = "1 damaged video frame" if self.count == 1 else f"{self.count} damaged video frames"
        first = self.first
        opening = ""
        if first is not None and any(pts < first for pts in self.lost):
            opening = (f"; the video starts with its first decodable frame, at "
                       f"{float((first - start) * time_base):.2f} s")
        return f"{path}: {count} could not be decoded{where}; each shows the frame before it instead{opening}"

    def _open(self, frame: av.VideoFrame, unplaced: int) -> int:
        """Note the first frame, which ``unplaced`` refusals came before; returns how many frames of the
        timeline were lost before it."""
        if self._timed:
            self.first = frame.pts
            self._lose_leading(frame.pts)
            return unplaced
        time = frame.dts if frame.dts is not None else frame.pts
        own = own_keyframe([dts for dts, keyframe in self._opening if keyframe], time)
        self.first = time if own is None else own
        if own is None:
            return unplaced  # no times, or a frame before the first keyframe: each refusal is a lost frame
        # the refusals so far were of these packets (the decoder refuses in decode order, at the latest when it
        # would have returned the frame), whatever the dts of the packet they came on
        before = [dts for dts, _ in self._opening if dts < own]
        self.lost = (self._leading if self.refused else []) + before
        self._leading, self._opening = [], []
        return len(before)

    def _lose_leading(self, first: int | None) -> None:
        """At the first frame, timed ``first``: where the decoder refused a packet before it, the packets before
        the first keyframe that come before it gave no frame for damage, not for a cut: they are lost."""
        if self.refused and self._timed and first is not None:
            self.lost += [time for time in self._leading if time < first]
        self._leading = []

    def _lose(self, times: list[int]) -> int:
        lost = times[1:] if self._field_follows else times
        self.lost += lost
        return len(lost)

    def _step_to(self, time: int) -> None:
        """Note the step from the latest frame to one at ``time``, where it may hold lost frames (the first
        steps too: the shortest is not known yet)."""
        last = self._latest
        if last is None or time <= last:
            return
        step = time - last
        if sum(self._steps.values()) < 2 or step >= 1.75 * self._spacing:
            self._wide_steps.append((last, step))
        self._steps[step] = self._steps.get(step, 0) + 1
        self._spacing = step if self._spacing is None else min(self._spacing, step)
        if len(self._steps) > _STEADY_STEPS or len(self._wide_steps) > _STEADY_GAPS:  # variable rate
            self._steady, self._steps, self._wide_steps = False, {}, []

    def _lost_in_steps(self) -> list[int]:
        """The times of the frames missing in steps of two or more whole frames, but for those already lost."""
        spacing, found = self._spacing, []
        if not self._steady or spacing is None:
            return []
        regular = sum(count for step, count in self._steps.items() if abs(step - spacing) <= spacing / 4)
        if regular < 0.9 * sum(self._steps.values()):
            return []
        for start, step in self._wide_steps:
            frames = round(step / spacing)
            if frames >= 2 and abs(step - frames * spacing) <= spacing / 4:
                found += [start + i * spacing for i in range(1, frames)]
        return [time for time in found if all(abs(time - lost) > spacing / 2 for lost in self.lost)]
