"""`vidcolor preview`: the colour it shows for frame t is the full render's frame t.

A tiny untrained model on a 96x64 grey clip; the full render is encoded losslessly (crf 0) so its
decoded planes are exactly what the pipeline produced.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from media import drop_first_packets, make_oriented_clip, make_video, pattern_planes
from test_decode_inputs import damage_packets

import vidcolor.preview as preview_module
from vidcolor.commands.preview import preview_command
from vidcolor.errors import InputError, VidcolorWarning
from vidcolor.io.decode import VideoSource
from vidcolor.io.encode import EncodeSettings
from vidcolor.merge import YuvFormat
from vidcolor.models import create_generator, save_generator
from vidcolor.pipeline import colorize_image, colorize_video, source_yuv_format
from vidcolor.frame_display import PreviewFrame, planes_to_rgb
from vidcolor.preview import PreviewSession, preview_frames, warmup_frames, write_contact_sheet
from vidcolor.sheet_drawing import (check_sheet_size, describe, label_height, label_text, layout_label, row_size, sheet_row,
                                    sheet_size)
from vidcolor.temporal import TemporalOptions
from vidcolor.worker import Colorizer

WIDTH, HEIGHT, FRAMES = 96, 64, 20
RENDER = 64
LOSSLESS = EncodeSettings(crf=0, preset="ultrafast")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("preview")


@pytest.fixture(scope="module")
def weights(workdir: Path) -> Path:
    """A tiny untrained model whose last conv is re-drawn large: it starts near grey otherwise."""
    torch.manual_seed(0)
    model = create_generator("tiny-unet")
    last_conv = [module for module in model.modules() if isinstance(module, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        torch.nn.init.normal_(last_conv.weight, std=0.5)
    path = workdir / "tiny.safetensors"
    save_generator(model, path, "tiny-unet")
    return path


@pytest.fixture(scope="module")
def clip(workdir: Path) -> Path:
    return make_video(workdir / "clip.mp4", size=(WIDTH, HEIGHT), frames=FRAMES, grey=True)


def colorizer(weights: Path) -> Colorizer:
    return Colorizer.from_weights(weights, device="cpu", render_size=RENDER)


def read_rgb(path: Path) -> np.ndarray:
    """A PNG as (H, W, 3) float64 RGB in 0..255."""
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float64)


def decoded_planes(path: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(Y, U, V) of every frame of a yuv420p video."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            planes = []
            for plane in frame.planes:
                rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
                planes.append(rows[:, : plane.width].copy())
            out.append(tuple(planes))
    return out


def sheet_panels(sheet: np.ndarray, row: int) -> tuple[np.ndarray, np.ndarray]:
    """Original and colour panel of ``row`` of a contact sheet."""
    top = row * (label_height(WIDTH) + HEIGHT) + label_height(WIDTH)
    panel = sheet[top : top + HEIGHT]
    return panel[:, :WIDTH], panel[:, WIDTH:]


def test_warmup_frames_is_the_smallest_window_below_the_tolerance() -> None:
    assert warmup_frames(TemporalOptions(strength=0.7)) == 20  # 0.7**20 = 8.0e-4, 0.7**19 = 1.1e-3
    assert warmup_frames(TemporalOptions(strength=0.5)) == 10
    assert warmup_frames(TemporalOptions(strength=0.1)) == 4  # 0.1**3 is not below 1e-3
    assert warmup_frames(TemporalOptions(enabled=False)) == 0
    assert warmup_frames(TemporalOptions(strength=0.0)) == 0
    assert warmup_frames(TemporalOptions(strength=1.0)) is None


@pytest.mark.parametrize(
    ("temporal", "sheet_frames", "expected_rows"),
    [
        (TemporalOptions(enabled=False), 4, [0, 6, 13, 19]),
        # W = 10: frame 19 is warmed up on frames 9..18 only, not on the whole clip as the render is.
        (TemporalOptions(strength=0.5), 2, [0, 19]),
        (TemporalOptions(strength=0.7), 3, [0, 10, 19]),
    ],
    ids=["temporal-off", "temporal-0.5-truncated-warmup", "temporal-0.7"],
)
def test_sheet_shows_the_full_render(weights, clip, workdir, temporal, sheet_frames, expected_rows) -> None:
    name = f"{temporal.enabled}-{temporal.strength}"
    rendered = colorize_video(clip, workdir / f"render-{name}.mkv", colorizer(weights), settings=LOSSLESS,
                              temporal=temporal, progress=False)
    assert rendered.frames == FRAMES
    sheet_path = workdir / f"sheet-{name}.png"
    result = write_contact_sheet(clip, sheet_path, colorizer(weights), frames=sheet_frames, temporal=temporal)
    assert result.frames == expected_rows

    sheet = read_rgb(sheet_path)
    assert sheet.shape == (len(expected_rows) * (label_height(WIDTH) + HEIGHT), 2 * WIDTH, 3)
    with VideoSource(clip) as source:
        yuv = source_yuv_format(source)
        inputs = [frame.y for frame in source.frames()]
    outputs = decoded_planes(workdir / f"render-{name}.mkv")
    assert len(outputs) == FRAMES
    for row, index in enumerate(expected_rows):
        original, colour = sheet_panels(sheet, row)
        grey = np.clip((inputs[index].astype(np.float64) - 16) / 219, 0, 1) * 255
        assert np.abs(original - grey[..., None]).max() <= 0.5 + 1e-6
        y, u, v = outputs[index]
        assert np.array_equal(y, inputs[index])  # crf 0: the render's planes come back exactly
        expected = np.rint(planes_to_rgb(y, u, v, yuv).astype(np.float64) * 255)  # the sheet is 8-bit
        difference = np.abs(colour - expected)
        # Measured: 0.0. Smoothing on vs off moves frame 19 by ~0.3 levels on average, so this tells them apart.
        assert difference.mean() < 0.05, (index, difference.mean())
        assert difference.max() <= 1, (index, difference.max())
        # The colour is real colour, not grey.
        assert np.abs(colour - original).mean() > 1.0


def test_temporal_smoothing_changes_the_preview(weights, clip) -> None:
    """Guards the test above: on this clip smoothing does move the colour, so matching it means something."""
    off = preview_frames(clip, colorizer(weights), [19], temporal=TemporalOptions(enabled=False))[0]
    on = preview_frames(clip, colorizer(weights), [19], temporal=TemporalOptions(strength=0.7))[0]
    assert np.abs(off.colour - on.colour).mean() * 255 > 0.2


def test_planes_to_rgb_agrees_with_ffmpeg(weights, clip, workdir) -> None:
    """The sheet's YCbCr -> RGB is FFmpeg's, for the BT.601 that FFmpeg assumes for untagged SD video."""
    render = workdir / "render-ffmpeg.mkv"
    colorize_video(clip, render, colorizer(weights), settings=LOSSLESS, temporal=TemporalOptions(enabled=False),
                   progress=False)
    yuv = YuvFormat(kr=0.299, kb=0.114)
    with av.open(str(render)) as container:
        frame = next(container.decode(video=0))
        ffmpeg_rgb = frame.to_ndarray(format="rgb24").astype(np.float64)
    y, u, v = decoded_planes(render)[0]
    ours = planes_to_rgb(y, u, v, yuv).astype(np.float64) * 255
    assert np.abs(ours - ffmpeg_rgb).mean() < 2.0


@pytest.mark.parametrize("colorspace", [1, 6, 7, 8])  # BT.709, BT.601, SMPTE 240M, YCgCo
def test_planes_to_rgb_inverts_the_merge_matrix(colorspace) -> None:
    """The sheet shows the colour the render's chroma was made for, whatever the source's matrix."""
    yuv = YuvFormat.for_video(colorspace, 480)
    colours = torch.tensor([[0.8, 0.3, 0.2], [0.2, 0.7, 0.3], [0.3, 0.4, 0.8]])  # red, green, blue-ish
    rgb = colours.repeat_interleave(4, dim=0).T.reshape(1, 3, 12, 1).expand(1, 3, 12, 8).contiguous()
    red, green, blue = rgb[0]
    luma = yuv.kr * red + (1 - yuv.kr - yuv.kb) * green + yuv.kb * blue
    y = (16 + 219 * luma).round().numpy().astype(np.uint8)
    cb, cr = (plane[0].numpy()[::2, ::2] for plane in yuv.rgb_to_chroma(rgb))
    shown = planes_to_rgb(np.ascontiguousarray(y), np.ascontiguousarray(cb), np.ascontiguousarray(cr), yuv)
    expected = rgb[0].permute(1, 2, 0).numpy()
    rows = [1, 5, 9]  # away from the edges between colours, where the chroma is blended
    assert np.abs(shown - expected)[rows].max() * 255 < 1.5


def test_session_steps_and_jumps_match_one_pass(weights, clip) -> None:
    """Seeking backwards, stepping one frame and jumping forwards give the one-pass (render) colour."""
    temporal = TemporalOptions(strength=0.5)
    reference = {frame.index: frame for frame in preview_frames(clip, colorizer(weights), [4, 5, 17], temporal=temporal)}
    with PreviewSession(clip, colorizer(weights), temporal) as session:
        assert session.frame_count == FRAMES
        visited = [session.frame(17), session.frame(4), session.frame(5), session.frame(17), session.frame(99)]
    assert [frame.index for frame in visited] == [17, 4, 5, 17, FRAMES - 1]
    for frame in visited[:4]:
        # Batches of 1 and of 8 round differently in the last float bit; a chroma code may flip by one.
        difference = np.abs(frame.colour - reference[frame.index].colour) * 255
        assert difference.mean() < 0.05 and difference.max() <= 1.5, (frame.index, difference.mean(), difference.max())
        assert np.array_equal(frame.original, reference[frame.index].original)


def test_session_finds_variable_rate_frames_by_their_times(weights, tmp_path) -> None:
    """Frames alternate 1 and 3 periods of 29.97 fps (average 15 fps): seeking, --start and the
    one-second jumps follow the frames' own times, not the average rate."""
    vfr = make_video(tmp_path / "vfr.mkv", size=(WIDTH, HEIGHT), frames=30, vfr=True)
    decoded = [y for y, _, _ in decoded_planes(vfr)]
    with VideoSource(vfr) as source:
        starts = [float((frame.pts - source.video_stream.start_time) * source.info.time_base)
                  for frame in source.frames()]
    with PreviewSession(vfr, colorizer(weights), TemporalOptions(enabled=False)) as session:
        for index in (21, 7, 8, 29):
            frame = session.frame(index)
            assert frame.index == index and abs(frame.seconds - starts[index]) < 1e-6
            assert np.allclose(frame.original[..., 0], np.clip((decoded[index] - 16.0) / 219.0, 0, 1), atol=1e-6)
        assert session.index_at(starts[12] + 0.01) == 12
        assert session.index_at(starts[13] - 0.01) == 12
        one_second_on = session.index_after(4, 1.0)
        assert starts[one_second_on] <= starts[4] + 1.0 < starts[one_second_on + 1]
        assert session.index_after(one_second_on, -1.0) in (4, 3)
        assert session.index_after(29, 1.0) == 29 and session.index_after(0, -1.0) == 0
        with pytest.raises(InputError, match="past the end"):
            session.index_at(60.0)


