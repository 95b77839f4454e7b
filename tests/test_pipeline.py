"""End to end through the library: real files in, real files out, timing, sound and luma kept."""

import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import rgb2lab


from tests.helpers import ConstantColour
from tests.image_media import make_image
from tests.locks import CONTENT, fcntl, written_by_another_run
from tests.media import make_video, read_packets, read_video_frames
from vidcolor.errors import OutputError
from vidcolor.io.output import partial_path
from vidcolor.io.images import read_image
from vidcolor.models import create_generator
from vidcolor.pipeline import colorize_image, colorize_video
from vidcolor.temporal import TemporalOptions
from vidcolor.worker import Colorizer

SHARED_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"


@pytest.fixture(scope="module")
def purple() -> Colorizer:
    """Lab a = +33, b = -22 everywhere."""
    return Colorizer(ConstantColour(0.3, -0.2), device="cpu", render_size=64)


@pytest.fixture(scope="module")
def tiny() -> Colorizer:
    torch.manual_seed(0)
    return Colorizer(create_generator("tiny-unet"), device="cpu", render_size=64)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _mean_ab(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        rgb = frame.to_ndarray(format="rgb24")
    return rgb2lab(rgb)[..., 1:].reshape(-1, 2).mean(0)


def test_cpu_inference_in_small_channels_last_calls_matches_one_nchw_call():
    torch.manual_seed(0)
    model = create_generator("tiny-unet").eval()
    last_conv = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last_conv.weight.mul_(300)  # it starts near zero (grey output): make the output colourful
    colorizer = Colorizer(model, device="cpu", render_size=256)  # 256x256: two frames per call
    lightness = torch.rand(5, 1, 256, 256) * 100
    with torch.inference_mode():
        nchw = model.to(memory_format=torch.contiguous_format)((lightness / 50 - 1).contiguous()) * 110
        model.to(memory_format=torch.channels_last)
        assert nchw.abs().amax() > 20
        assert torch.allclose(colorizer.predict_ab(lightness), nchw, atol=1e-3)


def test_saturation_multiplies_the_calibrated_scale_and_threads_follow_omp_num_threads(monkeypatch):
    """The user's --saturation is kept apart from the model's calibration (the preview showed and clamped
    their product); a Colorizer raised torch's thread count over an OMP_NUM_THREADS=1 the user had set."""
    colorizer = Colorizer(ConstantColour(0.3, -0.2), device="cpu", render_size=64, saturation=0.5, calibration=1.2)
    assert colorizer.saturation == 0.5
    ab = colorizer.predict_ab(torch.full((1, 1, 64, 64), 50.0))
    assert torch.allclose(ab[0, :, 0, 0], torch.tensor([0.3, -0.2]) * 110 * 1.2 * 0.5, atol=1e-4)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        Colorizer(ConstantColour(0.3, -0.2), device="cpu", render_size=64)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)


def test_video_keeps_frames_timing_sound_and_luma(media_dir, purple):
    source = make_video(media_dir / "grey.mp4", size=(322, 182), frames=24, rate=Fraction(30000, 1001), audio="aac")
    out = media_dir / "colour.mp4"
    result = colorize_video(source, out, purple, batch_size=5, progress=False)
    assert result.frames == 24 and out.is_file()
    before, after = read_video_frames(source), read_video_frames(out)
    assert [float(p * tb) for p, tb, _ in after] == pytest.approx([float(p * tb) for p, tb, _ in before], abs=1e-6)
    assert min(_psnr(a[2], b[2]) for a, b in zip(before, after)) >= 40.0
    assert read_packets(out, "audio") == read_packets(source, "audio")
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == Fraction(30000, 1001)
        assert (stream.codec_context.width, stream.codec_context.height) == (322, 182)
    a, b = _mean_ab(out)
    assert a == pytest.approx(33, abs=6) and b == pytest.approx(-22, abs=6)


