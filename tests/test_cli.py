"""The command line: every bad input gives one line on stderr, a non-zero exit and no output file."""

import itertools
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
import torch
from click.testing import CliRunner

from cli import main
from tests.image_media import make_image
from tests.media import live_without_pictures, make_video
from vidcolor.models import checkpoint, create_generator, save_generator

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "grey.mp4", size=(96, 64), frames=8, audio="aac")


def run(*args: str) -> "click.testing.Result":  # noqa: F821
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, fragment: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


def no_outputs(folder: Path, keep: set[str]) -> bool:
    return {p.name for p in folder.iterdir()} == keep


def test_help_lists_commands_and_options():
    result = run("--help")
    assert result.exit_code == 0
    for word in ("batch", "colorize", "Bring colour back"):
        assert word in result.output
    result = run("colorize", "--help")
    for option in ("--weights", "--device", "--batch-size", "--render-size", "--saturation", "--overwrite",
                   "--quiet", "--codec", "--crf", "--preset", "--temporal"):
        assert option in result.output


def test_default_command_colourises_video_and_image(tmp_path, weights, clip):
    out = tmp_path / "out.mkv"
    result = run(clip, "-o", out, "--weights", weights, "--render-size", "64", "--quiet")
    assert result.exit_code == 0, result.output
    assert out.is_file() and result.stderr == ""
    image = make_image(tmp_path / "photo.png", mode="L")
    result = run(image, "-o", tmp_path / "photo_colour.png", "--weights", weights, "--render-size", "64")
    assert result.exit_code == 0 and (tmp_path / "photo_colour.png").is_file()
    assert "photo_colour.png: 96x64" in result.stderr


def test_default_command_with_a_folder_runs_the_batch(tmp_path, weights, clip):
    src = tmp_path / "archive"
    (src / "clips").mkdir(parents=True)
    make_image(src / "photo.png", mode="L")
    (src / "clips" / "grey.mp4").write_bytes(clip.read_bytes())
    result = run(src, "-o", tmp_path / "colour", "--weights", weights, "--render-size", "64")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "colour" / "photo.png").is_file() and (tmp_path / "colour" / "clips" / "grey.mp4").is_file()
    assert "2 done, 0 skipped, 0 failed, 0 ignored" in result.stderr
    # options first, or the output before the folder: still the batch
    again = run("-o", tmp_path / "colour", "--weights", weights, "--render-size", "64", src)
    assert again.exit_code == 0, again.output
    assert "0 done, 2 skipped, 0 failed, 0 ignored" in again.stderr


def test_a_folder_named_like_an_option_after_a_double_dash_runs_the_batch(tmp_path, weights, monkeypatch):
    """`vidcolor -o OUT -- -archive` was taken for one file: "-archive is a folder; pass a video or image file"."""
    (tmp_path / "-archive").mkdir()
    make_image(tmp_path / "-archive" / "photo.png", mode="L")
    monkeypatch.chdir(tmp_path)
    result = run("-o", "colour", "--weights", weights, "--render-size", "64", "--", "-archive")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "colour" / "photo.png").is_file()


@pytest.mark.parametrize(
    "make_input, fragment",
    [
        (lambda d: d / "missing.mp4", "does not exist"),
        (lambda d: (d / "empty.mp4").write_bytes(b"") and d / "empty.mp4" or d / "empty.mp4", "empty"),
        (lambda d: (d / "notes.mp4").write_text("just some words\n" * 50) and d / "notes.mp4", "not"),
    ],
    ids=["missing", "zero-bytes", "not-media"],
)
def test_bad_input_files(tmp_path, weights, make_input, fragment):
    source = make_input(tmp_path)
    result = run(source, "-o", tmp_path / "out.mp4", "--weights", weights)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "out.mp4").exists()


def test_audio_only_file_has_no_video_stream(tmp_path, weights):
    import av
    import numpy as np

    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    result = run(path, "-o", tmp_path / "out.mp4", "--weights", weights)
    assert_one_line_error(result, "video")
    assert not (tmp_path / "out.mp4").exists()


def test_video_stream_without_frames_leaves_nothing(tmp_path, weights):
    """A live-written file whose video track got no picture (only sound) must not leave a sound-only output."""
    path = live_without_pictures(tmp_path / "no_picture.mkv")
    result = run(path, "-o", tmp_path / "out.mp4", "--weights", weights, "--render-size", "64", "-q")
    assert_one_line_error(result, "no decodable frames")
    assert no_outputs(tmp_path, {"no_picture.mkv"})