@pytest.mark.parametrize(("name", "options"), [
    ("mpeg4-b-frames.avi", dict(codec="mpeg4", b_frames=2)),  # Xvid-like: a keyframe shows after B-frames
    ("x264-b-frames.avi", dict(b_frames=2)),  # frames carry the dts of a later packet
    ("b-frames.ts", dict()),  # MPEG-TS seeks land late, or past the end
    ("mpeg2.mpg", dict(codec="mpeg2video", b_frames=2)),  # after a seek the times can be half a frame off
    ("bare.h264", dict()),  # no times, cannot seek: the window could not even open it
    ("x264-last-keyframe-near-the-end.avi", dict(b_frames=2, frames=34)),  # its frames all come at the flush
    ("cut.ts", dict(cut=5)),  # a recording starting inside a GOP: the first packets decode to nothing
    ("cut.avi", dict(codec="mpeg4", cut=5)),  # ... which the AVI lag measurement could not seek back over
], ids=lambda value: value if isinstance(value, str) else "")
def test_session_shows_the_asked_frame_with_its_time_in_every_container(weights, tmp_path, monkeypatch, name,
                                                                        options) -> None:
    """Each jump shows the frame decoding from the start gives at that index, labelled with its time:
    seeks put other frames under a label in AVI, MPEG-TS and MPEG-PS, and in recordings cut inside a GOP."""
    cut = options.pop("cut", 0)
    frames = options.pop("frames", 40)
    clip = make_video(tmp_path / ("whole-" + name if cut else name), size=(WIDTH, HEIGHT), frames=frames,
                      rate=Fraction(25), gop=8, **options)
    if cut:
        clip = drop_first_packets(clip, tmp_path / name, cut)
    with VideoSource(clip) as source:
        decoded = list(source.frames())
        time_base = source.info.time_base
    sequential = [frame.y for frame in decoded]
    starts = [float((frame.pts - decoded[0].pts) * time_base) for frame in decoded]  # 25 fps, or a cut's gap
    # the rest of a cut GOP decodes to nothing (H.264) or to grey frames (MPEG-4 part 2)
    assert len(sequential) == (frames - 8 if cut and name.endswith(".ts") else frames - cut)
    last = len(sequential) - 1
    indices = (last, last - 2, 3, last - 9, 17, 9, 0)
    with PreviewSession(clip, colorizer(weights), TemporalOptions(enabled=False)) as session:
        assert session.frame_count == len(sequential)
        shown = [session.frame(index) for index in indices]
    # a sheet's rows: decoded on to, and each sought
    shown += preview_frames(clip, colorizer(weights), indices, temporal=TemporalOptions(enabled=False))
    monkeypatch.setattr(preview_module, "_DECODE_ON", 0)
    shown += preview_frames(clip, colorizer(weights), indices, temporal=TemporalOptions(enabled=False))
    assert [frame.index for frame in shown] == [*indices, *sorted(indices), *sorted(indices)]
    for frame in shown:
        index = frame.index
        assert frame.seconds == pytest.approx(starts[index]), (index, frame.seconds)
        assert np.allclose(frame.original[..., 0], np.clip((sequential[index] - 16.0) / 219.0, 0, 1), atol=1e-6), index