def test_variable_frame_rate_and_mp3_in_mkv(media_dir, tiny):
    source = make_video(media_dir / "vfr.mkv", size=(160, 96), frames=20, vfr=True, audio="mp3")
    out = media_dir / "vfr_colour.mkv"
    colorize_video(source, out, tiny, batch_size=4, progress=False)
    before, after = read_video_frames(source), read_video_frames(out)
    assert [p * tb for p, tb, _ in after] == [p * tb for p, tb, _ in before]
    assert read_packets(out, "audio") == read_packets(source, "audio")


def test_rotation_metadata_is_kept(media_dir, tiny):
    from vidcolor.io.decode import VideoSource

    source = make_video(media_dir / "rot.mp4", size=(128, 72), frames=6, rotation=90)
    out = media_dir / "rot_colour.mp4"
    colorize_video(source, out, tiny, progress=False)
    with VideoSource(source) as a, VideoSource(out) as b:
        assert a.info.rotation == b.info.rotation == 90


def test_temporal_smoothing_runs_in_the_stream(media_dir, purple):
    source = make_video(media_dir / "t.mp4", size=(128, 96), frames=12)
    out = media_dir / "t_colour.mp4"
    result = colorize_video(source, out, purple, temporal=TemporalOptions(strength=0.9), progress=False)
    assert result.frames == 12 and result.cuts == 0
    a, b = _mean_ab(out)
    assert a == pytest.approx(33, abs=6) and b == pytest.approx(-22, abs=6)


def test_image_keeps_lightness_and_size(media_dir, purple):
    source = make_image(media_dir / "grey.png", size=(97, 61), mode="L")
    out = media_dir / "colour.jpg"
    result = colorize_image(source, out, purple)
    assert (result.width, result.height) == (97, 61)
    grey, colour = read_image(source), read_image(out)
    lab_in, lab_out = rgb2lab(np.repeat(grey.grey[..., None], 3, 2)), rgb2lab(colour.rgb)
    assert np.abs(lab_in[..., 0] - lab_out[..., 0]).mean() < 1.5
    assert lab_out[..., 1].mean() == pytest.approx(33, abs=6)


@pytest.mark.real_data
@pytest.mark.skipif(not SHARED_VIDEO.is_dir(), reason="../shared/data/video not present")
@pytest.mark.parametrize("name", ["bw/dicky_test.mp4", "color/realshort.mp4"])
def test_real_clips(tmp_path, tiny, name):
    source = SHARED_VIDEO / name
    out = tmp_path / source.name
    result = colorize_video(source, out, tiny, progress=False)
    before, after = read_video_frames(source), read_video_frames(out)
    assert result.frames == len(before) == len(after)
    assert [p * tb for p, tb, _ in after] == pytest.approx([p * tb for p, tb, _ in before], abs=1e-3)
    with av.open(str(source)) as container:
        if container.streams.audio:
            assert read_packets(out, "audio") == read_packets(source, "audio")
    assert min(_psnr(a[2], b[2]) for a, b in zip(before, after)) >= 35.0


def test_a_photo_too_large_for_the_output_format_fails_before_the_model_runs(tmp_path: Path) -> None:
    source = tmp_path / "tall.png"
    Image.fromarray(np.zeros((20000, 8), np.uint8)).save(source)
    calls = []
    model = ConstantColour(0.2, -0.2)
    model.register_forward_hook(lambda *_: calls.append(1))
    with pytest.raises(OutputError, match="too large for .webp"):
        colorize_image(source, tmp_path / "tall.webp", Colorizer(model, device="cpu", render_size=64))
    assert calls == [] and not list(tmp_path.glob("*.webp"))


def test_an_output_name_too_long_for_its_working_file_gets_a_shorter_working_file(tmp_path: Path) -> None:
    """A 250-byte name exists happily, but its '.NAME.partial.EXT' did not (Errno 36), so a batch could not
    colour such a file; the working name is now cut short with a hash, and two such names still differ."""
    source = make_video(tmp_path / "in.mp4", size=(64, 48), frames=3)
    colorizer = Colorizer(ConstantColour(0.2, -0.2), device="cpu", render_size=64)
    long_names = [tmp_path / ("c" * 240 + tail + ".mp4") for tail in ("-reel1", "-reel2")]
    working = [partial_path(name) for name in long_names]
    assert len({path.name for path in working}) == 2
    assert all(len(path.name.encode()) == 255 and path.name.endswith(".partial.mp4") for path in working)
    for output in long_names:
        assert colorize_video(source, output, colorizer, progress=False).frames == 3
    assert sorted(tmp_path.iterdir()) == sorted([source, *long_names])


