"""What an input is taken for (video, photo, refused) and what an output's file type can hold."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from media import make_clip_with_sound, round_trip

from vidcolor.errors import InputError, OutputError
from vidcolor.io.containers import AUTO_CODEC, check_video_output, resolve_codec
from vidcolor.io.probe import media_kind


def _two_frames() -> list[Image.Image]:
    """Two grey frames, dark then light."""
    return [Image.fromarray(np.full((40, 60), value, np.uint8)) for value in (40, 200)]


@pytest.mark.parametrize("name", ["blink.png", "blink.gif"])
def test_a_two_frame_animation_is_a_video(tmp_path: Path, name: str) -> None:
    """An APNG or GIF of just two frames moves: it is a video, not a photo of its first frame."""
    path = tmp_path / name
    first, second = _two_frames()
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)
    assert media_kind(path) == "video"


def test_a_two_frame_animated_webp_is_refused(tmp_path: Path) -> None:
    """FFmpeg reads only the first frame of an animated WebP, however few frames it has."""
    path = tmp_path / "blink.webp"
    first, second = _two_frames()
    first.save(path, save_all=True, append_images=[second], duration=100)
    with pytest.raises(InputError, match=r"animated WebP \(2 frames\)"):
        media_kind(path)


def test_a_zero_byte_file_is_called_empty(tmp_path: Path) -> None:
    """A file of 0 bytes (a failed download) is named as empty, not as unreadable media."""
    path = tmp_path / "clip.mp4"
    path.touch()
    with pytest.raises(InputError, match=r"clip\.mp4 is empty \(0 bytes\)"):
        media_kind(path)


_XBIN_HEADER = b"XBIN\x1a" + (80).to_bytes(2, "little") + (2).to_bytes(2, "little") + bytes([16, 0])  # 80x2, 16 px font


@pytest.mark.parametrize(("name", "data"), [("logo.xb", _XBIN_HEADER + bytes([65, 7] * 160)),
                                            ("dump.bin", bytes([65, 7] * 640))])
def test_binary_text_art_is_refused_as_text(tmp_path: Path, name: str, data: bytes) -> None:
    """FFmpeg plays XBin art (.xb) and any .bin file as text-mode pictures: they are text, not a video."""
    path = tmp_path / name
    path.write_bytes(data)
    with av.open(str(path)) as container:  # the premise: FFmpeg opens it as a picture stream
        assert container.streams.video
    with pytest.raises(InputError, match=f"{name} is a text file, not a video or image"):
        media_kind(path)


def test_a_one_picture_icon_is_a_photo(tmp_path: Path) -> None:
    """An .ico (FFmpeg's ico demuxer, a PNG inside) is a photo, not a one-frame video."""
    path = tmp_path / "favicon.ico"
    Image.fromarray(np.full((32, 32), 90, np.uint8)).save(path)
    assert media_kind(path) == "image"


def test_a_one_picture_fits_file_is_a_photo(tmp_path: Path) -> None:
    """A FITS image (astronomy's format, a photo suffix in folder runs) is a photo, not a one-frame video."""
    path = tmp_path / "plate.fits"
    with av.open(str(path), "w", format="fits") as container:
        stream = container.add_stream("fits", rate=1)
        stream.width, stream.height, stream.pix_fmt = 16, 8, "gray"
        frame = av.VideoFrame.from_ndarray(np.full((8, 16), 90, np.uint8), format="gray")
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert media_kind(path) == "image"


@pytest.mark.parametrize("name", ["song.mp3", "song.aiff", "scan.dpx", "scan.j2k", "scan.tga", "scan.exr"])
def test_sound_and_picture_file_types_are_refused_as_video_outputs(name: str) -> None:
    """An MP3 or AIFF holds a picture only as cover art, and DPX, JPEG 2000, TGA and EXR files one picture each."""
    with pytest.raises(OutputError, match=f"^cannot write video as '{Path(name).suffix}'"):
        check_video_output(Path(name))


def test_an_output_name_without_a_suffix_is_named_in_the_refusal() -> None:
    """With no suffix to quote, the refusal names the output, not an empty file type."""
    with pytest.raises(OutputError, match="^cannot write video as 'colour': use a video file type such as .mp4"):
        check_video_output(Path("films/colour"))


def test_sound_at_44_1_khz_goes_into_mxf_at_48_khz(tmp_path: Path) -> None:
    """FFmpeg's MXF writer takes 48 kHz sound only: 44.1 kHz PCM is re-encoded at 48 kHz, its length kept."""
    source = make_clip_with_sound(tmp_path / "in.mov", "pcm_s16le", rate=44100, frames=25)
    output = tmp_path / "out.mxf"
    with pytest.warns(UserWarning, match="mxf cannot state the 44100 Hz"):
        round_trip(source, output)
    with av.open(str(output)) as container:
        frames = list(container.decode(audio=0))
    assert frames[0].sample_rate == 48000
    assert sum(frame.samples for frame in frames) == pytest.approx(48000, abs=1024)  # the source's 1 s


def test_auto_codec_for_a_container_whose_own_encoder_is_missing_is_refused(tmp_path: Path) -> None:
    """.ogg takes no H.264 and its own video codec, Theora, has no encoder in this FFmpeg: a one-line OutputError
    that names the file type, not FFmpeg's unknown-codec error."""
    if "libtheora" in av.codecs_available:  # FFmpeg's only Theora encoder
        pytest.skip("this FFmpeg has a Theora encoder")
    container = av.open(str(tmp_path / "out.ogg"), "w")
    try:
        with pytest.raises(OutputError, match=r"^this FFmpeg has no theora encoder for '\.ogg' files; pick --codec"):
            resolve_codec(AUTO_CODEC, container)
    finally:
        container.close()