def cli(*args: str) -> object:
    return CliRunner().invoke(preview_command, [*args], catch_exceptions=False)


def test_cli_clamps_frames_to_the_clip(weights, tmp_path) -> None:
    short = make_video(tmp_path / "short.mp4", size=(WIDTH, HEIGHT), frames=5)
    sheet = tmp_path / "sheet.png"
    result = cli(str(short), "--sheet", str(sheet), "--frames", "50", "--weights", str(weights), "--device", "cpu",
                 "--render-size", str(RENDER), "--temporal", "off")
    assert result.exit_code == 0, result.output
    assert "frames 0, 1, 2, 3, 4" in result.output
    assert read_rgb(sheet).shape == (5 * (label_height(WIDTH) + HEIGHT), 2 * WIDTH, 3)


def test_cli_sheet_starts_at_start(weights, clip, tmp_path) -> None:
    """--start was ignored with --sheet: the sheet now spans from that second to the end."""
    sheet = tmp_path / "sheet.png"
    common = ["--sheet", str(sheet), "--frames", "3", "--weights", str(weights), "--device", "cpu",
              "--render-size", str(RENDER), "--temporal", "off"]
    result = cli(str(clip), "--start", "0.31", *common)  # 29.97 fps: frame 9 shows from 0.3003 s
    assert result.exit_code == 0, result.output
    assert "frames 9, 14, 19" in result.output
    first_row = sheet_panels(read_rgb(sheet), 0)[0]
    with VideoSource(clip) as source:
        ninth = [frame.y for frame in source.frames()][9]
    assert np.abs(first_row[..., 0] - np.clip((ninth - 16.0) / 219, 0, 1) * 255).max() <= 0.5 + 1e-6

    result = cli(str(clip), "--start", "0.66", *common, "--overwrite")  # the last frame, 0.634-0.667 s
    assert result.exit_code == 0, result.output
    assert "frames 19 " in result.output

    result = cli(str(clip), "--start", "5", *common, "--overwrite")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "past the end" in result.output


def test_cli_refuses_to_overwrite_the_sheet(weights, clip, tmp_path) -> None:
    sheet = tmp_path / "sheet.png"
    sheet.write_bytes(b"keep me")
    common = ["--weights", str(weights), "--device", "cpu", "--render-size", str(RENDER), "--frames", "1"]
    result = cli(str(clip), "--sheet", str(sheet), *common)
    assert result.exit_code != 0
    assert "already exists" in result.output and "--overwrite" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert sheet.read_bytes() == b"keep me"
    result = cli(str(clip), "--sheet", str(sheet), *common, "--overwrite")
    assert result.exit_code == 0, result.output
    assert read_rgb(sheet).shape == (label_height(WIDTH) + HEIGHT, 2 * WIDTH, 3)
    assert not list(tmp_path.glob(".*partial*"))


def test_cli_without_window_support_says_what_to_do(clip, tmp_path, monkeypatch) -> None:
    """The project ships opencv-python-headless: the window must fail in one line, before the model loads."""

    def no_window(*args: object, **kwargs: object) -> None:
        raise cv2.error("The function is not implemented. Rebuild the library with Windows, GTK+ 2.x or Cocoa support")

    monkeypatch.setattr(cv2, "namedWindow", no_window)
    result = cli(str(clip), "--weights", str(tmp_path / "missing.safetensors"), "--device", "cpu")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "pip install opencv-python" in lines[0] and "--sheet" in lines[0]