def test_colorize_rgb_takes_8_and_16_bit_arrays_and_refuses_other_shapes() -> None:
    """uint8 input came out all white; a (H, W) array gave a torch error about sparse tensors."""
    colorizer = Colorizer(ConstantColour(0.2, -0.2), device="cpu", render_size=64)
    grey = np.tile(np.linspace(0, 255, 48).astype(np.uint8), (32, 1))[..., None].repeat(3, axis=2)
    expected = colorizer.colorize_rgb(grey.astype(np.float32) / 255)
    np.testing.assert_allclose(colorizer.colorize_rgb(grey), expected, atol=1e-6)
    np.testing.assert_allclose(colorizer.colorize_rgb(grey.astype(np.uint16) * 257), expected, atol=1e-5)
    for wrong in (grey[..., 0], grey[..., :1], np.dstack([grey, grey[..., :1]]), grey[None]):
        with pytest.raises(ValueError, match=r"shape \(H, W, 3\)"):
            colorizer.colorize_rgb(wrong)
    with pytest.raises(ValueError, match="int32"):
        colorizer.colorize_rgb(grey.astype(np.int32))
    with pytest.raises(ValueError, match=r"in \[0, 1\] .* got 0 to 255"):
        colorizer.colorize_rgb(grey.astype(np.float32))


@pytest.mark.skipif(fcntl is None, reason="no flock on this system")
def test_a_second_run_writing_the_same_output_at_once_stops_and_leaves_the_first_ones_file(
    tmp_path: Path, purple: Colorizer
) -> None:
    """Two runs (or two folder runs) colouring into one place used one working file: the second truncated
    and wrote into the first's, and a folder run then took the garbled file for a complete output."""
    source = make_video(tmp_path / "in.mp4", size=(64, 48), frames=3)
    output = tmp_path / "out.mp4"
    with written_by_another_run(output) as working:
        with pytest.raises(OutputError, match="being written by another run"):
            colorize_video(source, output, purple, progress=False)
        assert working.read_bytes() == CONTENT and not output.exists()
    assert colorize_video(source, output, purple, progress=False).frames == 3  # a stale working file is reused
    assert not working.exists()


