"""How the source's sound and subtitles are routed into the output: what a copy keeps (hidden packets, short gaps),
what re-encoding keeps (the channels of trimmed sound) and how overlapping subtitles keep each line's style."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media import (make_camera_clip, make_clip_with_sound, read_packets, round_trip, round_trip_warnings,
                   with_stream_tags)
from test_sound_gaps import _adpcm_avi
from test_subtitles import ASS_HEADER, OVERLAPPING, _with_subtitles

RATE = 48000


def _left_tone(stream: av.AudioStream, start: int, samples: int) -> av.AudioFrame:
    """Samples ``start`` onwards of stereo sound: a 440 Hz tone on the left channel, silence on the right."""
    rate = stream.codec_context.sample_rate
    t = (start + np.arange(samples)) / rate
    wave = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), np.zeros(samples)])
    fmt = stream.codec_context.format
    data = (wave * 32767).astype(np.int16) if fmt.name.startswith("s16") else wave.astype(np.float32)
    if not fmt.is_planar:
        data = data.T.reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=fmt.name, layout="stereo")
    frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
    return frame


def _beep(stream: av.AudioStream, start: int, samples: int) -> av.AudioFrame:
    """Samples ``start`` onwards of a stereo track that is silent but for 0.1 s beeps at 0.2 s and 1.6 s."""
    frame = _left_tone(stream, start, samples)
    t = (start + np.arange(samples)) / RATE
    on = ((t >= 0.2) & (t < 0.3)) | ((t >= 1.6) & (t < 1.7))
    data = frame.to_ndarray()
    if frame.format.is_planar:
        data = np.ascontiguousarray(np.stack([data[0] * on, data[0] * on]).astype(data.dtype))
    else:
        left = data.reshape(-1, 2)[:, 0] * on
        data = np.ascontiguousarray(np.stack([left, left], axis=1).reshape(1, -1).astype(data.dtype))
    beep = av.AudioFrame.from_ndarray(data, format=frame.format.name, layout="stereo")
    beep.sample_rate, beep.pts, beep.time_base = RATE, start, Fraction(1, RATE)
    return beep


def _channels(path: Path) -> np.ndarray:
    """The first audio stream decoded, as a (channels, samples) float array."""
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    planes = [frame.to_ndarray() if frame.format.is_planar
              else frame.to_ndarray().reshape(-1, frame.layout.nb_channels).T for frame in frames]
    return np.concatenate(planes, axis=1).astype(np.float64)


@pytest.mark.parametrize("ext", ["mp4", "mov"])
def test_sound_an_mp4_edit_list_hides_is_copied_hidden_into_mp4_and_mov(tmp_path: Path, ext: str) -> None:
    """MP4 and QuickTime hide sound with an edit list as the source did, so every packet of it goes, byte for
    byte, the 0.5 s before the picture still hidden (other outputs leave it out)."""
    src = make_clip_with_sound(tmp_path / "hidden.mp4", "aac", first=-RATE // 2, frames=25, sound=_left_tone)
    with av.open(str(src)) as container:
        hidden = sum(packet.is_discard for packet in container.demux(audio=0) if packet.size)
    assert hidden >= 20  # 0.5 s of 1,024-sample packets at 48 kHz
    dst = tmp_path / f"out.{ext}"
    round_trip(src, dst)
    assert [data for _, _, data in read_packets(dst)] == [data for _, _, data in read_packets(src)]
    with av.open(str(dst)) as container:
        assert sum(packet.is_discard for packet in container.demux(audio=0) if packet.size) == hidden


def test_a_short_gap_in_copied_sound_is_kept_in_avi(tmp_path: Path) -> None:
    """A capture that dropped 85 ms of sound (4 AAC packets): AVI times sound by its samples, so a copy would
    close the gap up and play the sound after it 85 ms early; any gap over 20 ms is filled with silence."""
    src = make_clip_with_sound(tmp_path / "gap.mkv", "aac", first=0, missing=(0.6, 0.7), sound=_beep)
    dst = tmp_path / "out.avi"
    with pytest.warns(UserWarning, match=r"would close up the 0\.0\d s gap in this sound at 0\.6\d s"):
        round_trip(src, dst)
    left = np.abs(_channels(dst)[0])
    loud = np.flatnonzero(left > 0.3 * left.max())
    second = loud[np.argmax(np.diff(loud) > 0.3 * RATE) + 1]
    assert (second - loud[0]) / RATE == pytest.approx(1.6 - 0.2, abs=0.01)


def test_low_rate_pcm_with_a_gap_keeps_its_rate_in_avi(tmp_path: Path) -> None:
    """8 kHz PCM with a gap is re-encoded with silence into AVI at its own 8 kHz: PCM has no encoder priming to
    shorten, so only compressed sound below 44.1 kHz goes up to 48 kHz there."""
    src = make_clip_with_sound(tmp_path / "phone.mkv", "pcm_s16le", rate=8000, step=256, missing=(0.6, 0.9))
    messages = round_trip_warnings(src, tmp_path / "out.avi")
    assert any("gap" in message and "pcm_s16le" in message for message in messages), messages
    assert not any("Hz sound at" in message for message in messages), messages
    with av.open(str(tmp_path / "out.avi")) as container:
        sound = container.streams.audio[0]
        assert (sound.codec_context.name, sound.sample_rate) == ("pcm_s16le", 8000)
        samples = sum(frame.samples for frame in container.decode(sound))
    assert abs(samples - 2 * 8000) <= 256  # the whole 2 s, the gap filled with silence


def test_stereo_sound_trimmed_before_the_picture_keeps_its_channels_in_avi(tmp_path: Path) -> None:
    """Sound from 0, picture from 0.48 s: AVI leaves out the 23,040 samples before the picture, 63 of them
    from a 999-sample frame (an odd count, which a cut in values rather than samples would split between the
    channels). The tone stays on the left channel, the right one silent."""
    src = make_clip_with_sound(tmp_path / "early.mkv", "pcm_s16le", first=0, step=999, first_frame=12,  # pictures from 0.48 s
                               sound=_left_tone)
    dst = tmp_path / "out.avi"
    with pytest.warns(UserWarning, match=r"cannot start sound 0\.48 s before the picture"):
        round_trip(src, dst)
    left, right = _channels(dst)
    assert np.sqrt(np.mean(right**2)) < 0.01 * np.sqrt(np.mean(left**2))


def test_adpcm_copied_into_avi_is_never_timed_longer_than_its_blocks(tmp_path: Path) -> None:
    """512-byte MS ADPCM blocks hold 500 stereo samples: 11.338 ms at 44.1 kHz, 4,096 x 44,100 / 500 =
    361,267.2 bit/s. AVI times each block by bits per block over the bit rate it states, so that rate is rounded
    up (a block time a hair short, never long: longer ones put a block's time back onto the one before it, which
    the muxer refuses after enough blocks), and the sound stays in time (to 3 parts per million here)."""
    src = _adpcm_avi(tmp_path / "in.avi", "adpcm_ms", 44100, "stereo", 512)
    round_trip(src, tmp_path / "out.avi")
    with av.open(str(tmp_path / "out.avi")) as container:
        stream = container.streams.audio[0]
        times = [packet.pts * stream.time_base for packet in container.demux(stream) if packet.size]
    block = (times[-1] - times[0]) / (len(times) - 1)  # each packet holds one block
    assert Fraction(500, 44100) * (1 - Fraction(1, 10**5)) < block <= Fraction(500, 44100)


def test_sound_30_ms_after_the_picture_is_delayed_in_avi(tmp_path: Path) -> None:
    """AVI starts every stream at 0: sound that begins 30 ms after the picture would play 30 ms early, past the
    20 ms that may go unnoticed, so it is re-encoded after 30 ms of silence."""
    src = make_clip_with_sound(tmp_path / "late.mkv", "pcm_s16le", first=1440, sound=_left_tone)  # 30 ms at 48 kHz
    dst = tmp_path / "out.avi"
    with pytest.warns(UserWarning, match=r"cannot start sound 0\.03 s after the picture"):
        round_trip(src, dst)
    left = np.abs(_channels(dst)[0])
    assert np.argmax(left > 0.1 * left.max()) / RATE >= 0.028


def test_sound_swf_cannot_state_goes_to_the_next_rate_up(tmp_path: Path) -> None:
    """SWF states MP3 at 11.025, 22.05 or 44.1 kHz only: 16 kHz sound is re-encoded at 22.05 kHz, the nearest
    rate above it that SWF states, not at the highest."""
    src = make_clip_with_sound(tmp_path / "in.mkv", "aac", first=0, rate=16000, frames=25, sound=_left_tone)
    dst = tmp_path / "out.swf"
    with pytest.warns(UserWarning, match=r"re-encoding it as mp3, 16000 Hz sound at 22050 Hz"):
        round_trip(src, dst)
    with av.open(str(dst)) as container:
        assert container.streams.audio[0].codec_context.sample_rate == 22050


def test_sound_ending_before_a_late_picture_is_padded_in_mxf(tmp_path: Path) -> None:
    """Picture and sound from 0.48 s, the picture to 2 s, the sound to 1.8 s (a QuickTime file, which states
    both lengths): MXF drops the pictures after the
    end of the sound, so the sound, which ends before the picture does, is padded with silence and every
    picture is kept."""
    src = make_clip_with_sound(tmp_path / "short.mov", "pcm_s16le", first=23040, first_frame=12, last=round(1.8 * RATE),
                               sound=_left_tone)
    dst = tmp_path / "out.mxf"
    with pytest.warns(UserWarning, match="padding it with silence"):
        round_trip(src, dst)
    with av.open(str(dst)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 38


def test_statistics_tags_named_for_a_language_are_not_carried_over(tmp_path: Path) -> None:
    """mkvmerge writes a track's statistics with a language suffix ('BPS-eng', 'DURATION-eng'): they describe
    the old file, so they are left out like their plain forms, while the track's title is kept."""
    plain = make_clip_with_sound(tmp_path / "plain.mkv", "aac", first=0, frames=10)
    src = with_stream_tags(plain, tmp_path / "tagged.mkv",
                           {1: {"title": "Commentary", "BPS-eng": "128000", "DURATION-eng": "00:00:00.400000000"}})
    round_trip(src, tmp_path / "out.mkv")
    with av.open(str(tmp_path / "out.mkv")) as container:
        tags = {key.lower(): value for key, value in container.streams.audio[0].metadata.items()}
    assert tags["title"] == "Commentary"
    assert "bps-eng" not in tags and "duration-eng" not in tags