def test_cli_frames_needs_sheet(clip) -> None:
    result = cli(str(clip), "--frames", "3")
    assert result.exit_code == 2
    assert "--frames" in result.output


def test_image_input_gives_one_row(weights, tmp_path) -> None:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    grey = np.clip(30 + 2 * xx + yy, 0, 255).astype(np.uint8)
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), grey)
    sheet, colour_file = tmp_path / "sheet.png", tmp_path / "colour.png"
    result = cli(str(photo), "--sheet", str(sheet), "--weights", str(weights), "--device", "cpu",
                 "--render-size", str(RENDER))
    assert result.exit_code == 0, result.output
    colorize_image(photo, colour_file, colorizer(weights))
    image = read_rgb(sheet)
    assert image.shape == (label_height(WIDTH) + HEIGHT, 2 * WIDTH, 3)
    original, colour = sheet_panels(image, 0)
    assert np.array_equal(original, np.repeat(grey[..., None], 3, axis=2).astype(np.float64))
    assert np.abs(colour - read_rgb(colour_file)).max() <= 1


def test_a_photo_too_big_for_the_free_memory_is_named_in_one_line(weights, tmp_path, monkeypatch) -> None:
    """The sheet of a huge scan was refused as "the array is ..." (colorize_rgb's words), not by the file's name."""
    photo = tmp_path / "scan.png"
    cv2.imwrite(str(photo), np.full((HEIGHT, WIDTH), 90, np.uint8))
    monkeypatch.setattr("vidcolor.worker.free_memory_bytes", lambda: WIDTH * HEIGHT * 10)
    result = cli(str(photo), "--sheet", str(tmp_path / "sheet.png"), "--weights", str(weights), "--device", "cpu",
                 "--render-size", str(RENDER))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"Error: {photo} is {WIDTH}x{HEIGHT} (0 MP): colouring it needs about" in result.output, result.output
    assert not (tmp_path / "sheet.png").exists()


def fake_window(monkeypatch: pytest.MonkeyPatch, keys: list[int]) -> list[str]:
    """Stand-ins for cv2's window calls (the installed OpenCV is headless) that press ``keys`` in turn;
    returns the list the window titles are collected in."""
    pressed = iter(keys)
    titles: list[str] = []
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: "  GUI:                           QT5\n")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(cv2, "namedWindow", lambda *a, **k: None)
    monkeypatch.setattr(cv2, "destroyWindow", lambda *a, **k: None)
    monkeypatch.setattr(cv2, "imshow", lambda name, image: None)
    monkeypatch.setattr(cv2, "setWindowTitle", lambda name, title: titles.append(title))
    monkeypatch.setattr(cv2, "getWindowProperty", lambda *a: 1.0)
    monkeypatch.setattr(cv2, "waitKeyEx", lambda delay: next(pressed))
    return titles


def test_viewer_keys_with_a_fake_window(weights, clip, tmp_path, monkeypatch) -> None:
    """Drive run_viewer's key loop through cv2 stand-ins."""
    from vidcolor import viewer

    keys = [ord("d"), ord("l"), 65361, ord("t"), ord("+"), ord("s"), ord("J"), ord("q")]
    titles = fake_window(monkeypatch, keys)
    viewer.run_viewer(clip, colorizer(weights), temporal=TemporalOptions(strength=0.5), save_dir=tmp_path)
    frames = [title.split("frame ")[1].split()[0] for title in titles]
    # d: 1; l: +1 s (30 frames, clamped to 19); left: 18; t, +: same frame redrawn; s: saved; J: -10 s -> 0.
    assert frames == ["0", "1", "19", "18", "18", "18", "18", "0"]
    assert "temporal on 0.50" in titles[3] and "temporal off" in titles[4] and "saturation 1.10" in titles[5]
    saved = tmp_path / "clip_frame000018.png"
    assert "saved clip_frame000018.png" in titles[6]
    label = titles[6].removeprefix("clip.mp4  ").split("  |  ")[0].split("  saved")[0]
    width, height = row_size(label, WIDTH, HEIGHT)
    assert read_rgb(saved).shape == (height, width, 3)


def test_viewer_stays_open_when_a_pair_cannot_be_saved(weights, clip, tmp_path, monkeypatch) -> None:
    """`s` beside an input on a read-only archive closed the whole window with an error; now the title
    says why nothing was saved and stepping goes on."""
    from vidcolor import viewer

    titles = fake_window(monkeypatch, [ord("s"), ord("d"), ord("q")])
    viewer.run_viewer(clip, colorizer(weights), temporal=TemporalOptions(enabled=False),
                      save_dir=tmp_path / "missing")
    assert len(titles) == 3
    assert "not saved" in titles[1] and "missing" in titles[1]
    assert "frame 1 " in titles[2]


def test_viewer_colours_a_photo_once_and_says_where_it_saved(weights, tmp_path, monkeypatch) -> None:
    """A photo was coloured again at full resolution on every key press (seconds each for a large scan on a
    CPU), and `s` gave no sign of where the pair went."""
    from vidcolor import viewer

    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), pattern_planes(WIDTH, HEIGHT, 0)[0])
    model = colorizer(weights)
    calls: list[float] = []
    colorize_rgb = model.colorize_rgb
    monkeypatch.setattr(model, "colorize_rgb", lambda rgb: calls.append(model.saturation) or colorize_rgb(rgb))
    titles = fake_window(monkeypatch, [ord("s"), ord("x"), ord("+"), ord("s"), ord("q")])
    viewer.run_viewer(photo, model, save_dir=tmp_path)
    assert calls == [1.0, pytest.approx(1.1)]
    assert "saved photo_frame000000.png" in titles[1] and "saved photo_frame000000-1.png" in titles[4]
    assert read_rgb(tmp_path / "photo_frame000000-1.png").shape == (label_height(WIDTH) + HEIGHT, 2 * WIDTH, 3)


