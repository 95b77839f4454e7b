"""Animated GIF and APNG sources and outputs: a GIF or APNG output plays as often as its source, and transparency that an
output leaves out is named."""

from __future__ import annotations

from pathlib import Path

import warnings

import av
import numpy as np
import pytest
from PIL import Image

from tests.helpers import ConstantColour
from tests.media import make_video
from vidcolor.io.gif_palette import gif_has_transparency, gif_loop_option
from vidcolor.io.encode import EncodeSettings
from vidcolor.pipeline import colorize_video
from vidcolor.worker import Colorizer

SIZE = (64, 48)  # width, height
GREYS = (30, 90, 150, 210)


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer(ConstantColour(0.3, -0.2), device="cpu", render_size=64)


def grey_frames(transparent: bool = False) -> list[Image.Image]:
    """Flat grey frames with a white square that moves; with ``transparent``, RGBA frames whose left half is
    transparent."""
    width, height = SIZE
    frames = []
    for index, grey in enumerate(GREYS):
        values = np.full((height, width), grey, np.uint8)
        values[8:16, 8 + 10 * index:16 + 10 * index] = 255
        if transparent:
            alpha = np.full((height, width), 255, np.uint8)
            alpha[:, : width // 2] = 0
            frames.append(Image.fromarray(np.dstack([values] * 3 + [alpha])))
        else:
            frames.append(Image.fromarray(values).convert("P"))
    return frames


def save_animation(path: Path, frames: list[Image.Image], **options: object) -> Path:
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[100, 200, 300, 400], **options)
    return path


def save_gif_keeping_pixels(path: Path) -> Path:
    """An optimised GIF: the second frame's transparent pixels keep the first frame's, so every frame as shown
    is opaque."""
    palette = [value for level in range(256) for value in (level, level, level)]
    first = np.full(SIZE[::-1], 100, np.uint8)
    second = np.zeros(SIZE[::-1], np.uint8)  # index 0, the transparent one, outside the square
    second[10:20, 10:20] = 200
    frames = []
    for values in (first, second):
        frame = Image.fromarray(values).convert("P")
        frame.putpalette(palette)
        frames.append(frame)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0, disposal=1, transparency=0)
    return path


def shown_alpha(path: Path) -> list[int]:
    """The least alpha of each frame as FFmpeg composes it."""
    with av.open(str(path)) as container:
        return [int(frame.to_ndarray(format="rgba")[..., 3].min()) for frame in container.decode(video=0)]


def plays(path: Path) -> int:
    """How many times a GIF plays as browsers show it (0: forever; a loop count N: once and N more)."""
    with Image.open(path) as image:
        repeats = image.info.get("loop")
    return 1 if repeats is None else 0 if repeats == 0 else repeats + 1