def test_truncated_video_leaves_nothing(tmp_path, weights):
    full = make_video(tmp_path / "full.mkv", size=(96, 64), frames=40)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    result = run(cut, "-o", tmp_path / "out.mkv", "--weights", weights, "--render-size", "64", "--quiet")
    assert_one_line_error(result, "truncated")
    assert no_outputs(tmp_path, {"full.mkv", "cut.mkv"})


def test_output_problems(tmp_path, weights, clip):
    assert_one_line_error(run(clip, "-o", clip, "--weights", weights), "would overwrite the input")
    hidden = tmp_path / ".named.partial.mp4"  # the temporary file of -o named.mp4
    hidden.write_bytes(clip.read_bytes())
    assert_one_line_error(run(hidden, "-o", tmp_path / "named.mp4", "--weights", weights), "would overwrite the input")
    assert hidden.read_bytes() == clip.read_bytes()
    hidden.unlink()
    assert_one_line_error(run(clip, "-o", tmp_path / "no" / "such" / "out.mp4", "--weights", weights), "does not exist")
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"keep me")
    assert_one_line_error(run(clip, "-o", existing, "--weights", weights), "--overwrite")
    assert existing.read_bytes() == b"keep me"
    result = run(clip, "-o", existing, "--weights", weights, "--overwrite", "--render-size", "64", "-q")
    assert result.exit_code == 0 and existing.stat().st_size > 1000


@pytest.mark.parametrize("output", [".", "./", "/", ""])
def test_an_output_that_names_a_folder_without_a_name_is_one_line(tmp_path, weights, clip, output, monkeypatch):
    """`-o .` (the current folder) ended in "ValueError: Path('.') has an empty name", a bug's report."""
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(run(clip, "-o", output, "--weights", weights), "is a folder; give a file name")


def test_an_unwritable_output_folder_is_named_before_the_model_loads(tmp_path, clip, monkeypatch):
    """It was blamed on the codec ('cannot be set up for libx264 video ... check --codec'), after the model loaded."""
    real_access = os.access
    monkeypatch.setattr("vidcolor.io.output.os.access",
                        lambda path, mode: False if Path(path) == tmp_path / "ro" else real_access(path, mode))
    monkeypatch.setattr("vidcolor.commands.colorize.load_colorizer", lambda *a, **k: pytest.fail("model loaded"))
    (tmp_path / "ro").mkdir()
    assert_one_line_error(run(clip, "-o", tmp_path / "ro" / "out.mp4"), f"output folder {tmp_path / 'ro'} is not writable")


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs (unwritable even for root)")
def test_a_folder_the_file_cannot_be_created_in_is_not_blamed_on_the_codec(tmp_path, weights, clip):
    result = run(clip, "-o", "/sys/out.mp4", "--weights", weights, "--render-size", "64", "-q")
    assert_one_line_error(result, "; choose another output folder")
    assert "/sys/" in result.stderr
    assert "--codec" not in result.stderr


@pytest.mark.parametrize("name", ["still.png", "notes.txt", "clip.WEBP", "sound.flac", "sound.wav", "words.srt",
                                  "stream.m3u8", "icon.ico"])
@pytest.mark.parametrize("resume", [False, True])
def test_video_to_a_non_video_file_type_is_refused(tmp_path, weights, clip, name, resume):
    """.flac took the sound alone and reported the frames written; .wav and .srt failed with
    'UnknownCodecError: none'."""
    result = run(clip, "-o", tmp_path / name, "--weights", weights, *(["--resume"] if resume else []))
    assert_one_line_error(result, "cannot write video as")
    assert ".mp4" in result.stderr
    assert (".apng" in result.stderr) == name.endswith(".png")  # an animated PNG's name was not suggested
    assert no_outputs(tmp_path, set())


def test_a_file_type_whose_video_encoder_is_missing_is_one_line(tmp_path, weights, clip):
    """Ogg's video codec is Theora, which FFmpeg builds often lack: that was 'UnknownCodecError: theora'."""
    try:
        av.Codec("theora", "w")
        pytest.skip("this FFmpeg has a Theora encoder")
    except av.codec.codec.UnknownCodecError:
        pass
    result = run(clip, "-o", tmp_path / "out.ogg", "--weights", weights, "--render-size", "64")
    assert_one_line_error(result, "no theora encoder for '.ogg' files; pick --codec or another file type")
    assert no_outputs(tmp_path, set())