def test_cli_without_a_display_says_so_before_opencv_can_abort(clip, tmp_path, monkeypatch) -> None:
    """Qt's OpenCV with no display aborted the process (exit 134, several Qt lines) instead of raising."""
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: "  GUI:                           QT5\n")
    monkeypatch.setattr(cv2, "namedWindow", lambda *args, **kwargs: pytest.fail("tried to open a window"))
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = cli(str(clip), "--weights", str(tmp_path / "missing.safetensors"), "--device", "cpu")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "no display to open the window on" in lines[0] and "--sheet" in lines[0], result.output


def test_opencv_is_loaded_before_pyav() -> None:
    """PyAV's own libxcb, loaded first, makes Qt's OpenCV hang in namedWindow (PyAV #978)."""
    code = "import sys, cli; names = list(sys.modules); print(names.index('cv2') < names.index('av'))"
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1], capture_output=True, text=True)
    assert result.stdout.strip() == "True", result.stderr


def test_a_sheet_too_large_for_its_format_is_refused_before_any_frame_is_rendered(weights, tmp_path,
                                                                                    monkeypatch) -> None:
    """260 rows of a 320x240 clip into .jpg failed after minutes of rendering: 640x67080 is over JPEG's 65,500 px."""
    clip = make_video(tmp_path / "long.mp4", size=(320, 240), frames=260)
    monkeypatch.setattr(preview_module, "_frames_of", lambda *args, **kwargs: pytest.fail("frames were rendered"))
    result = cli(str(clip), "--sheet", str(tmp_path / "big.jpg"), "--weights", str(weights), "--device", "cpu",
                 "--render-size", str(RENDER), "--frames", "260")
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: a 640x67080 picture is too large for .jpg (at most 65500 px a side); "
                                     "write .png or .tif instead")
    assert list(tmp_path.iterdir()) == [clip]


def test_a_photo_sheet_too_large_for_its_format_is_refused_before_it_is_coloured(weights, tmp_path,
                                                                                 monkeypatch) -> None:
    """Only video sheets were checked first: a 1200 dpi scan into .webp was coloured, then refused."""
    photo = tmp_path / "scan.png"
    cv2.imwrite(str(photo), np.full((16, 8200), 120, np.uint8))
    monkeypatch.setattr(Colorizer, "colorize_rgb", lambda *args: pytest.fail("the photo was coloured"))
    result = cli(str(photo), "--sheet", str(tmp_path / "sheet.webp"), "--weights", str(weights), "--device", "cpu",
                 "--render-size", str(RENDER))
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: a 16400x{label_height(8200) + 16} picture is too large for .webp "
                                     "(at most 16383 px a side); write .png or .tif instead")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["scan.png"]


def anamorphic_clip(path: Path, aspect: Fraction, rotation: int = 0) -> Path:
    """A 3-frame WIDTH x HEIGHT clip whose pixels are ``aspect`` times as wide as they are tall (DV, DVD)."""
    return make_oriented_clip(path, (WIDTH, HEIGHT), rotation=rotation, aspect=aspect)


@pytest.mark.parametrize(("aspect", "rotation"), [(Fraction(32, 27), 0), (Fraction(8, 9), 0), (Fraction(32, 27), 90)],
                         ids=["dvd-16:9", "dv-4:3", "16:9-turned"])
