"""Sound in every output container: copied, or re-encoded where the container cannot take it as it is."""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media import read_packets, round_trip

FPS = 25


def _tone(layout: str, sample_format: str, rate: int, start: int, samples: int) -> av.AudioFrame:
    """Samples ``start`` onwards of a tone on every channel of ``layout``, made packed and converted by FFmpeg
    (PyAV's planes are wrong from 8 planar channels on)."""
    channels = av.AudioLayout(layout).nb_channels
    t = (start + np.arange(samples)) / rate
    wave = np.stack([0.3 * np.sin(2 * np.pi * (300 + 110 * channel) * t) for channel in range(channels)])
    packed = av.AudioFormat(sample_format).packed.name
    scale = {"s16": (32767, np.int16), "s32": (2147483647, np.int32)}.get(packed, (1, np.float32))
    data = (wave * scale[0]).astype(scale[1])
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data.T.reshape(1, -1)), format=packed, layout=layout)
    frame.sample_rate = rate
    if packed != sample_format:
        (frame,) = av.AudioResampler(format=sample_format, layout=layout, rate=rate).resample(frame)
    frame.pts, frame.time_base = start, Fraction(1, rate)
    return frame


def _clip(path: Path, audio: str, *, rate: int = 48000, layout: str = "stereo", frames: int = 25,
          sound_start: float = 0.0, sound_s: float = 1.0, vcodec: str = "libx264") -> Path:
    """``frames`` frames at 25 fps and ``sound_s`` seconds of ``audio`` sound starting ``sound_start`` seconds
    after the first frame."""
    with av.open(str(path), "w") as container:
        video = container.add_stream(vcodec, rate=FPS)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream(audio, rate=rate, layout=layout)
        sound.time_base = Fraction(1, rate)
        step = sound.codec_context.frame_size or 1024
        offset = round(sound_start * rate)
        sample = 0

        def sound_until(seconds: float) -> None:
            nonlocal sample
            while sample < min(seconds - sound_start, sound_s) * rate:
                frame = _tone(layout, sound.codec_context.format.name, rate, sample, step)
                frame.pts = offset + sample
                container.mux(sound.encode(frame))
                sample += step

        for index in range(frames):
            picture = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 9 * index % 256, np.uint8), format="rgb24")
            picture.pts = index
            container.mux(video.encode(picture.reformat(format="yuv420p")))
            sound_until((index + 1) / FPS)
        container.mux(video.encode(None))
        sound_until(sound_start + sound_s)
        container.mux(sound.encode(None))
    return path


def _sound(path: Path) -> tuple[int, int, float, float]:
    """Channels, sample rate, and where (seconds after the first picture) the tone starts and ends as the
    sound plays sample after sample from its first frame's time."""
    with av.open(str(path)) as container:
        picture = next(container.decode(video=0)).time
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    first = frames[0]
    converter = av.AudioResampler(format="flt", layout=first.layout.name, rate=first.sample_rate)
    channels = first.layout.nb_channels
    values = np.concatenate([packed.to_ndarray().reshape(-1, channels)
                             for frame in frames for packed in converter.resample(frame)])
    loud = np.flatnonzero(np.abs(values).max(axis=1) > 0.05)
    start = first.time - picture
    return channels, first.sample_rate, start + loud[0] / first.sample_rate, start + (loud[-1] + 1) / first.sample_rate


@pytest.mark.parametrize("out", ["avi", "mxf"])
def test_late_7_1_sound_is_delayed_with_silence_in_avi_and_mxf(tmp_path: Path, out: str) -> None:
    """7.1 sound starting after the picture, into AVI or MXF (which start every stream at 0), gets silence
    before it: PyAV lists one plane too many for 8 planar channels, and filling that silence crashed the
    process (a segmentation fault, no message, the temporary file left behind)."""
    src = _clip(tmp_path / "in.mkv", "aac", layout="7.1", sound_start=0.3, sound_s=0.7)
    dst = tmp_path / f"out.{out}"
    with pytest.warns(UserWarning, match=r"cannot start sound 0\.30 s after the picture"):
        round_trip(src, dst)
    channels, _, start, end = _sound(dst)
    assert channels == 8
    assert start == pytest.approx(0.3, abs=0.03)  # the AAC encoder's priming (21 ms) aside
    assert end - start == pytest.approx(0.7, abs=0.03)


def test_swf_gets_its_mp3_at_a_rate_it_can_state(tmp_path: Path) -> None:
    """SWF states MP3 at 11.025, 22.05 or 44.1 kHz only: 48 kHz sound re-encoded as MP3 made the muxer refuse
    the file, and the message blamed the video ('cannot be set up for flv video (Operation not permitted)')."""
    src = _clip(tmp_path / "in.mp4", "aac")
    dst = tmp_path / "out.swf"
    with pytest.warns(UserWarning, match=r"re-encoding it as mp3, 48000 Hz sound at 44100 Hz"):
        round_trip(src, dst)
    channels, rate, start, end = _sound(dst)
    assert (channels, rate) == (2, 44100)
    assert end - start == pytest.approx(1.0, abs=0.05)  # SWF streams sound with the frames: the last 32 ms go