def test_a_pipe_as_input_is_one_line(tmp_path, weights):
    """A named pipe was called empty (0 bytes)."""
    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)
    result = run(fifo, "-o", tmp_path / "out.mp4", "--weights", weights)
    assert_one_line_error(result, "is not a regular file (a pipe or device); save it to a file first")


@pytest.mark.parametrize(("name", "options", "fragment"), [
    ("out.webm", ["--codec", "libx264"], "'.webm' files (webm) cannot take libx264 video"),
    # x264's own "[error]: invalid preset" log line came before an error that blamed the file type
    ("out.mp4", ["--preset", "nonsense"], "--preset nonsense is not a libx264 preset; use one of ultrafast,"),
    ("out.mp4", ["--codec", "h264", "--preset", "fastt"], "--preset fastt is not a libx264 preset"),
], ids=["codec-the-container-cannot-take", "unknown-x264-preset", "unknown-preset-for-h264-by-its-codec-name"])
def test_encoder_settings_that_cannot_work_are_one_line(tmp_path, weights, clip, name, options, fragment):
    result = run(clip, "-o", tmp_path / name, *options, "--weights", weights, "--render-size", "64")
    assert_one_line_error(result, fragment)
    assert no_outputs(tmp_path, set())


def test_unreadable_weights(tmp_path, clip):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage" * 10)
    assert_one_line_error(run(clip, "-o", tmp_path / "out.mp4", "--weights", bad), "safetensors")
    assert_one_line_error(run(clip, "-o", tmp_path / "out.mp4", "--weights", tmp_path / "nope.safetensors"), "not found")
    assert not (tmp_path / "out.mp4").exists()


def test_without_bundled_model_says_so(tmp_path, clip, monkeypatch):
    monkeypatch.setattr(checkpoint, "DEFAULT_WEIGHTS", tmp_path / "absent.safetensors")
    assert_one_line_error(run(clip, "-o", tmp_path / "out.mp4"), "no default model is bundled")


def test_bad_option_values(tmp_path, weights, clip):
    result = run(clip, "-o", tmp_path / "o.mp4", "--weights", weights, "--render-size", "100")
    assert result.exit_code == 2 and "multiple of 32" in result.stderr
    result = run(clip, "-o", tmp_path / "o.mp4", "--weights", weights, "--codec", "no-such-codec", "-q")
    assert_one_line_error(result, "no-such-codec")
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("stops", [[signal.SIGINT], [signal.SIGTERM], [signal.SIGINT, signal.SIGINT]],
                         ids=["ctrl-c", "sigterm", "ctrl-c-twice"])
def test_ctrl_c_mid_render_leaves_no_file(tmp_path, stops):
    """A real SIGINT (or SIGTERM) to a real render: exit 130, one line, neither output nor temporary file.
    Ctrl-C pressed twice in quick succession crashed (SIGSEGV) or hung the process and left the temporary file."""
    torch.manual_seed(0)
    weights = tmp_path / "lite0.safetensors"
    save_generator(create_generator("lite0-unet"), weights, "lite0-unet")
    source = make_video(tmp_path / "long.mp4", size=(160, 96), frames=150)
    out = tmp_path / "out.mp4"
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "cli.py"), str(source), "-o", str(out), "--weights", str(weights),
         "--batch-size", "2", "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    partial = tmp_path / ".out.partial.mp4"
    deadline = time.monotonic() + 120
    while not partial.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert partial.exists(), "render never started writing"
    time.sleep(1.0)
    for stop in stops:
        process.send_signal(stop)
        time.sleep(0.007)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    error_lines = [line for line in stderr.splitlines() if line.startswith("Error")]
    assert error_lines == ["Error: interrupted; no output was written"]
    assert "Traceback" not in stderr
    assert not out.exists() and not partial.exists()


def test_a_file_size_limit_is_named_not_blamed_on_the_file_type(tmp_path, weights):
    """Under `ulimit -f` the message said "try another output file type"."""
    source = make_video(tmp_path / "in.mp4", size=(320, 240), frames=24)
    out = tmp_path / "out.mp4"
    limit = 64 * 1024
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "cli.py"), str(source), "-o", str(out), "--weights", str(weights),
         "--render-size", "64", "--preset", "ultrafast", "--crf", "0", "-q"],
        capture_output=True, text=True, cwd=tmp_path,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
    )
    assert result.returncode == 1, result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        f"Error: {out} could not be written: the file grew past the largest size allowed here (file system or ulimit -f)"]
    assert not out.exists() and not (tmp_path / ".out.partial.mp4").exists()