def test_anamorphic_video_is_shown_at_its_display_aspect(weights, tmp_path, aspect, rotation) -> None:
    """A 16:9 DVD (720x480 stored, pixels 32:27) was shown squeezed to 3:2: players, and the render's
    output, which keeps the pixel aspect, stretch its width; the sheet and window now show it so too."""
    clip = anamorphic_clip(tmp_path / "anamorphic.mkv", aspect, rotation)
    with av.open(str(clip)) as container:
        shown_width = round(HEIGHT * container.streams.video[0].display_aspect_ratio)
    assert shown_width != WIDTH
    (frame,) = preview_frames(clip, colorizer(weights), [1], temporal=TemporalOptions(enabled=False))
    with VideoSource(clip) as source:
        luma = [luma.y for luma in source.frames()][1]
    stretched = cv2.resize(np.clip((luma - 16.0) / 219.0, 0, 1).astype(np.float32), (shown_width, HEIGHT),
                           interpolation=cv2.INTER_AREA if shown_width < WIDTH else cv2.INTER_LINEAR)
    expected = np.rot90(stretched, rotation // 90)
    assert frame.original.shape == frame.colour.shape == (*expected.shape, 3)
    assert np.abs(frame.original[..., 0] - expected).max() < 1e-5
    assert np.abs(frame.colour - frame.original).mean() > 1 / 255  # coloured, not grey

    sheet = tmp_path / "sheet.png"
    write_contact_sheet(clip, sheet, colorizer(weights), frames=2, temporal=TemporalOptions(enabled=False))
    panel_height, panel_width = expected.shape
    assert read_rgb(sheet).shape == (2 * (label_height(panel_width) + panel_height), 2 * panel_width, 3)


def test_options_a_photo_has_no_use_for_and_an_odd_sized_video_are_warned_of(weights, tmp_path) -> None:
    """A photo's --start/--frames were ignored without a word; an odd-sized video previewed happily although the
    render refuses it."""
    from image_media import make_image

    from vidcolor.errors import VidcolorWarning

    photo = make_image(tmp_path / "photo.png", mode="L")
    model = ["--weights", str(weights), "--device", "cpu", "--render-size", str(RENDER)]
    with pytest.warns(VidcolorWarning, match=f"--frames, --start are for video; ignored for the photo {photo}"):
        result = cli(str(photo), "--sheet", str(tmp_path / "photo_sheet.png"), "--frames", "3", "--start", "2", *model)
    assert result.exit_code == 0, result.output
    odd = make_video(tmp_path / "odd.mkv", size=(97, 65), frames=3, codec="ffv1")
    with pytest.warns(VidcolorWarning, match="odd.mkv is 97x65: 4:2:0 video needs an even width and height; .* the "
                                             "render will refuse it"):
        result = cli(str(odd), "--sheet", str(tmp_path / "odd_sheet.png"), *model)
    assert result.exit_code == 0, result.output


def count_opens(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[int]]:
    """Record every ``av.open`` (its file) and every :class:`VideoSource` opened, from now on."""
    opens: list[str] = []
    sources: list[int] = []
    real_open, real_init = av.open, VideoSource.__init__

    def counting_open(file, *args, **kwargs):
        opens.append(str(file))
        return real_open(file, *args, **kwargs)

    def counting_init(self, path):
        sources.append(1)
        real_init(self, path)

    monkeypatch.setattr(av, "open", counting_open)
    monkeypatch.setattr(VideoSource, "__init__", counting_init)
    return opens, sources


@pytest.mark.parametrize("window", [False, True], ids=["sheet", "window"])
def test_the_video_is_opened_once(weights, clip, tmp_path, monkeypatch, window) -> None:
    """The command opened the video three times (the odd-size check, the sheet's timeline, its frames; the
    window: the check, a second look at its kind, the session), each a probe of a long file on a
    network drive, with a decoded first frame for the rotation: 8 opens before the first row."""
    model = ["--weights", str(weights), "--device", "cpu", "--render-size", str(RENDER), "--temporal", "off"]
    if window:
        fake_window(monkeypatch, [ord("d"), ord("q")])
    opens, sources = count_opens(monkeypatch)
    output = [] if window else ["--sheet", str(tmp_path / "sheet.png"), "--frames", "3"]
    result = cli(str(clip), *output, *model)
    assert result.exit_code == 0, result.output
    assert len(sources) == 1
    # a look at its kind, the VideoSource, and the VideoSource's own look at the first frame's rotation
    assert len(opens) <= 3 and set(opens) == {str(clip)}, opens


def test_a_sheet_decodes_only_the_frames_it_needs(weights, tmp_path, monkeypatch) -> None:
    """A two-row sheet of a long film decoded every frame up to its last row (a full decode of the film);
    it now seeks to the keyframe before each row's warm-up."""
    gop, frames = 8, 120
    long_clip = make_video(tmp_path / "long.mp4", size=(WIDTH, HEIGHT), frames=frames, gop=gop)
    decoded: list[int] = []
    luma = VideoSource._luma
    monkeypatch.setattr(VideoSource, "_luma", lambda self, frame, index: decoded.append(1) or luma(self, frame, index))
    result = write_contact_sheet(long_clip, tmp_path / "sheet.png", colorizer(weights), frames=2,
                                 temporal=TemporalOptions(strength=0.5))
    assert result.frames == [0, frames - 1]
    warmup = warmup_frames(TemporalOptions(strength=0.5))
    assert len(decoded) <= 1 + warmup + gop, len(decoded)


@pytest.mark.parametrize("panel_width", [16, 40, 70, 96, 176, 640])
def test_labels_are_readable_at_any_panel_width(panel_width) -> None:
    """The label strip was one line in a fixed font: over panels under ~70 px (tiny clips, portrait phone
    video shown small) the time and settings ran off the row's right edge. Now the parts wrap, the font
    shrinks to a readable minimum, and a row too narrow even for that is widened."""
    text = label_text(1234, 41.17, "temporal on 0.70  saturation 1.00")
    panel = np.full((HEIGHT, panel_width, 3), 0.5, np.float32)
    row = sheet_row(PreviewFrame(1234, 41.17, panel, panel), text)
    label = layout_label(text, panel_width)
    assert row.shape[:2] == (label.height + HEIGHT, max(2 * panel_width, label.width))
    strip = row[:label.height, :, 0].astype(int)
    ink = np.argwhere(strip > 127)
    assert ink[:, 1].max() < row.shape[1] - 2  # nothing runs off the right edge
    assert ink[:, 1].min() >= 2
    assert " ".join(" ".join(label.lines).split()) == " ".join(text.split())  # every word is shown
    digit_height = cv2.getTextSize("0", cv2.FONT_HERSHEY_SIMPLEX, label.scale, 1)[0][1]
    assert digit_height >= 9  # readable
    assert np.all(row[label.height:, :panel_width] == 128)  # the panels are untouched, on the left
    assert np.all(row[label.height:, 2 * panel_width:] == row[0, -1])  # any widening is background


def test_a_sheet_of_a_tiny_clip_shows_whole_labels(weights, tmp_path) -> None:
    """A 16x16 clip's sheet rows were 32 px wide under a label cut to "fram"."""
    tiny = make_video(tmp_path / "tiny.mp4", size=(16, 16), frames=3)
    result = write_contact_sheet(tiny, tmp_path / "sheet.png", colorizer(weights), temporal=TemporalOptions(enabled=False))
    labels = [layout_label(label_text(index, index * 1001 / 30000), 16) for index in result.frames]
    assert result.width == max(label.width for label in labels) > 32
    assert result.height == sum(label.height + 16 for label in labels)
    assert read_rgb(tmp_path / "sheet.png").shape == (result.height, result.width, 3)


@pytest.mark.parametrize("name", ["vfr-long-gop.mkv", "vfr-long-gop.mp4"])
def test_seeking_in_variable_rate_long_gop_video_shows_the_rendered_frame(weights, tmp_path, monkeypatch, name) -> None:
    """Frames reached by a seek (a jump in the window, a sheet row) in a variable-rate clip with B-frames and
    keyframes 16 frames apart are the ones the render colours at that index, with the render's colour."""
    temporal = TemporalOptions(strength=0.5)
    vfr = make_video(tmp_path / name, size=(WIDTH, HEIGHT), frames=48, vfr=True, gop=16, b_frames=2)
    render = tmp_path / "render.mkv"
    assert colorize_video(vfr, render, colorizer(weights), settings=LOSSLESS, temporal=temporal,
                          progress=False).frames == 48
    with VideoSource(vfr) as source:
        yuv = source_yuv_format(source)
    rendered = [(y, planes_to_rgb(y, u, v, yuv)) for y, u, v in decoded_planes(render)]
    with PreviewSession(vfr, colorizer(weights), temporal) as session:
        shown = [session.frame(index) for index in (40, 17, 18, 47, 30)]
    sheet = tmp_path / "sheet.png"
    monkeypatch.setattr(preview_module, "_DECODE_ON", 0)  # each row sought, as in a long film
    result = write_contact_sheet(vfr, sheet, colorizer(weights), frames=3, temporal=temporal)
    for row, index in enumerate(result.frames):  # 8-bit: compared with the render's colour rounded alike
        original, colour = sheet_panels(read_rgb(sheet), row)
        shown.append(PreviewFrame(index, 0.0, original / 255, colour / 255))
    assert [frame.index for frame in shown] == [40, 17, 18, 47, 30, 0, 24, 47]
    for number, frame in enumerate(shown):
        y, colour = rendered[frame.index]
        if number >= 5:
            colour = np.rint(colour.astype(np.float64) * 255) / 255
        assert np.abs(frame.original[..., 0] * 255 - np.clip((y - 16.0) / 219, 0, 1) * 255).max() <= 0.5 + 1e-4
        difference = np.abs(frame.colour - colour) * 255
        assert difference.mean() < 0.05 and difference.max() <= 1.5, (frame.index, difference.mean(), difference.max())


DAMAGED_PACKETS = [5, 15]  # decode order: with B-frames, the frames shown 5th and 16th


def damaged_video(folder: Path, ext: str) -> tuple[Path, list[int], int]:
    """A 30-frame clip with two damaged packets, the indices of the frames that decode, and its length."""
    clip = make_video(folder / f"whole.{ext}", size=(WIDTH, HEIGHT), frames=30, gop=10)
    damaged = damage_packets(clip, folder / f"damaged.{ext}", DAMAGED_PACKETS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VidcolorWarning)
        with VideoSource(damaged) as source:
            return damaged, [frame.index for frame in source.frames()], len(source.timeline())


def held_frame(index: int, kept: list[int]) -> int:
    """The frame the render shows at ``index``: itself, or the one before it that decodes."""
    return max(frame for frame in kept if frame <= index)


def assert_same_colour(shown: np.ndarray, expected: np.ndarray, index: int) -> None:
    # batches of 1 and of 8 round differently in the last float bit; a chroma code may flip by one
    difference = np.abs(shown - expected) * 255
    assert difference.mean() < 0.05 and difference.max() <= 1.5, (index, difference.mean(), difference.max())


@pytest.mark.parametrize("ext", ["mp4", "ts"])
def test_a_sheet_shows_a_damaged_frame_as_the_render_holds_it(weights, tmp_path, ext) -> None:
    """A damaged frame keeps its place in an MP4 (the render holds the frame before it on screen), but the
    sheet left its row out, and the frames after it were coloured by a smoother started afresh, not the
    render's. Now its row shows the held frame, labelled with its own index and time and marked damaged.
    (MPEG-TS leaves a damaged frame out of the timeline: the frame before simply lasts longer.)"""
    temporal = TemporalOptions(strength=0.5)
    damaged, kept, count = damaged_video(tmp_path, ext)
    render = tmp_path / "render.mkv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VidcolorWarning)
        colorize_video(damaged, render, colorizer(weights), settings=LOSSLESS, temporal=temporal, progress=False)
        with VideoSource(damaged) as source:
            yuv, timeline = source_yuv_format(source), source.timeline()
        shown = preview_frames(damaged, colorizer(weights), range(count), temporal=temporal)
        result = write_contact_sheet(damaged, tmp_path / "sheet.png", colorizer(weights), frames=count,
                                     temporal=temporal)
    rendered = [(y, planes_to_rgb(y, u, v, yuv)) for y, u, v in decoded_planes(render)]
    assert len(rendered) == len(kept) and (len(kept) < count) == (ext == "mp4")
    assert [frame.index for frame in shown] == result.frames == list(range(count))
    assert result.height == sum(row_size(describe(frame), WIDTH, HEIGHT)[1] for frame in shown)
    for frame in shown:
        holder = held_frame(frame.index, kept)
        assert frame.seconds == pytest.approx(timeline.seconds_of(frame.index))
        assert frame.shows == (None if holder == frame.index else holder)
        assert ("(damaged: shows frame" in describe(frame)) == (frame.shows is not None)
        y, colour = rendered[kept.index(holder)]
        assert np.abs(frame.original[..., 0] * 255 - np.clip((y - 16.0) / 219, 0, 1) * 255).max() <= 1e-3
        assert_same_colour(frame.colour, colour, frame.index)


@pytest.mark.parametrize("ext", ["mp4", "ts"])
def test_the_window_shows_a_damaged_frame_as_the_render_holds_it(weights, tmp_path, monkeypatch, ext) -> None:
    """Stepping onto a damaged frame of an MP4 showed the frame after it under that frame's label, so the
    next step skipped a frame; a jump there did the same. Now the window shows the held frame at the asked
    index and time, says it is damaged, and steps on from it."""
    from vidcolor import viewer

    temporal = TemporalOptions(strength=0.5)
    damaged, kept, count = damaged_video(tmp_path, ext)
    lost = [index for index in range(count) if index not in kept]
    points = [index for first in lost for index in (first - 1, first, first + 1)] or [4, 5, 6]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VidcolorWarning)
        reference = {frame.index: frame for frame in preview_frames(damaged, colorizer(weights), range(count),
                                                                    temporal=temporal)}
        with PreviewSession(damaged, colorizer(weights), temporal) as session:
            assert session.frame_count == count
            # stepped onto and past, jumped to from after and from before, the last frame, a step back
            shown = [session.frame(index) for index in (*points, *reversed(points), count - 1, *points[1:3])]
            titles = fake_window(monkeypatch, [ord("d"), ord("d"), ord("q")])
            start = session.timeline.seconds_of(points[0]) + 1e-3
        viewer.run_viewer(damaged, colorizer(weights), temporal=temporal, start_seconds=start)
    assert [frame.index for frame in shown] == [*points, *reversed(points), count - 1, *points[1:3]]
    for frame in shown:
        expected = reference[frame.index]
        assert (frame.seconds, frame.shows) == (expected.seconds, expected.shows)
        assert np.array_equal(frame.original, expected.original), frame.index
        assert_same_colour(frame.colour, expected.colour, frame.index)
    assert [title.split("frame ")[1].split()[0] for title in titles] == [str(index) for index in points[:3]]
    if lost:
        assert f"(damaged: shows frame {lost[0] - 1})" in titles[1]


