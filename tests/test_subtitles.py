"""Subtitles and start timecodes when the output's container differs from the source's: text subtitles
are converted to a text codec the output takes (keeping text, times, language, title and disposition),
bitmap subtitles are copied where the container takes them and named where they are left out, and a
start timecode the output cannot hold is named."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.subtitles.subtitle
import pytest
import torch
from click.testing import CliRunner
from media import make_camera_clip, make_video, round_trip_warnings

from cli import main
from vidcolor.io.containers import takes
from vidcolor.models import create_generator, save_generator

ASS_HEADER = b"""[Script Info]
ScriptType: v4.00+
PlayResX: 384
PlayResY: 288

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, \
Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, \
MarginV, Encoding
Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,1
Style: Sign,Georgia,24,&H00ffff,&Hffffff,&H0,&H0,1,0,0,0,100,100,0,0,1,1,0,8,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
"""
# (style, text, start ms, end ms): two events one after the other, with a line break in the second
EVENTS = [("Default", "Hello world", 100, 400), ("Default", "Second\\Nline", 500, 750)]
# a sign over the dialogue: the second event starts while the first is on screen
OVERLAPPING = [("Sign", "{\\pos(100,50)}Road closed", 200, 600), ("Default", "Plain line", 400, 750)]


def _with_subtitles(path: Path, codec: str, events: list[tuple[str, str, int, int]], *,
                    header: bytes | None = None) -> Path:
    """A 0.8 s grey clip with AAC sound and one subtitle track of ``codec`` holding ``events``, in French,
    titled, default and forced."""
    plain = make_video(path.with_name(f"plain_{path.name}"), size=(64, 48), frames=24, audio="aac")
    with av.open(str(plain)) as source, av.open(str(path), "w") as target:
        streams = {stream.index: target.add_stream_from_template(stream) for stream in source.streams}
        track = target.add_stream(codec)
        decoder = av.CodecContext.create(codec, "r")
        decoder.open()
        track.codec_context.subtitle_header = header or decoder.subtitle_header
        track.codec_context.time_base = Fraction(1, 1000)
        track.metadata.update({"language": "fre", "title": "Français"})
        track.disposition = av.stream.Disposition.default | av.stream.Disposition.forced
        for packet in source.demux():
            if packet.size:
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
        for order, (style, text, start, end) in enumerate(events):
            event = av.subtitles.subtitle.SubtitleSet.create(f"{order},0,{style},,0,0,0,,{text}".encode(), 0, end - start)
            packet = track.codec_context.encode_subtitle(event)
            packet.stream, packet.time_base = track, Fraction(1, 1000)
            packet.pts, packet.dts, packet.duration = start, start, end - start
            target.mux(packet)
    return path


def _events(path: Path) -> list[tuple[str, int, int]]:
    """(text, start ms, end ms) of every non-empty event of the first subtitle track, timed from the video's
    start (a muxer may move every stream by the sound's priming)."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        origin = (video.start_time or 0) * video.time_base
        track = container.streams.subtitles[0]
        out = []
        for packet in container.demux(track):
            texts = [subtitle.ass.decode().split(",", 8)[8] for subtitle in track.decode(packet)] if packet.size else []
            if any(texts):
                start = packet.pts * packet.time_base - origin
                out.append(("".join(texts), round(start * 1000), round((start + packet.duration * packet.time_base) * 1000)))
    return out


def _plain(text: str) -> str:
    """``text`` without ASS override blocks ({\\b1}, {\\r})."""
    while "{" in text and "}" in text:
        text = text[: text.index("{")] + text[text.index("}") + 1:]
    return text


def _track(path: Path) -> tuple[str, dict[str, str], int]:
    with av.open(str(path)) as container:
        track = container.streams.subtitles[0]
        return track.codec_context.codec.canonical_name, dict(track.metadata), track.disposition


@pytest.mark.parametrize(("codec", "source_ext", "ext", "written"), [
    ("subrip", "mkv", "mp4", "mov_text"), ("subrip", "mkv", "webm", "webvtt"),
    ("mov_text", "mp4", "mkv", "subrip"), ("mov_text", "mp4", "webm", "webvtt"), ("webvtt", "mkv", "mov", "mov_text"),
])
def test_text_subtitles_are_converted_where_they_cannot_be_copied(tmp_path: Path, codec: str, source_ext: str,
                                                                  ext: str, written: str) -> None:
    """SRT from a Matroska into MP4 (and mov_text from an MP4 into Matroska or WebM) was dropped with a
    warning, though every one of these containers holds text subtitles of some codec."""
    src = _with_subtitles(tmp_path / f"subtitled.{source_ext}", codec, EVENTS)
    messages = round_trip_warnings(src, tmp_path / f"out.{ext}")
    assert any(f"converting it to {written}" in message for message in messages), messages
    assert not any("styling" in message for message in messages), messages
    assert [(_plain(text), start, end) for text, start, end in _events(tmp_path / f"out.{ext}")] == [
        (text, start, end) for _, text, start, end in EVENTS]
    name, tags, disposition = _track(tmp_path / f"out.{ext}")
    assert name == written
    assert tags.get("title", tags.get("name")) == "Français"
    assert tags.get("language") == "fre" or ext == "mov"  # FFmpeg writes QuickTime's own codes, which lack 'fre'
    assert disposition & av.stream.Disposition.default


def test_ass_into_mp4_warns_that_its_styling_is_simplified(tmp_path: Path) -> None:
    src = _with_subtitles(tmp_path / "styled.mkv", "ass", EVENTS, header=ASS_HEADER)
    messages = round_trip_warnings(src, tmp_path / "out.mp4")
    assert sum("styling" in message and "mov_text" in message for message in messages) == 1, messages
    assert [(_plain(text), start, end) for text, start, end in _events(tmp_path / "out.mp4")] == [
        (text, start, end) for _, text, start, end in EVENTS]
    messages = round_trip_warnings(src, tmp_path / "out.mkv")  # copied as it is
    assert not any("subtitle" in message for message in messages), messages
    assert _events(tmp_path / "out.mkv") == [(text, start, end) for _, text, start, end in EVENTS]


def test_overlapping_events_keep_their_times_in_mov_text(tmp_path: Path) -> None:
    """mov_text's samples follow one another: a dialogue line starting under a sign was moved by the muxer
    to where the sign ended (0.6 s instead of 0.4 s). Each stretch of time now shows the events on screen."""
    src = _with_subtitles(tmp_path / "signs.mkv", "ass", OVERLAPPING, header=ASS_HEADER)
    round_trip_warnings(src, tmp_path / "out.mp4")
    assert [(_plain(text), start, end) for text, start, end in _events(tmp_path / "out.mp4")] == [
        ("Road closed", 200, 400), ("Road closed\\NPlain line", 400, 600), ("Plain line", 600, 750)]
    round_trip_warnings(src, tmp_path / "out.webm")  # WebVTT events may overlap: kept as they are
    assert [(_plain(text), start, end) for text, start, end in _events(tmp_path / "out.webm")] == [
        ("Road closed", 200, 600), ("Plain line", 400, 750)]


def test_text_subtitles_are_dropped_with_a_warning_where_no_text_codec_fits(tmp_path: Path) -> None:
    src = _with_subtitles(tmp_path / "subtitled.mkv", "subrip", EVENTS)
    messages = round_trip_warnings(src, tmp_path / "out.avi")
    assert any("cannot hold subrip subtitle; dropping it" in message for message in messages), messages
    with av.open(str(tmp_path / "out.avi")) as container:
        assert not container.streams.subtitles


def test_undecodable_events_are_counted(tmp_path: Path) -> None:
    """An event that does not decode (a damaged file) is left out with a warning; the others are kept."""
    src = _with_subtitles(tmp_path / "subtitled.mp4", "mov_text", EVENTS)
    damaged = tmp_path / "damaged.mp4"
    with av.open(str(src)) as source, av.open(str(damaged), "w") as target:
        streams = {stream.index: target.add_stream_from_template(stream) for stream in source.streams}
        for packet in source.demux():
            if packet.size:
                stream = streams[packet.stream.index]
                if packet.stream.type == "subtitle" and packet.pts * packet.time_base == Fraction(1, 10):
                    broken = av.Packet(b"\x00")  # shorter than mov_text's length field
                    broken.pts, broken.dts, broken.duration = packet.pts, packet.dts, packet.duration
                    broken.time_base, packet = packet.time_base, broken
                packet.stream = stream
                target.mux(packet)
    messages = round_trip_warnings(damaged, tmp_path / "out.mkv")
    assert any("1 event(s) of subtitle track 2 could not be read" in message for message in messages), messages
    assert [text for text, _, _ in _events(tmp_path / "out.mkv")] == ["Second\\Nline"]


def _with_dvd_subtitles(path: Path) -> Path:
    """A Matroska clip with a DVD (bitmap) subtitle track of one packet."""
    plain = make_video(path.with_name("plain.mkv"), size=(64, 48), frames=12, audio="aac")
    with av.open(str(plain)) as source, av.open(str(path), "w") as target:
        streams = {stream.index: target.add_stream_from_template(stream) for stream in source.streams}
        track = target.add_stream("dvdsub")
        for packet in source.demux():
            if packet.size:
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
        packet = av.Packet(b"\x00\x20DVD subtitle bitmap and commands")
        packet.stream, packet.time_base, packet.pts, packet.dts, packet.duration = track, Fraction(1, 1000), 100, 100, 200
        target.mux(packet)
    return path


def test_bitmap_subtitles_are_copied_into_matroska(tmp_path: Path) -> None:
    """DVD, Blu-ray (PGS) and DVB subtitles were dropped even into a Matroska output, which holds them:
    PyAV names a muxer's codecs after their decoders (dvdsub, pgssub), not the codec (dvd_subtitle)."""
    src = _with_dvd_subtitles(tmp_path / "dvd.mkv")
    messages = round_trip_warnings(src, tmp_path / "out.mkv")
    assert not any("subtitle" in message for message in messages), messages
    with av.open(str(src)) as before, av.open(str(tmp_path / "out.mkv")) as after:
        copied = [[bytes(packet) for packet in container.demux(container.streams.subtitles[0]) if packet.size]
                  for container in (before, after)]
    assert copied[0] == copied[1] and copied[0]
    messages = round_trip_warnings(src, tmp_path / "out.webm")
    assert any("dvd_subtitle subtitle; dropping it (pictures" in message for message in messages), messages


@pytest.mark.parametrize(("ext", "codec"), [("mkv", "pgssub"), ("mkv", "dvdsub"), ("mkv", "dca"), ("ts", "dvbsub")])
def test_containers_take_codecs_named_unlike_their_decoders(tmp_path: Path, ext: str, codec: str) -> None:
    """Blu-ray subtitles and DTS sound (decoders pgssub and dca) into Matroska, DVB subtitles into MPEG-TS."""
    with av.open(str(tmp_path / f"probe.{ext}"), "w") as container:
        assert takes(container, av.Codec(codec, "r"))


def _timecode(path: Path) -> str | None:
    with av.open(str(path)) as container:
        tags = [container.metadata, *(stream.metadata for stream in container.streams)]
        return next((value for each in tags for key, value in each.items() if key.lower() == "timecode"), None)


@pytest.mark.parametrize("ext", ["avi", "ts", "m4v", "mp4", "mkv", "mxf"])
def test_a_start_timecode_the_output_cannot_hold_is_named(tmp_path: Path, ext: str) -> None:
    """A camera's start timecode was lost without a word in .avi and .ts outputs (and FFmpeg's .m4v)."""
    src = make_camera_clip(tmp_path / "camera.mov", timecode="10:00:00:00")
    messages = round_trip_warnings(src, tmp_path / f"out.{ext}")
    named = any("start timecode 10:00:00:00" in message for message in messages)
    kept = _timecode(tmp_path / f"out.{ext}")
    assert kept in (None, "10:00:00:00")
    assert named == (kept is None), (kept, messages)


def test_cli_converts_srt_into_mp4(tmp_path: Path) -> None:
    """The whole render (model, merge, encoder thread) keeps converted subtitle events with their times."""
    torch.manual_seed(0)
    weights = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), weights, "tiny-unet", input_size=64)
    src = _with_subtitles(tmp_path / "film.mkv", "subrip", EVENTS)
    out = tmp_path / "film.mp4"
    with pytest.warns(Warning, match="converting it to mov_text"):
        result = CliRunner().invoke(main, [str(src), "-o", str(out), "--weights", str(weights), "--render-size", "64"],
                                    catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [(_plain(text), start, end) for text, start, end in _events(out)] == [
        (text, start, end) for _, text, start, end in EVENTS]
