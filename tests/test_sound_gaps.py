"""Sound in containers that time it by its samples (AVI, MXF): gaps, sound past the picture, ADPCM blocks."""

from __future__ import annotations

import re
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media import read_packets, read_video_frames, round_trip

BEEPS_S = (0.2, 1.6)  # a 0.1 s beep starts at each, silence between


def _beeps(stream: av.AudioStream, start: int, samples: int) -> av.AudioFrame:
    """Samples ``start`` onwards of a stereo track that is silent but for :data:`BEEPS_S`."""
    rate = stream.codec_context.sample_rate
    t = (start + np.arange(samples)) / rate
    on = sum(((t >= beep) & (t < beep + 0.1)) for beep in BEEPS_S)
    wave = np.stack([0.5 * np.sin(2 * np.pi * 440 * t) * on] * 2)
    fmt = stream.codec_context.format
    data = (wave * 32767).astype(np.int16) if fmt.name.startswith("s16") else wave.astype(np.float32)
    if not fmt.is_planar:
        data = data.T.reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(data, format=fmt.name, layout="stereo")
    frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
    return frame


def _clip(path: Path, audio: str, *, frames: int = 50, sound_s: float = 2.0,
          gap: tuple[float, float] | None = None) -> Path:
    """``frames`` frames at 25 fps with ``audio`` sound at 48 kHz from 0 to ``sound_s``, whose packets
    between ``gap``'s two times are left out (a capture that dropped that sound)."""
    rate = 48000
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        sound = container.add_stream(audio, rate=rate, layout="stereo")
        sound.time_base = Fraction(1, rate)
        step = sound.codec_context.frame_size or 1024
        sample = 0

        def sound_until(seconds: float) -> None:
            nonlocal sample
            while sample < min(seconds, sound_s) * rate:
                if gap is None or not gap[0] * rate <= sample < gap[1] * rate:
                    container.mux(sound.encode(_beeps(sound, sample, step)))
                sample += step

        for index in range(frames):
            picture = av.VideoFrame.from_ndarray(np.full((64, 96, 3), 4 * index % 256, np.uint8), format="rgb24")
            picture.pts = index
            container.mux(video.encode(picture.reformat(format="yuv420p")))
            sound_until((index + 1) / 25)
        container.mux(video.encode(None))
        sound_until(sound_s)
        container.mux(sound.encode(None))
    return path


def _beep_spacing(path: Path) -> float:
    """Seconds from the first beep to the second as the sound plays (sample after sample), as a player
    of a file that times its sound by its samples hears them."""
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    planes = [frame.to_ndarray() if frame.format.is_planar else frame.to_ndarray().reshape(-1, 2).T for frame in frames]
    left = np.abs(np.concatenate([plane[0] for plane in planes]).astype(np.float64))
    loud = np.flatnonzero(left > 0.3 * left.max())
    second = loud[np.argmax(np.diff(loud) > 0.3 * frames[0].sample_rate) + 1]
    return (second - loud[0]) / frames[0].sample_rate


@pytest.mark.parametrize(("ext", "audio", "out"), [("mkv", "pcm_s16le", "avi"), ("mkv", "aac", "avi"),
                                                   ("mp4", "aac", "avi")])
def test_a_gap_in_copied_sound_is_kept_in_avi(tmp_path: Path, ext: str, audio: str, out: str) -> None:
    """A capture that dropped 0.6 s of sound: AVI times sound by its samples, so the copy closed the gap up
    and every sound after it played 0.6 s early. The packets' times are read first; with a gap the sound is
    re-encoded with silence in it."""
    src = _clip(tmp_path / f"gap.{ext}", audio, gap=(0.6, 1.2))
    dst = tmp_path / f"out.{out}"
    with pytest.warns(UserWarning, match=r"would close up the 0\.\d\d s gap in this sound at 0\.6\d s.*with silence in its gaps"):
        round_trip(src, dst)
    assert _beep_spacing(dst) == pytest.approx(BEEPS_S[1] - BEEPS_S[0], abs=0.01)
    assert len(read_video_frames(dst)) == 50