def test_a_photo_to_a_video_or_unknown_extension_is_refused_before_the_model_loads(tmp_path, clip, monkeypatch):
    from vidcolor.commands import colorize

    monkeypatch.setattr(colorize, "load_colorizer", lambda *args: pytest.fail("the model was loaded"))
    photo = make_image(tmp_path / "photo.jpg", mode="L")
    for name in ("out.gif", "out.mp4", "out.xyz"):
        assert_one_line_error(run(photo, "-o", tmp_path / name), "cannot write images")
    assert_one_line_error(run(clip, "-o", tmp_path / "out.png"), "cannot write video")
    assert no_outputs(tmp_path, {"photo.jpg"})


@pytest.mark.parametrize("option", ["--saturation", "--temporal-strength"])
def test_nan_is_not_a_number_an_option_accepts(tmp_path, weights, clip, option):
    result = run(clip, "-o", tmp_path / "out.mp4", "--weights", weights, option, "nan")
    assert result.exit_code == 2 and "not a finite number" in result.stderr
    assert not (tmp_path / "out.mp4").exists()


def test_train_and_evaluate_errors_are_one_line(tmp_path, weights):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    photos = tmp_path / "photos"
    photos.mkdir()
    make_image(photos / "colour.png", mode="RGB")
    result = run("evaluate", "--data", photos, "--weights", weights, "--out", blocker / "eval")
    assert_one_line_error(result, "a_file")
    result = run("train", "--data", photos, "--out", blocker / "run", "--arch", "tiny-unet", "--pretrain-epochs", "1")
    assert_one_line_error(result, "a_file")
    result = run("train", "--data", photos, "--out", tmp_path / "run", "--pretrain-minutes", "nan")
    assert result.exit_code == 2 and "not a finite number" in result.stderr


def test_odd_frame_size_is_refused_in_one_line(tmp_path, weights):
    """4:2:0 output cannot hold an odd width or height; say so instead of an encoder error."""
    source = make_video(tmp_path / "odd.mkv", size=(97, 65), frames=3, codec="ffv1")
    result = run(source, "-o", tmp_path / "out.mp4", "--weights", weights, "-q")
    assert_one_line_error(result, "even width and height")
    assert no_outputs(tmp_path, {"odd.mkv"})


def break_the_render(monkeypatch, error: Exception) -> None:
    """Make every render raise ``error`` where the frames would be coloured."""
    from vidcolor import pipeline

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(pipeline, "run_stages", broken)


def test_an_unexpected_error_is_still_one_line(tmp_path, weights, clip, monkeypatch):
    """A bug (any exception type) shows its type and message and how to see the traceback, not the traceback."""
    break_the_render(monkeypatch, AttributeError("'NoneType' object has no attribute 'planes'"))
    result = run(clip, "-o", tmp_path / "out.mp4", "--weights", weights, "-q")
    assert_one_line_error(result, "AttributeError: 'NoneType' object has no attribute 'planes' (set VIDCOLOR_DEBUG=1")
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("command", [[], ["preview"], ["batch"]], ids=["colorize", "preview", "batch"])
def test_every_command_takes_the_same_device_names(tmp_path, weights, clip, command):
    """Rendering took only auto/cpu/cuda while train and evaluate took cuda:N too."""
    source = clip if command != ["batch"] else clip.parent
    output = ["--sheet", tmp_path / "s.png"] if command == ["preview"] else ["-o", tmp_path / "o.mp4"]
    result = run(*command, source, *output, "--weights", weights, "--device", "tpu")
    assert result.exit_code == 2 and "unknown device 'tpu'; use auto, cpu, cuda or cuda:N" in result.stderr
    if not torch.cuda.is_available():
        result = run(*command, source, *output, "--weights", weights, "--device", "cuda:1")
        assert result.exit_code == 2 and "no CUDA GPU is available" in result.stderr