def test_a_track_title_outranks_its_handler_name(tmp_path: Path) -> None:
    """An MP4 track with both a title and a name of its own in its handler keeps its title (the handler's name goes
    only where the track has no title)."""
    plain = make_clip_with_sound(tmp_path / "plain.mkv", "aac", first=0, frames=10)
    src = with_stream_tags(plain, tmp_path / "named.mp4", {1: {"title": "Commentary", "handler_name": "Director's cut"}})
    round_trip(src, tmp_path / "out.mkv")
    with av.open(str(tmp_path / "out.mkv")) as container:
        assert container.streams.audio[0].metadata["title"] == "Commentary"


def test_a_matroska_start_timecode_left_out_of_an_avi_is_named(tmp_path: Path) -> None:
    """Matroska holds the start timecode as an upper-case TIMECODE tag; AVI holds none, so it is named."""
    round_trip(make_camera_clip(tmp_path / "camera.mov", timecode="10:00:00:00"), tmp_path / "camera.mkv")
    with av.open(str(tmp_path / "camera.mkv")) as container:
        assert container.streams.video[0].metadata["TIMECODE"] == "10:00:00:00"
    messages = round_trip_warnings(tmp_path / "camera.mkv", tmp_path / "out.avi")
    assert any("start timecode 10:00:00:00" in message for message in messages), messages