def test_a_sheet_that_damaged_rows_would_make_too_large_is_refused_before_any_frame_is_rendered(weights, tmp_path,
                                                                                                  monkeypatch) -> None:
    """The size check measured the labels of frames that decode: a damaged frame's row carries "(damaged: shows
    frame N)" as well, on narrow pictures a second line, so a sheet at its format's limit passed the check and
    was refused only once every row had been rendered. Now each row is measured with every label it may carry."""
    import vidcolor.io.images as images

    damaged, kept, count = damaged_video(tmp_path, "mp4")
    assert len(kept) < count
    with VideoSource(damaged) as source:
        timeline = source.timeline()
    undamaged = sum(row_size(label_text(index, timeline.seconds_of(index)), WIDTH, HEIGHT)[1] for index in range(count))
    monkeypatch.setitem(images._MAX_SIDE, ".webp", undamaged)
    monkeypatch.setattr(preview_module, "_frames_of", lambda *args, **kwargs: pytest.fail("frames were rendered"))
    sheet = tmp_path / "sheet.webp"
    result = cli(str(damaged), "--sheet", str(sheet), "--frames", str(count), "--weights", str(weights),
                 "--device", "cpu", "--render-size", str(RENDER))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "too large for .webp" in lines[0] and "damaged" in lines[0], result.output
    assert not sheet.exists() and not list(tmp_path.glob(".*partial*"))