@pytest.mark.parametrize(("ext", "out"), [("ts", "avi"), ("mkv", "mxf")])
def test_a_gap_in_reencoded_sound_is_filled_with_silence(tmp_path: Path, ext: str, out: str) -> None:
    """AAC from MPEG-TS into AVI, and any sound into MXF, is re-encoded and timed by its samples: the decoded
    sound after a gap followed on at once, 0.6 s early."""
    src = _clip(tmp_path / f"gap.{ext}", "aac", gap=(0.6, 1.2))
    dst = tmp_path / f"out.{out}"
    with pytest.warns(UserWarning, match="re-encoding it as"):
        round_trip(src, dst)
    assert _beep_spacing(dst) == pytest.approx(BEEPS_S[1] - BEEPS_S[0], abs=0.01)


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_sound_without_gaps_is_still_copied_into_avi(tmp_path: Path, ext: str) -> None:
    """Matroska's millisecond times round each AAC packet's (21.33 ms): that jitter is no gap."""
    src = _clip(tmp_path / f"whole.{ext}", "aac", frames=125, sound_s=5.0)
    dst = tmp_path / "out.avi"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        round_trip(src, dst)
    assert [data for _, _, data in read_packets(dst)] == [data for _, _, data in read_packets(src)]


@pytest.mark.parametrize(("ext", "audio"), [("mov", "pcm_s16le"), ("mkv", "aac")])
def test_mxf_shows_the_last_picture_until_the_sound_ends(tmp_path: Path, ext: str, audio: str) -> None:
    """FFmpeg's MXF muxer writes only whole edit units (a picture and its sound): 1 s of sound after a 1 s
    picture was cut at the picture's end, silently. The last picture is now shown until the sound ends, as
    a player shows it for the other containers."""
    src = _clip(tmp_path / f"long.{ext}", audio, frames=25, sound_s=2.0)
    dst = tmp_path / "out.mxf"
    with pytest.warns(UserWarning) as caught:
        round_trip(src, dst)
    assert any(re.search(r"showing the last picture 1\.0\d s longer, until the end of the sound", str(warning.message))
               for warning in caught)
    frames = read_video_frames(dst)
    with av.open(str(dst)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
    assert samples / 48000 >= 2.0
    assert len(frames) == 51  # 25 pictures and 26 repeats of the last, to 2.04 s
    last = frames[24][2].astype(np.int16)
    assert all(np.abs(y - last).mean() < 1 for _, _, y in frames[25:])  # the last picture, not another
    assert _beep_spacing(dst) == pytest.approx(BEEPS_S[1] - BEEPS_S[0], abs=0.01)


def _adpcm_avi(path: Path, codec: str, rate: int, layout: str, block: int) -> Path:
    """One second of MPEG-4 video at 25 fps with ``codec`` sound in blocks of ``block`` bytes, in AVI."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=25)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        sound = container.add_stream(codec, rate=rate, layout=layout)
        sound.options = {"block_size": str(block)}
        channels = av.AudioLayout(layout).nb_channels
        sample = 0
        for index in range(25):
            picture = av.VideoFrame(96, 64, "yuv420p")
            picture.pts = index
            container.mux(video.encode(picture))
            while sample < (index + 1) / 25 * rate:
                count = sound.codec_context.frame_size
                wave = (8000 * np.sin(2 * np.pi * 440 * (sample + np.arange(count)) / rate)).astype(np.int16)
                frame = av.AudioFrame.from_ndarray(np.repeat(wave, channels)[None], format="s16", layout=layout)
                frame.sample_rate, frame.pts = rate, sample
                container.mux(sound.encode(frame))
                sample += count
        container.mux(video.encode(None))
        container.mux(sound.encode(None))
    return path


@pytest.mark.parametrize(("codec", "rate", "layout", "block"), [
    ("adpcm_ms", 44100, "mono", 512), ("adpcm_ms", 11025, "stereo", 256), ("adpcm_ms", 44100, "mono", 1024),
    ("adpcm_ima_wav", 48000, "stereo", 512), ("adpcm_ima_wav", 22050, "mono", 1024)])
def test_adpcm_is_copied_into_avi_in_time(tmp_path: Path, codec: str, rate: int, layout: str, block: int) -> None:
    """AVI gave copied ADPCM a block time from the bit rate the source states, which leaves out the blocks'
    headers (1,024 samples a block where there are 1,012): with blocks shorter than that the times fell back
    onto each other ('Invalid argument' at the muxer), with longer ones the sound drifted (0.3 % late)."""
    src = _adpcm_avi(tmp_path / "in.avi", codec, rate, layout, block)
    dst = tmp_path / "out.avi"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        round_trip(src, dst)
    assert [data for _, _, data in read_packets(dst)] == [data for _, _, data in read_packets(src)]
    with av.open(str(dst)) as container:
        frames = list(container.decode(audio=0))
    before_last = sum(frame.samples for frame in frames[:-1]) / rate
    assert float(frames[-1].time) == pytest.approx(before_last, abs=0.001)


@pytest.mark.parametrize("audio", ["aac", "ac3"])
def test_aac_and_ac3_from_an_avi_keep_their_times_in_an_avi(tmp_path: Path, audio: str) -> None:
    """Copied AVI -> AVI, AAC and AC-3 (an Xvid + AC-3 archive) kept the source's block size, which FFmpeg's AVI
    muxer writes as a fixed sample size: every packet read back at 0, a second round failed at the muxer."""
    src = _clip(tmp_path / "src.avi", audio, frames=50, sound_s=2.0)
    dst = tmp_path / "out.avi"
    with pytest.warns(UserWarning) as caught:
        round_trip(src, dst)
    assert any("would lose the timing" in str(warning.message) for warning in caught)
    with av.open(str(dst)) as container:
        times = [packet.pts for packet in container.demux(container.streams.audio[0]) if packet.size]
    assert times == sorted(set(times)) and len(times) > 10
    assert _beep_spacing(dst) == pytest.approx(BEEPS_S[1] - BEEPS_S[0], abs=0.01)
    with pytest.warns(UserWarning, match="would lose the timing"):
        round_trip(dst, tmp_path / "again.avi")  # failed: "Invalid argument"


@pytest.mark.parametrize(("ext", "out"), [("mkv", "mov"), ("mkv", "mp4"), ("nut", "mov"), ("mkv", "avi")])
def test_a_gap_in_pcm_sound_is_kept_as_pcm(tmp_path: Path, ext: str, out: str) -> None:
    """MP4 and QuickTime time PCM by its samples (one sample-table entry per sample), as AVI times all sound:
    PCM from a capture that dropped 0.6 s of sound was copied with the gap closed up, silently, and all the
    sound after it played 0.6 s early. It is re-encoded as the same PCM, lossless, with silence in the gap."""
    src = _clip(tmp_path / f"gap.{ext}", "pcm_s16le", gap=(0.6, 1.2))
    dst = tmp_path / f"out.{out}"
    with pytest.warns(UserWarning, match=r"would close up the 0\.\d\d s gap in this sound at 0\.\d\d s.*"
                                         r"re-encoding it as pcm_s16le with silence in its gaps"):
        round_trip(src, dst)
    assert _beep_spacing(dst) == pytest.approx(BEEPS_S[1] - BEEPS_S[0], abs=0.01)
    with av.open(str(dst)) as container:
        assert container.streams.audio[0].codec_context.name == "pcm_s16le"
    assert len(read_video_frames(dst)) == 50


@pytest.mark.parametrize(("ext", "out"), [("mov", "mov"), ("mov", "mp4"), ("mkv", "mov")])
def test_pcm_without_gaps_is_still_copied_into_mov_and_mp4(tmp_path: Path, ext: str, out: str) -> None:
    """Whole PCM (a QuickTime capture's, which is timed by its samples already) is copied byte for byte."""
    src = _clip(tmp_path / f"whole.{ext}", "pcm_s16le")
    dst = tmp_path / f"out.{out}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        round_trip(src, dst)
    assert [data for _, _, data in read_packets(dst)] == [data for _, _, data in read_packets(src)]
