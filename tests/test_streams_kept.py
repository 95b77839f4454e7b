"""What of a source besides picture and sound reaches the output: captions, data tracks, track names,
attached files; and what cannot is named in a warning instead of lost without a word."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest
from media import make_camera_clip, make_video, round_trip, round_trip_warnings, with_stream_tags


def _caption_sei() -> bytes:
    """An H.264 SEI NAL unit (user data registered by ITU-T T.35) carrying ATSC A/53 caption data: one
    CEA-608 pair, as a broadcast capture has in every frame."""
    cc_data = bytes([0x40 | 1, 0xFF, 0xFC, 0x94, 0x2C, 0xFF])  # process_cc_data, one triplet, marker bits
    payload = b"\xb5\x00\x31GA94\x03" + cc_data  # country (USA), provider (ATSC), 'GA94', cc_data type
    return b"\x06\x04" + bytes([len(payload)]) + payload + b"\x80"


def _with_captions(src: Path, dst: Path) -> Path:
    """``src`` (H.264) remuxed with caption data in every video packet, length-prefixed (MP4, Matroska)
    or with a start code (MPEG-TS), as the container stores its NAL units."""
    with av.open(str(src)) as source, av.open(str(dst), "w") as target:
        streams = {stream.index: target.add_stream_from_template(stream) for stream in source.streams}
        annex_b = (source.streams.video[0].codec_context.extradata or b"\x00")[:1] != b"\x01"
        nal = _caption_sei()
        prefix = b"\x00\x00\x00\x01" + nal if annex_b else len(nal).to_bytes(4, "big") + nal
        for packet in source.demux():
            if not packet.size:
                continue
            if packet.stream.type == "video":
                captioned = av.Packet(prefix + bytes(packet))
                captioned.pts, captioned.dts, captioned.duration = packet.pts, packet.dts, packet.duration
                captioned.time_base, captioned.is_keyframe = packet.time_base, packet.is_keyframe
                captioned.stream = streams[packet.stream.index]
                target.mux(captioned)
            else:
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
    return dst


@pytest.mark.parametrize("ext", ["mkv", "ts"])
def test_closed_captions_lost_in_re_encoding_are_named(tmp_path: Path, ext: str) -> None:
    """CEA-608 captions inside the H.264 stream (broadcast captures) went with the old video stream
    without a word: the new one is encoded from pictures alone."""
    src = _with_captions(make_video(tmp_path / f"plain.{ext}", size=(64, 48), frames=8, audio="aac"),
                         tmp_path / f"captioned.{ext}")
    with av.open(str(src)) as container:  # FFmpeg reads them as captions
        assert all(av.sidedata.sidedata.Type.A53_CC in frame.side_data for frame in container.decode(video=0))
    messages = round_trip_warnings(src, tmp_path / "out.mp4")
    assert any("closed captions" in message for message in messages), messages
    assert len(list(av.open(str(tmp_path / "out.mp4")).decode(video=0))) == 8


def test_no_caption_warning_without_captions(tmp_path: Path) -> None:
    src = make_video(tmp_path / "plain.mkv", size=(64, 48), frames=8, audio="aac")
    assert not any("closed captions" in message for message in round_trip_warnings(src, tmp_path / "out.mp4"))


def _with_data_track(path: Path) -> Path:
    """An MP4 with a timed data track: FFmpeg writes it as GoPro telemetry ('gpmd', handler 'GoPro MET')."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        data = container.add_data_stream("bin_data")
        for index in range(5):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = index
            container.mux(video.encode(frame))
            packet = av.Packet(b"DEVC\x00\x01GPS5")
            packet.stream, packet.pts, packet.dts, packet.time_base = data, index, index, Fraction(1, 25)
            container.mux(packet)
        container.mux(video.encode(None))
    return path


def test_data_tracks_left_out_are_named(tmp_path: Path) -> None:
    """A camera's telemetry track (GoPro GPS and gyro) was dropped without a word."""
    src = _with_data_track(tmp_path / "gopro.mp4")
    with av.open(str(src)) as container:
        assert [stream.metadata.get("handler_name") for stream in container.streams.data] == ["GoPro MET"]
    messages = round_trip_warnings(src, tmp_path / "out.mp4")
    assert any("leaving out" in message and "data track 1 ('GoPro MET')" in message for message in messages), messages