def test_a_sheet_that_passes_the_size_check_fits_whichever_frames_are_damaged(weights, tmp_path, monkeypatch) -> None:
    """The counterpart of the test above: at the largest size the check allows, the damaged clip's sheet is
    written, and where the damage note fits on the label's line (wider pictures) a clip is not refused for
    rows that might be damaged."""
    import vidcolor.io.images as images

    damaged, kept, count = damaged_video(tmp_path, "mp4")
    with VideoSource(damaged) as source:
        timeline = source.timeline()
    rows = [(index, timeline.seconds_of(index)) for index in range(count)]
    allowed = sheet_size(WIDTH, HEIGHT, rows, last=count - 1)
    monkeypatch.setitem(images._MAX_SIDE, ".webp", max(allowed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VidcolorWarning)
        result = write_contact_sheet(damaged, tmp_path / "sheet.webp", colorizer(weights), frames=count,
                                     temporal=TemporalOptions(enabled=False))
    assert result.frames == list(range(count))
    assert result.width <= allowed[0] and result.height <= allowed[1]
    wide = 640
    clean = sheet_size(wide, HEIGHT, rows, last=None)
    assert sheet_size(wide, HEIGHT, rows, last=count - 1) == clean
    monkeypatch.setitem(images._MAX_SIDE, ".webp", max(clean))
    check_sheet_size(".webp", wide, HEIGHT, rows, last=count - 1)


def test_the_label_font_draws_every_digit_equally_wide() -> None:
    """The size check measures a damaged row's label once per number of digits of the frame it names: it relies
    on every digit taking the same width."""
    for scale in (0.35, 0.5, 0.9, 2.0):
        widths = {cv2.getTextSize(str(digit) * 3, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for digit in range(10)}
        assert len(widths) == 1, (scale, widths)


@pytest.mark.parametrize(("seconds", "shown"), [(299.9997, "5:00.00"), (59.996, "1:00.00"), (59.994, "0:59.99"),
                                                (119.9951, "2:00.00"), (3600.0, "60:00.00")])
def test_a_time_just_before_a_whole_minute_is_labelled_with_the_next_minute(seconds, shown) -> None:
    """Frame 8991 of a 29.97 fps film starts at 299.9997 s and was labelled "4:60.00"."""
    assert label_text(8991, seconds) == f"frame 8991  {shown}"


@pytest.mark.parametrize("closed_window", ["gone", "raises"])
def test_closing_the_window_with_its_close_button_quits_without_an_error(weights, clip, monkeypatch,
                                                                         closed_window) -> None:
    """Closing the window (its X button) ended the command with `Error: ... Can't destroy non-registered window`
    and exit 1: GTK's and Windows' OpenCV refuse to destroy a window the user has closed, and Windows' refuses
    even to say whether it is visible."""
    titles = fake_window(monkeypatch, [])

    def destroyed(*args: object) -> None:
        raise cv2.error("OpenCV(4.10.0) window_gtk.cpp:1260: error: (-215:Assertion failed) found && \"Can't destroy "
                        "non-registered window\" in function 'cvDestroyWindow'")

    def invisible(*args: object) -> float:
        if closed_window == "raises":
            raise cv2.error("OpenCV(4.10.0) window_w32.cpp: error: (-27:Null pointer) NULL window: 'vidcolor preview'")
        return 0.0

    monkeypatch.setattr(cv2, "waitKeyEx", lambda delay: -1)
    monkeypatch.setattr(cv2, "getWindowProperty", invisible)
    monkeypatch.setattr(cv2, "destroyWindow", destroyed)
    result = cli(str(clip), "--weights", str(weights), "--device", "cpu", "--render-size", str(RENDER),
                 "--temporal", "off")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert len(titles) == 1