def _bold_characters(sample: bytes) -> set[int]:
    """The characters a mov_text sample (3GPP TS 26.245: text length, text, then boxes) shows bold, from its
    'styl' box: records of start char, end char, font id, face flags (bit 0: bold), size and colour."""
    length = struct.unpack(">H", sample[:2])[0]
    offset, bold = 2 + length, set()
    while offset + 8 <= len(sample):
        size, kind = struct.unpack(">I4s", sample[offset:offset + 8])
        if kind == b"styl":
            (count,) = struct.unpack(">H", sample[offset + 8:offset + 10])
            for record in range(count):
                start, end, _, face = struct.unpack(">HHHB", sample[offset + 10 + 12 * record:offset + 17 + 12 * record])
                if face & 1:
                    bold |= set(range(start, end))
        offset += size
    return bold


def test_overlapping_lines_in_mov_text_each_keep_their_own_style(tmp_path: Path) -> None:
    """Where a bold sign and a plain dialogue line are on screen together, mov_text shows them in one sample:
    the sign's text is bold, the dialogue line under it is not (it keeps its own style)."""
    src = _with_subtitles(tmp_path / "signs.mkv", "ass", OVERLAPPING, header=ASS_HEADER)
    round_trip_warnings(src, tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as container:
        samples = [bytes(packet) for packet in container.demux(subtitles=0) if packet.size > 2]
    together = next(sample for sample in samples if b"Road closed\nPlain line" in sample)
    text = together[2:2 + struct.unpack(">H", together[:2])[0]].decode()
    sign, line = text.index("Road closed"), text.index("Plain line")
    assert set(range(sign, sign + len("Road closed"))) <= _bold_characters(together)
    assert not _bold_characters(together) & set(range(line, line + len("Plain line")))