@pytest.mark.parametrize("kind", ["timecode", "chapter"])
def test_timecode_and_chapter_tracks_are_not_called_left_out(tmp_path: Path, kind: str) -> None:
    """A camera's timecode track comes back (as the video's timecode) and an MP4's chapter track as its
    chapters: neither is named as left out."""
    src = make_camera_clip(tmp_path / "camera.mp4", **{kind: "10:00:00:00" if kind == "timecode" else "Arrival"})
    with av.open(str(src)) as container:
        assert len(container.streams.data) == 1
    messages = round_trip_warnings(src, tmp_path / "out.mp4")
    assert not any("data track" in message for message in messages), messages


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_track_names_held_in_mp4_handlers_are_kept(tmp_path: Path, ext: str) -> None:
    """An audio track named 'Director's commentary' in its MP4 handler came out unnamed; generic
    handler names (FFmpeg's 'SoundHandler') do not become track titles."""
    plain = make_video(tmp_path / "plain.mp4", size=(64, 48), frames=6, audio="aac")
    src = with_stream_tags(plain, tmp_path / "named.mp4", {1: {"handler_name": "Director's commentary"}})
    dst = tmp_path / f"out.{ext}"
    round_trip(src, dst)
    with av.open(str(dst)) as container:
        audio = container.streams.audio[0].metadata
        title = audio.get("title", audio.get("name"))
        assert title == "Director's commentary"
        if ext == "mp4":
            assert audio["handler_name"] == "Director's commentary"
    round_trip(plain, tmp_path / f"plain_out.{ext}")
    with av.open(str(tmp_path / f"plain_out.{ext}")) as container:
        assert not {"title", "name"} & set(container.streams.audio[0].metadata)


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_a_camera_handler_naming_its_codec_is_not_a_track_title(tmp_path: Path, ext: str) -> None:
    """A camera names every sound track by its codec ('GoPro AAC'): that is no title, and comes back as none."""
    plain = make_video(tmp_path / "plain.mp4", size=(64, 48), frames=6, audio="aac")
    src = with_stream_tags(plain, tmp_path / "camera.mp4", {1: {"handler_name": "GoPro AAC"}})
    dst = tmp_path / f"out.{ext}"
    round_trip(src, dst)
    with av.open(str(dst)) as container:
        assert not {"title", "name"} & set(container.streams.audio[0].metadata)


def _with_font(path: Path) -> Path:
    """A Matroska clip with a font attached (as for styled ASS subtitles)."""
    plain = make_video(path.with_name("plain.mkv"), size=(64, 48), frames=5, audio="aac")
    with av.open(str(plain)) as source, av.open(str(path), "w") as target:
        streams = {stream.index: target.add_stream_from_template(stream) for stream in source.streams}
        target.add_attachment("Caption Sans.ttf", "font/ttf", b"\x00\x01\x00\x00 font tables")
        for packet in source.demux():
            if packet.size:
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
    return path


def test_attached_fonts_are_kept_in_matroska(tmp_path: Path) -> None:
    """Fonts attached for styled subtitles were left out of a Matroska output, which can hold them, so
    the copied subtitles were drawn in another font."""
    src = _with_font(tmp_path / "styled.mkv")
    messages = round_trip_warnings(src, tmp_path / "out.mkv")
    assert not any("attachment" in message for message in messages), messages
    with av.open(str(tmp_path / "out.mkv")) as container:
        kept = [(stream.metadata.get("filename"), stream.mimetype, stream.data) for stream in container.streams.attachments]
    assert kept == [("Caption Sans.ttf", "font/ttf", b"\x00\x01\x00\x00 font tables")]
    assert any("the attachment 'Caption Sans.ttf'" in message for message in round_trip_warnings(src, tmp_path / "out.mp4"))


@pytest.mark.parametrize(("language", "stored"), [("fre", "fra"), ("deu", "ger"), ("eng", "eng"), ("fra", "fra")])
def test_a_track_language_quicktime_knows_in_its_other_form_is_kept_in_mov(tmp_path: Path, language: str,
                                                                           stored: str) -> None:
    """FFmpeg's QuickTime muxer knows one ISO 639-2 code of each pair and dropped a French 'fre' or German
    'deu' track's language without a word (MP4 and Matroska take either)."""
    plain = make_video(tmp_path / "plain.mkv", size=(64, 48), frames=4, audio="aac")
    src = with_stream_tags(plain, tmp_path / "tagged.mkv", {1: {"language": language}})
    for ext, expected in (("mov", stored), ("mkv", language)):
        round_trip(src, tmp_path / f"out.{ext}")
        with av.open(str(tmp_path / f"out.{ext}")) as container:
            assert container.streams.audio[0].metadata.get("language") == expected, ext