def colour(source: Path, output: Path, colorizer: Colorizer) -> list[str]:
    """Colour ``source`` into ``output``; the warnings given."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        colorize_video(source, output, colorizer, progress=False)
    return [str(warning.message) for warning in caught]


@pytest.mark.parametrize(("loop", "expected"), [(None, "-1"), (0, "0"), (3, "3")])
def test_a_gif_source_gives_its_own_loop_count(tmp_path: Path, loop: int | None, expected: str) -> None:
    options = {} if loop is None else {"loop": loop}
    assert gif_loop_option(save_animation(tmp_path / "in.gif", grey_frames(), **options)) == expected


@pytest.mark.parametrize(("apng_plays", "expected"), [(1, "-1"), (0, "0"), (4, "3")])
def test_an_apng_source_gives_its_plays_as_a_gif_loop_count(tmp_path: Path, apng_plays: int, expected: str) -> None:
    """An APNG counts its plays, a GIF the repeats after the first."""
    assert gif_loop_option(save_animation(tmp_path / "in.png", grey_frames(), loop=apng_plays)) == expected


def test_other_sources_keep_the_muxer_default(tmp_path: Path) -> None:
    still = tmp_path / "still.gif"
    grey_frames()[0].save(still)
    clip = tmp_path / "clip.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height = SIZE
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((SIZE[1], SIZE[0], 3), 40 * index, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    assert gif_loop_option(still) is None and gif_loop_option(clip) is None


def test_transparency_is_found_in_the_frames_as_shown(tmp_path: Path) -> None:
    """FFmpeg decodes every GIF with alpha; only a GIF with pixels shown transparent has transparency."""
    transparent = save_animation(tmp_path / "sticker.gif", grey_frames(transparent=True), loop=0)
    opaque = save_animation(tmp_path / "opaque.gif", grey_frames(), loop=0)
    keeping = save_gif_keeping_pixels(tmp_path / "optimised.gif")
    assert min(shown_alpha(transparent)) == 0 and min(shown_alpha(keeping)) == 255
    assert gif_has_transparency(transparent)
    assert not gif_has_transparency(opaque)
    assert not gif_has_transparency(keeping)
    assert not gif_has_transparency(save_animation(tmp_path / "alpha.png", grey_frames(transparent=True)))


@pytest.mark.parametrize("loop", [None, 0, 3])
def test_a_coloured_gif_plays_as_often_as_its_source(tmp_path: Path, colorizer: Colorizer, loop: int | None) -> None:
    """Every coloured GIF looped forever: a GIF made to play once (or three times) never stopped."""
    options = {} if loop is None else {"loop": loop}
    source = save_animation(tmp_path / "in.gif", grey_frames(), **options)
    colour(source, tmp_path / "out.gif", colorizer)
    assert plays(tmp_path / "out.gif") == plays(source)


def test_transparency_left_out_of_a_coloured_gif_is_named(tmp_path: Path, colorizer: Colorizer) -> None:
    """A sticker GIF came out on an opaque background without a word; an APNG's loss was named."""
    source = save_animation(tmp_path / "sticker.gif", grey_frames(transparent=True), loop=0)
    for output in ("out.gif", "out.mp4"):
        assert any("leaving out its transparency" in message for message in colour(source, tmp_path / output, colorizer))


def test_an_opaque_gif_is_coloured_without_a_transparency_warning(tmp_path: Path, colorizer: Colorizer) -> None:
    for source in (save_animation(tmp_path / "opaque.gif", grey_frames(), loop=0),
                   save_gif_keeping_pixels(tmp_path / "optimised.gif")):
        messages = colour(source, tmp_path / f"{source.stem}_colour.gif", colorizer)
        assert not any("transparency" in message for message in messages), messages


def apng_plays(path: Path) -> int:
    """How many times an APNG plays (0: forever)."""
    with Image.open(path) as image:
        return image.info["loop"]


@pytest.mark.parametrize(("name", "options", "expected"), [
    ("once.gif", {}, 1), ("forever.gif", {"loop": 0}, 0), ("four_times.gif", {"loop": 3}, 4),
    ("twice.png", {"loop": 2}, 2)])
def test_a_coloured_apng_plays_as_often_as_its_source(tmp_path: Path, colorizer: Colorizer, name: str,
                                                       options: dict[str, int], expected: int) -> None:
    source = save_animation(tmp_path / name, grey_frames(), **options)
    colour(source, tmp_path / "out.apng", colorizer)
    assert apng_plays(tmp_path / "out.apng") == expected


def test_a_video_coloured_into_an_apng_keeps_its_colours(tmp_path: Path, colorizer: Colorizer) -> None:
    """APNG (and PNG or QuickTime Animation in .mov) were given GIF's 256-colour palette per frame, which the
    APNG encoder refused ('Operation not permitted: avcodec_send_frame()', a bare unexpected error); they take
    RGB, so they get it, every colour kept, and play once as a video does."""
    source = make_video(tmp_path / "clip.mp4", size=SIZE, frames=3, audio="aac")
    warned = colour(source, tmp_path / "out.apng", colorizer)
    assert warned == [f"{tmp_path / 'out.apng'}: apng holds no sound; dropping the aac audio"]
    assert apng_plays(tmp_path / "out.apng") == 1
    with av.open(str(tmp_path / "out.apng")) as container:
        frames = [frame for frame in container.decode(video=0)]
    assert len(frames) == 3 and frames[0].format.name == "rgb24"
    lossless = tmp_path / "lossless.mkv"
    colorize_video(source, lossless, colorizer, settings=EncodeSettings(codec="ffv1"), progress=False)
    with av.open(str(lossless)) as container:
        expected = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    assert np.abs(frames[0].to_ndarray().astype(int) - expected).max() <= 2