@pytest.mark.parametrize("rate", [8000, 16000])
def test_pcm_at_a_rate_flv_cannot_state_is_re_encoded_not_slowed(tmp_path: Path, rate: int) -> None:
    """FLV states PCM at 11.025, 22.05 or 44.1 kHz only, and wrote a copy of 8 or 16 kHz PCM as 5,512 Hz: one
    second of sound played for 1.45 s (or 2.9 s), ever later than the picture. It is re-encoded as AAC, which
    states its own rate."""
    src = _clip(tmp_path / "in.mkv", "pcm_s16le", rate=rate, layout="mono")
    dst = tmp_path / "out.flv"
    with pytest.warns(UserWarning, match=rf"flv cannot state the {rate} Hz of this pcm_s16le sound; re-encoding it as aac"):
        round_trip(src, dst)
    channels, out_rate, start, end = _sound(dst)
    assert (channels, out_rate) == (1, rate)
    assert end - start == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize(("audio", "rate"), [("pcm_s16le", 44100), ("libmp3lame", 22050), ("libmp3lame", 48000)])
def test_sound_flv_can_state_is_still_copied(tmp_path: Path, audio: str, rate: int) -> None:
    """PCM and MP3 at the rates FLV states (MP3 at 48 kHz too) are copied packet for packet."""
    src = _clip(tmp_path / "in.mkv", audio, rate=rate)
    dst = tmp_path / "out.flv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        round_trip(src, dst)
    assert [data for _, _, data in read_packets(dst)] == [data for _, _, data in read_packets(src)]


@pytest.mark.parametrize(("audio", "ext"), [("aac", "mp4"), ("flac", "mkv"), ("mp2", "mpg")])
def test_sound_starting_late_keeps_its_time_as_flac_in_ogg(tmp_path: Path, audio: str, ext: str) -> None:
    """FFmpeg reads FLAC in Ogg from 0 s whatever start the file states, while the picture keeps its time: sound
    re-encoded as FLAC (Ogg's default) or copied as FLAC played early by its start, 0.5 s here, and by the
    whole start of an MPEG-PS or -TS source (which starts later than 0), out of step for the whole film. It
    is re-encoded as FLAC after that much silence."""
    vcodec = "mpeg1video" if ext == "mpg" else "libx264"
    src = _clip(tmp_path / f"in.{ext}", audio, rate=44100, sound_start=0.5, sound_s=0.5, vcodec=vcodec)
    dst = tmp_path / "out.ogv"
    with pytest.warns(UserWarning, match=r"plays FLAC from 0 s, so this sound starting at \d\.\d\d s would play "
                                         r"early; re-encoding it as flac after that much silence"):
        round_trip(src, dst)
    source_start, source_end = _sound(src)[2:]
    _, rate, start, end = _sound(dst)
    assert rate == 44100
    slot = 0.5 / FPS + 0.001  # Ogg puts the picture on frame slots: it may move by up to half a slot
    assert start == pytest.approx(source_start, abs=slot)
    assert end - start == pytest.approx(source_end - source_start, abs=0.005)


def test_flac_starting_with_the_picture_is_still_copied_into_ogg(tmp_path: Path) -> None:
    """FLAC that starts at 0 s, as Ogg reads it, is copied packet for packet."""
    src = _clip(tmp_path / "in.mkv", "flac", rate=44100)
    dst = tmp_path / "out.ogv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        round_trip(src, dst)
    assert [data for _, _, data in read_packets(dst)] == [data for _, _, data in read_packets(src)]


@pytest.mark.parametrize(("rate", "out"), [(8000, "mkv"), (8000, "ts"), (22050, "mkv")])
def test_aac_priming_is_kept_at_low_rates_out_of_an_mp4(tmp_path: Path, rate: int, out: str) -> None:
    """An MP4 hides AAC's priming packet (1,024 samples) with its edit list; copied elsewhere, only hidden
    packets up to 45 ms before the first shown one were kept, shorter than one packet at 22.05 kHz or less
    (46 ms; 128 ms at 8 kHz), so the decoder lost its priming and the sound faded in late (58 ms at 8 kHz)."""
    src = _clip(tmp_path / "in.mp4", "aac", rate=rate, layout="mono")
    dst = tmp_path / f"out.{out}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        round_trip(src, dst)
    source_start, source_end = _sound(src)[2:]
    start, end = _sound(dst)[2:]
    assert start == pytest.approx(source_start, abs=0.002)
    assert end == pytest.approx(source_end, abs=0.002)


@pytest.mark.parametrize(("audio", "out"), [("ac3", "3gp"), ("libmp3lame", "3gp"), ("ac3", "webm")])
def test_sound_re_encoded_out_of_an_avi_keeps_rising_times(tmp_path: Path, audio: str, out: str) -> None:
    """An AVI times its AC-3 or MP3 by one tick a frame (1,536 or 1,152 samples); the resampler cut them into
    the new encoder's smaller frames and gave two of them the same time, so re-encoding into a container that
    cannot take the codec (.3gp, .webm) failed: 'non monotonically increasing dts'."""
    src = _clip(tmp_path / "in.avi", audio, rate=44100, vcodec="mpeg4")
    dst = tmp_path / f"out.{out}"
    with pytest.warns(UserWarning, match=rf"cannot hold {'mp3' if audio == 'libmp3lame' else audio} audio; re-encoding"):
        round_trip(src, dst)
    source_start, source_end = _sound(src)[2:]
    start, end = _sound(dst)[2:]
    assert start == pytest.approx(source_start, abs=0.002)
    assert end - start == pytest.approx(source_end - source_start, abs=0.002)