def test_a_second_stop_signal_cannot_cut_the_clean_up_short():
    """After the first Ctrl-C (or SIGTERM/SIGHUP) the others are ignored while the run cleans up."""
    import cli as cli_module

    saved = {stop: signal.getsignal(stop) for stop in cli_module.STOP_SIGNALS}
    try:
        with pytest.raises(KeyboardInterrupt):
            cli_module._stop_on_signal(signal.SIGINT, None)
        assert all(signal.getsignal(stop) is signal.SIG_IGN for stop in cli_module.STOP_SIGNALS)
    finally:
        for stop, handler in saved.items():
            signal.signal(stop, handler)


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_ctrl_c_while_the_libraries_load_is_one_line(stop):
    """Ctrl-C in the first seconds (PyTorch loading) printed a 60-line traceback of imports; SIGTERM exited 143."""
    interrupt_soon = ("import os, signal, sys, threading; sys.argv = ['vidcolor', '--help']; "
                      f"threading.Timer(0.3, os.kill, (os.getpid(), signal.{stop})).start(); import cli")
    result = subprocess.run([sys.executable, "-c", interrupt_soon], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 130, result.stderr
    assert result.stderr == "Error: interrupted\n"


def test_ctrl_c_while_the_options_are_checked_is_130(tmp_path, weights, clip, monkeypatch):
    """Ctrl-C while `--device` was checked (CUDA initialising) escaped every handler: click printed
    'Aborted!' and exited 1."""
    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.setattr("vidcolor.commands._common.resolve_device", interrupted)
    result = run(clip, "-o", tmp_path / "out.mp4", "--weights", weights)
    assert_one_line_error(result, "interrupted; no output was written", code=130)
    assert no_outputs(tmp_path, set())


@pytest.mark.parametrize("message", ["OpenCV(5.0.0) dis_flow.cpp:1446: error: (-215:Assertion failed) in function 'calc'\n",
                                     "Error(s) in loading state_dict:\n\tMissing key(s): 'head.weight'"],
                         ids=["opencv-trailing-line-break", "several-lines"])
def test_an_unexpected_error_of_several_lines_is_one_line(tmp_path, weights, clip, monkeypatch, message):
    """OpenCV's errors end in a line break, which put the '(set VIDCOLOR_DEBUG=1 ...)' hint on a second line."""
    break_the_render(monkeypatch, RuntimeError(message))
    result = run(clip, "-o", tmp_path / "out.mp4", "--weights", weights, "-q")
    assert_one_line_error(result, f"RuntimeError: {message.splitlines()[0]} (set VIDCOLOR_DEBUG=1 for details)")


def test_a_library_error_of_several_lines_is_one_line(tmp_path, weights, clip, monkeypatch):
    from vidcolor.errors import InputError

    break_the_render(monkeypatch, InputError("grey.mp4 cannot be read (decoder said:\nbad data); pass a complete file"))
    result = run(clip, "-o", tmp_path / "out.mp4", "--weights", weights, "-q")
    assert_one_line_error(result, "grey.mp4 cannot be read (decoder said: bad data); pass a complete file")


def test_a_folder_after_bundled_short_options_runs_the_batch(tmp_path, weights):
    """`vidcolor -qo COLOUR ARCHIVE` took COLOUR for the input and refused ARCHIVE: 'is a folder'."""
    src = tmp_path / "archive"
    src.mkdir()
    make_image(src / "photo.png", mode="L")
    result = run("-qo", tmp_path / "colour", "--weights", weights, "--render-size", "64", src)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "colour" / "photo.png").is_file()


def test_video_options_for_a_photo_are_named_as_ignored(tmp_path, weights):
    """`--crf`, `--codec`, `--resume`... for a photo did nothing, without a word."""
    photo = make_image(tmp_path / "photo.png", mode="L")

    def vidcolor(output: str, *options: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(REPO_ROOT / "cli.py"), str(photo), "-o", output, "--weights",
                               str(weights), "--render-size", "64", "-q", *options],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)

    result = vidcolor("a.png", "--codec", "libx265", "--crf", "30", "--resume", "--temporal", "off")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"warning: --codec, --crf, --temporal, --resume are for video; ignored for the photo {photo}"]
    assert (tmp_path / "a.png").is_file()
    result = vidcolor("b.png")
    assert result.returncode == 0 and result.stderr == ""


def test_standard_input_and_output_are_named(tmp_path, weights, clip, monkeypatch):
    """`-` was taken for a file: '- does not exist; check the path', and for output a file type."""
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(run("-", "-o", "out.mp4", "--weights", weights), "standard input")
    assert_one_line_error(run(clip, "-o", "-", "--weights", weights), "standard output")
    assert no_outputs(tmp_path, set())


def test_preview_names_standard_input_and_refuses_overwrite_without_a_sheet(tmp_path, weights, clip, monkeypatch):
    """`vidcolor preview -` said "- does not exist; check the path", and `--overwrite` without `--sheet` was
    silently ignored (while `--frames` without `--sheet` is a usage error)."""
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(run("preview", "-", "--weights", weights), "standard input")
    result = run("preview", clip, "--overwrite", "--weights", weights)
    assert result.exit_code == 2 and "--overwrite" in result.stderr and "only applies with --sheet" in result.stderr