@pytest.mark.skipif(fcntl is None, reason="no flock on this system")
def test_a_file_system_without_locks_still_gets_its_output(tmp_path: Path, purple: Colorizer, monkeypatch) -> None:
    """Some network and FUSE mounts refuse flock (ENOLCK, EOPNOTSUPP): the lock is a courtesy, not a need."""
    import errno

    def no_locks(descriptor, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    source = make_video(tmp_path / "in.mp4", size=(64, 48), frames=3)
    assert colorize_video(source, tmp_path / "out.mp4", purple, progress=False).frames == 3


class _CreatesTheOutput(ConstantColour):
    """Colours purple, and meanwhile something else writes the output file (as a copy into the folder would)."""

    def __init__(self, output: Path) -> None:
        super().__init__(0.3, -0.2)
        self.output = output

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        if not self.output.exists():
            self.output.write_bytes(CONTENT)
        return super().forward(l_norm)


@pytest.mark.parametrize("hard_links", [True, False])
@pytest.mark.parametrize("kind", ["video", "image"])
def test_an_output_that_appears_during_the_work_is_left_alone_and_the_result_kept(
    tmp_path: Path, monkeypatch, kind: str, hard_links: bool
) -> None:
    """The output was checked absent before the work and then replaced at the end, whatever appeared meanwhile."""
    if not hard_links:  # FAT, exFAT, some network shares
        monkeypatch.setattr("os.link", lambda *args: (_ for _ in ()).throw(PermissionError(1, "Operation not permitted")))
    source = make_video(tmp_path / "in.mp4", size=(64, 48), frames=3) if kind == "video" else make_image(
        tmp_path / "in.png", size=(64, 48), mode="L")
    output = tmp_path / f"out{source.suffix}"
    colorizer = Colorizer(_CreatesTheOutput(output), device="cpu", render_size=64)
    render = colorize_video if kind == "video" else colorize_image
    with pytest.raises(OutputError, match="created by something else while this run wrote it") as error:
        render(source, output, colorizer, **({"progress": False} if kind == "video" else {}))
    assert output.read_bytes() == CONTENT
    kept = partial_path(output)
    assert str(kept) in str(error.value) and kept.stat().st_size > len(CONTENT)
    output.unlink()
    kept.unlink()
    render(source, output, colorizer, overwrite=True, **({"progress": False} if kind == "video" else {}))
    assert output.read_bytes() != CONTENT and not kept.exists()  # --overwrite replaces it, as asked


@pytest.mark.parametrize(("transfer", "named"), [(16, "PQ"), (18, "HLG"), (1, None)])
def test_an_hdr_source_is_named_as_coloured_with_sdr_maths(tmp_path: Path, purple: Colorizer, transfer: int,
                                                           named: str | None) -> None:
    """An HDR grey master kept its PQ/HLG tags while its chroma was made as for SDR, without a word."""
    source = tmp_path / "master.mkv"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.color_trc, stream.codec_context.color_primaries, stream.codec_context.colorspace = transfer, 9, 9
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64), 60 + 40 * index, np.uint8), format="gray")
            frame = frame.reformat(format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        colorize_video(source, tmp_path / "out.mkv", purple, progress=False)
    hdr = [str(warning.message) for warning in caught if "HDR" in str(warning.message)]
    assert len(hdr) == (0 if named is None else 1), hdr
    assert named is None or f"HDR video ({named}" in hdr[0]


def _picture_then_long_sound(path: Path, seconds: int) -> Path:
    """An MKV with two grey pictures at the start and ``seconds`` of PCM sound: a tape whose picture ends first."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream("pcm_s16le", rate=48000, layout="stereo")
        for index in range(2):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64), 100, np.uint8), format="gray").reformat(format="yuv420p")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        noise = np.random.default_rng(0).integers(-3000, 3000, (1, 2 * 4800)).astype(np.int16)
        for start in range(0, seconds * 48000, 4800):
            samples = av.AudioFrame.from_ndarray(noise, format="s16", layout="stereo")
            samples.sample_rate, samples.pts = 48000, start
            container.mux(sound.encode(samples))
        container.mux(sound.encode(None))
    return path


def test_sound_after_the_last_picture_streams_through_in_small_batches(tmp_path: Path, purple: Colorizer,
                                                                      monkeypatch) -> None:
    """Packets rode in the batch of the frames before them until batch_size more frames came: all the sound after
    the last picture (a song over one still, a tape whose picture ends first) was held in memory at once, 130 MB
    for 10 minutes of PCM, and Ctrl-C waited for the rest of the file to be demuxed."""
    import vidcolor.pipeline as pipeline

    source = _picture_then_long_sound(tmp_path / "tape.mkv", seconds=5)
    monkeypatch.setattr(pipeline, "BATCH_PACKET_BYTES", 64 * 1024)
    run_stages, held = pipeline.run_stages, []

    def measured(batches, *args):
        def measure():
            for batch in batches:
                held.append(sum(packet.size for packet in batch.packets))
                yield batch
        return run_stages(measure(), *args)

    monkeypatch.setattr(pipeline, "run_stages", measured)
    out = tmp_path / "colour.mkv"
    assert colorize_video(source, out, purple, progress=False).frames == 2
    largest_packet = max(len(payload) for _, _, payload in read_packets(source, "audio"))
    assert len(held) > 10 and max(held) < 64 * 1024 + largest_packet
    assert read_packets(out, "audio") == read_packets(source, "audio")