def test_debug_set_to_zero_keeps_errors_to_one_line(tmp_path, weights, clip, monkeypatch):
    """`VIDCOLOR_DEBUG=0` showed the traceback: any value at all counted as on."""
    break_the_render(monkeypatch, AttributeError("'NoneType' object has no attribute 'planes'"))
    monkeypatch.setenv("VIDCOLOR_DEBUG", "0")
    result = run(clip, "-o", tmp_path / "out.mp4", "--weights", weights, "-q")
    assert_one_line_error(result, "AttributeError: 'NoneType' object has no attribute 'planes' (set VIDCOLOR_DEBUG=1")


@pytest.mark.parametrize("segments", [0, 1])
def test_an_interrupted_resume_says_what_it_kept(tmp_path, weights, monkeypatch, segments):
    """Ctrl-C before the first segment was finished said 'finished segments are kept' of an empty folder."""
    from vidcolor import resume

    source = make_video(tmp_path / "in.mp4", size=(64, 48), frames=12)
    render_segments = resume._render_segments

    def interrupted(source, suffix, manifest, *args):
        if segments:
            manifest.data["segment_frames"] = 6
            frames = source.frames
            source.frames = lambda: itertools.islice(frames(), 6)  # the first segment, then Ctrl-C
            render_segments(source, suffix, manifest, *args)
        raise KeyboardInterrupt

    monkeypatch.setattr(resume, "_render_segments", interrupted)
    result = run(source, "-o", tmp_path / "out.mp4", "--weights", weights, "--resume", "-q")
    expected = ("interrupted; 1 finished segment is kept in" if segments
                else "interrupted before the first segment was finished; no output was written")
    assert_one_line_error(result, expected, code=130)


def test_broken_and_looping_links_and_a_file_as_the_output_folder_are_named(tmp_path, weights, clip):
    """A link to a moved file, or a link loop, said 'does not exist; check the path' of a path the user can
    see; `-o photo.png/out.mp4` said the folder photo.png 'does not exist'."""
    (tmp_path / "moved.mp4").symlink_to(tmp_path / "gone" / "film.mp4")
    (tmp_path / "a.mp4").symlink_to(tmp_path / "b.mp4")
    (tmp_path / "b.mp4").symlink_to(tmp_path / "a.mp4")
    result = run(tmp_path / "moved.mp4", "-o", tmp_path / "out.mp4", "--weights", weights)
    assert_one_line_error(result, f"is a symbolic link to {tmp_path / 'gone' / 'film.mp4'}, which does not exist")
    result = run(tmp_path / "a.mp4", "-o", tmp_path / "out.mp4", "--weights", weights)
    assert_one_line_error(result, "a.mp4 is a symbolic link that loops back on itself")
    (tmp_path / "photo.png").write_bytes(b"not a folder")
    result = run(clip, "-o", tmp_path / "photo.png" / "out.mp4", "--weights", weights)
    assert_one_line_error(result, "photo.png is a file, not a folder, so out.mp4 cannot be written in it")


def test_a_log_gets_the_summary_without_progress_bar_updates(tmp_path, weights, clip):
    result = run(clip, "-o", tmp_path / "out.mkv", "--weights", weights, "--render-size", "64")
    assert result.exit_code == 0, result.output
    assert "\r" not in result.stderr and "frames/s" not in result.stderr and "%|" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "out.mkv: 8 frames" in lines[0], result.stderr


def test_a_photo_too_big_for_the_free_memory_is_one_line(tmp_path, weights, monkeypatch):
    """A 100 MP scan on a small machine was killed by the system half-way, without a word."""
    image = make_image(tmp_path / "scan.png", mode="L")
    monkeypatch.setattr("vidcolor.worker.free_memory_bytes", lambda: 96 * 64 * 79)  # one byte a pixel short
    result = run(image, "-o", tmp_path / "scan_colour.png", "--weights", weights, "--render-size", "64")
    assert_one_line_error(result, "96x64 (0 MP): colouring it needs about")
    assert no_outputs(tmp_path, {"scan.png"})
    monkeypatch.setattr("vidcolor.worker.free_memory_bytes", lambda: 96 * 64 * 80)
    assert run(image, "-o", tmp_path / "scan_colour.png", "--weights", weights, "--render-size", "64").exit_code == 0
