"""Set up the encoded video stream: encoder checks, frame rate and slots, pixel format, field order, encoder
options and colour tags; and turn 4:2:0 planes into frames that encoder takes."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from vidcolor.errors import InputError, OutputError, VidcolorWarning
from vidcolor.io.containers import counts_frames, stores_frame_times, takes
from vidcolor.io.colour_matrices import JPEG_RANGE, MPEG_RANGE
from vidcolor.io.decode import VideoSource

DEFAULT_PRESET = "medium"  # --preset's default, which leaves an encoder with numbered presets at its own
_FULL_RANGE_ENCODERS = frozenset({"mjpeg", "ljpeg"})  # JPEG samples are full range (FFmpeg refuses limited range)
_BITS_PER_PIXEL = 0.2  # bit rate for encoders without a constant-quality mode: ~20 Mb/s at 1080p25
_MPEG_FRAME_RATES = tuple(Fraction(rate) for rate in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60"))
_MAX_SLOT_RATE = 240  # a source AVI's time base finer than this is not a frame slot
_INTERLACED_ORDERS = frozenset({2, 3, 4, 5})  # AVFieldOrder: TT, BB, TB, BT (0 unknown, 1 progressive)
_BOTTOM_FIELD_FIRST = 3  # AVFieldOrder BB
_BOTTOM_SHOWN_FIRST = frozenset({3, 4})  # BB, TB: the bottom field is shown first
_DV_SD_HEIGHTS = frozenset({480, 576})  # DV (NTSC, PAL), whose streams leave the field order unknown: bottom first
_FIELD_ORDER_ENCODERS = frozenset({"libx264"})  # told the order by option (x264-params tff=1 or bff=1)
# encoders that read the order off each frame, which PyAV cannot mark top field first: they write bottom first
_BOTTOM_FIRST_ENCODERS = frozenset({"mpeg2video", "dvvideo"})
# DV (DV25) takes only the frame size and rate of NTSC or PAL, each in its own pixel format (NTSC's is 4:1:1)
_DV_FORMATS = {(720, 480, Fraction(30000, 1001)): "yuv411p", (720, 576, Fraction(25)): "yuv420p"}
_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
_ENCODER_PRESETS = {"libx264": _X26X_PRESETS, "libx264rgb": _X26X_PRESETS, "libx265": _X26X_PRESETS}
_NUMBERED_OPTION_TYPES = frozenset({"INT", "INT64", "UINT", "UINT64"})
# options of particular encoders: libx265 prints its own log past FFmpeg's log level (errors only, then); DNxHD's
# own profiles take only a few sizes and bit rates, DNxHR HQ (8-bit 4:2:2, for editing) any size from 256x120
_ENCODER_OPTIONS = {"libx265": {"x265-params": "log-level=error"}, "dnxhd": {"profile": "dnxhr_hq"}}
_DNXHR_SMALLEST = (256, 120)  # width, height: FFmpeg's DNxHR encoder fails to open below them
_COARSE_TIME_BASE_ENCODERS = frozenset({"mpeg4", "msmpeg4", "msmpeg4v2", "h263", "h263p"})  # at most 1/65535


@dataclass(frozen=True)
class StreamTiming:
    """How the video stream is timed: the time base frames are encoded in and whether frames go on slots of
    1/rate (``on_slots``), every one of them filled (``constant_rate``: MPEG-1/2 and Ogg)."""

    time_base: Fraction
    on_slots: bool = False
    constant_rate: bool = False


def check_codec(name: str) -> None:
    """:class:`OutputError` unless ``name`` is a video encoder this FFmpeg has."""
    try:
        codec = av.Codec(name, "w")
    except ValueError as e:
        raise OutputError(f"unknown video encoder {name!r}; use one FFmpeg has, e.g. libx264 or mpeg4") from e
    if codec.type != "video":
        raise OutputError(f"{name} encodes {codec.type}, not video; use a video encoder such as libx264 or mpeg4")


def add_video_stream(
    container: av.container.OutputContainer,
    source: VideoSource,
    codec_name: str,
    crf: int,
    preset: str,
    *,
    name: str,
    suffix: str,
) -> tuple[av.VideoStream, StreamTiming]:
    """Add the stream the colourised frames of ``source`` are encoded into with the encoder ``codec_name``, and
    say how it is timed. ``name`` is how warnings call the file, ``suffix`` its file type in errors."""
    info, template = source.info, source.video_stream
    encoder = av.Codec(codec_name, "w").name  # --codec h264 is libx264
    presets = _ENCODER_PRESETS.get(encoder)
    if presets is not None and preset not in presets:
        raise OutputError(f"--preset {preset} is not a {encoder} preset; use one of {', '.join(presets)}")
    check_even_size(source.path.name, info.width, info.height)
    check_smallest_size(encoder, info.width, info.height)
    if not takes(container, av.Codec(codec_name, "w")):
        raise OutputError(f"'{suffix}' files ({container.format.name}) cannot take "
                          f"{codec_name} video; pick another --codec or file type")
    # Slots of a constant-rate container (AVI) are the real frame rate (FFmpeg's guess, which a
    # variable-rate or gappy source's average would not be); elsewhere the rate is only a hint.
    # Encoders of MPEG-1/2 video take only the standard frame rates and show every frame for one
    # period, and Ogg counts frames instead of storing their times, so they get constant-rate slots,
    # filled by repeating or dropping frames (as ffmpeg's -vsync cfr); MPEG-4 part 2 takes no time base
    # finer than 1/65535 (MP4's 1/12800 is fine, MPEG-TS's 1/90000 is not): it gets slots of 1/rate too.
    codec = av.Codec(codec_name, "w")
    standard_rates = bool(codec.frame_rates)
    fixed_slots = not stores_frame_times(container.format.name)
    constant_rate = standard_rates or counts_frames(container.format.name)
    slotted = fixed_slots or constant_rate or (
        codec.name in _COARSE_TIME_BASE_ENCODERS and info.time_base.denominator > 65535)
    rate = (template.guessed_rate or info.average_rate) if slotted else _stated_rate(source)
    if slotted and source.container.format.name == "avi" and 1 / info.time_base <= _MAX_SLOT_RATE:
        rate = 1 / info.time_base  # an AVI's time base is its exact frame slot (FFmpeg guesses 30 for 45000/1499)
    if standard_rates:  # the nearest standard rate (45000/1499 -> 30; a 16 fps silent film -> 24)
        rate = min(_MPEG_FRAME_RATES, key=lambda candidate: abs(candidate - Fraction(rate or 25)))
    pix_fmt = _pixel_format(codec, info.width, info.height, rate)
    stream = container.add_stream(codec_name, rate=rate)
    # FFmpeg's own default (PyAV opens encoders with slice threads only, which made libx264 cut every
    # picture into one slice per core: 4.5 % larger and 0.3 dB worse at CRF 18 on 16 cores)
    stream.codec_context.thread_type = "AUTO"
    stream.width, stream.height, stream.pix_fmt = info.width, info.height, pix_fmt
    timing = StreamTiming(info.time_base, constant_rate=constant_rate)
    if rate and slotted:
        timing = StreamTiming(1 / Fraction(rate), on_slots=True, constant_rate=constant_rate)
    if fixed_slots:
        stream.codec_context.max_b_frames = 0  # such containers store no pts to reorder by
    stream.codec_context.time_base = timing.time_base
    stream.time_base = timing.time_base
    src = template.codec_context
    if encoder in _FULL_RANGE_ENCODERS:
        stream.codec_context.color_range = JPEG_RANGE
    else:
        stream.codec_context.color_range = MPEG_RANGE if src.color_range == JPEG_RANGE else src.color_range
    stream.codec_context.colorspace = info.matrix  # for RGB sources, the matrix the chroma was made in
    stream.codec_context.color_primaries = src.color_primaries
    stream.codec_context.color_trc = src.color_trc
    if template.sample_aspect_ratio:
        stream.sample_aspect_ratio = template.sample_aspect_ratio
    field_options = _keep_fields(container, name, stream, _field_order(source), encoder, info.height)
    private = {option.name: option for option in stream.codec_context.supported_options.private}
    options = {"crf": str(crf), **_preset_option(private.get("preset"), preset, encoder),
               **field_options, **_encoder_options(encoder)}
    stream.options = {key: value for key, value in options.items() if key in private}
    if "crf" not in private:  # a bit-rate encoder (mpeg1/2/4): FFmpeg's default of 200 kb/s would smear the picture
        pixels_per_second = info.width * info.height * float(rate or 25)
        stream.codec_context.bit_rate = max(template.codec_context.bit_rate or 0, round(_BITS_PER_PIXEL * pixels_per_second))
    if info.mirrored:  # the whole matrix: a rotation alone would turn a mirrored picture upside down
        stream.set_display_matrix(info.display_matrix)
    elif info.rotation:
        stream.set_display_rotation(info.rotation)
    return stream, timing


def add_copied_video(
    container: av.container.OutputContainer, source: VideoSource, template: av.VideoStream
) -> av.VideoStream:
    """Add a stream for the already encoded packets of ``template`` (segments of a render of ``source``)."""
    stream = container.add_stream_from_template(template)
    # the rate the segments were encoded at where it is their slots (MPEG-2 in MXF, Ogg); else the
    # rate a render in one go states (Matroska would take 1/tick from the H.264 timing info: 30000
    # fps for a variable-rate MPEG-TS, which states no average rate)
    fixed = _standard_rates_only(template.codec_context.name) or counts_frames(container.format.name)
    rate = template.average_rate if fixed else _stated_rate(source)
    if rate:
        stream.codec_context.framerate = rate
    return stream


def frame_for_encoder(
    y: np.ndarray, u: np.ndarray, v: np.ndarray, size: tuple[int, int], ctx: av.video.codeccontext.VideoCodecContext
) -> av.VideoFrame:
    """A frame of the 4:2:0 uint8 planes (``size``: height, width) in the pixel format, range and colour tags
    of the encoder ``ctx``."""
    height, width = size
    chroma = ((height + 1) // 2, (width + 1) // 2)
    for name, plane, shape in (("y", y, (height, width)), ("u", u, chroma), ("v", v, chroma)):
        if plane.shape != shape or plane.dtype != np.uint8:
            raise ValueError(f"{name} plane must be uint8 {shape}, got {plane.dtype} {plane.shape}")
    frame = av.VideoFrame(width, height, "yuv420p")
    for target, values in zip(frame.planes, (y, u, v)):
        rows = np.zeros((target.height, target.line_size), dtype=np.uint8)
        rows[:, : target.width] = values
        target.update(rows)
    frame.colorspace, frame.color_primaries, frame.color_trc = ctx.colorspace, ctx.color_primaries, ctx.color_trc
    if ctx.color_range == JPEG_RANGE:  # the planes are limited range: stretch them for a JPEG encoder
        frame.color_range = MPEG_RANGE
        return frame.reformat(format=ctx.pix_fmt, src_color_range=MPEG_RANGE, dst_color_range=JPEG_RANGE)
    frame.color_range = ctx.color_range
    if ctx.pix_fmt not in ("yuv420p", "pal8"):
        frame = frame.reformat(format=ctx.pix_fmt)
    return frame


def _keep_fields(
    container: av.container.OutputContainer, name: str, stream: av.VideoStream, field_order: int, codec: str, height: int
) -> dict[str, str]:
    """Encode an interlaced source (DV, broadcast captures) as interlaced, in its field order, so that
    players deinterlace it; returns the encoder options that set the order. libx264 takes either order
    (as an option); MPEG-2 and DV read it off each frame, which PyAV cannot mark top field first, so they
    keep bottom-first fields only. Fields need an even height (4:2:0 chroma in each field: 720x486 NTSC
    has 243 lines)."""
    if field_order not in _INTERLACED_ORDERS:
        return {}
    bottom_first = field_order in _BOTTOM_SHOWN_FIRST
    if codec == "dvvideo" and not bottom_first:
        warnings.warn(f"{name}: dvvideo writes fields bottom first, so this top-field-first video will "
                      "play with its fields swapped; use --codec libx264 and another file type to keep them",
                      category=VidcolorWarning, stacklevel=4)
        return {}
    if codec not in _FIELD_ORDER_ENCODERS and (codec not in _BOTTOM_FIRST_ENCODERS or not bottom_first):
        warnings.warn(f"{name}: {codec} writes this interlaced video as progressive; "
                      f"{_field_advice(container, bottom_first)}", category=VidcolorWarning, stacklevel=4)
        return {}
    if height % 4:
        warnings.warn(f"{name}: fields of {height // 2} lines cannot be encoded as 4:2:0 fields; "
                      "writing this interlaced video as progressive (crop it to a height divisible by 4 "
                      "to keep its fields)", category=VidcolorWarning, stacklevel=4)
        return {}
    stream.codec_context.field_order = field_order
    stream.codec_context.flags |= int(av.codec.context.Flags.interlaced_dct) | int(av.codec.context.Flags.interlaced_me)
    if codec in _FIELD_ORDER_ENCODERS:  # else x264 writes top field first whatever the stream says
        return {"x264-params": "bff=1" if bottom_first else "tff=1"}
    return {}


def _field_advice(container: av.container.OutputContainer, bottom_first: bool) -> str:
    """How to keep the fields: --codec libx264 where the container takes H.264, else (MPEG-PS) MPEG-2 for
    bottom-first fields, else another file type."""
    if takes(container, av.Codec("libx264", "w")):
        return "use --codec libx264 to keep its fields"
    if bottom_first and takes(container, av.Codec("mpeg2video", "w")):
        return "use --codec mpeg2video to keep its fields"
    return "use --codec libx264 and a file type that takes it (.mkv, .mp4) to keep its fields"


def _encoder_options(encoder: str) -> dict[str, str]:
    """The options ``encoder`` needs here (:data:`_ENCODER_OPTIONS`). An encoder's own log, printed past
    FFmpeg's log level, is kept to its errors, as FFmpeg's is; SVT-AV1 reads its level from the environment
    once, at its first use in the process: SVT_LOG is set for it unless the user has set it."""
    if encoder == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")
    return _ENCODER_OPTIONS.get(encoder, {})


def _preset_option(option: av.codec.context.CodecOption | None, preset: str, encoder: str) -> dict[str, str]:
    """The encoder option for ``--preset``: named presets (x264/x265, checked before) are passed as they are;
    a numbered one (SVT-AV1: -2 to 13) takes a number, and the default, ``medium``, leaves such an encoder
    at its own default. ``option`` is the encoder's ``preset`` option, None where it has none."""
    if option is None:
        return {}
    if option.type.name not in _NUMBERED_OPTION_TYPES or option.choices:
        return {"preset": preset}
    if preset.lstrip("-").isdigit() and option.min <= int(preset) <= option.max:
        return {"preset": preset}
    if preset == DEFAULT_PRESET:
        return {}
    raise OutputError(f"--preset {preset} is not a {encoder} preset; use a number from {option.min:g} to {option.max:g}")


def _stated_rate(source: VideoSource) -> Fraction | None:
    """The frame rate an output that keeps each frame's time states (only a hint there): the source's average,
    else FFmpeg's guess (a variable-rate MPEG-TS states no average)."""
    return source.info.average_rate or source.video_stream.guessed_rate


def _field_order(source: VideoSource) -> int:
    """The source's AVFieldOrder: its stream's, or for DV, whose streams leave it unknown, bottom field first
    at standard definition (NTSC and PAL DV)."""
    order = int(source.video_stream.codec_context.field_order or 0)
    if order == 0 and source.info.codec == "dvvideo" and source.info.height in _DV_SD_HEIGHTS:
        return _BOTTOM_FIELD_FIRST
    return order


def check_even_size(name: str, width: int, height: int) -> None:
    """:class:`InputError` for a video of odd width or height, which 4:2:0 output cannot hold."""
    if width % 2 or height % 2:
        raise InputError(f"{name} is {width}x{height}: 4:2:0 video needs an even width and height; crop or pad it "
                         "by one pixel first (e.g. ffmpeg -vf crop=trunc(iw/2)*2:trunc(ih/2)*2)")


def check_smallest_size(encoder: str, width: int, height: int) -> None:
    """:class:`OutputError` for a picture smaller than ``encoder`` takes (DNxHR: 256x120), before its stream is
    set up: FFmpeg would only say "Invalid argument", after the sound's routes were chosen on a failing probe."""
    smallest_width, smallest_height = _DNXHR_SMALLEST
    if encoder == "dnxhd" and (width < smallest_width or height < smallest_height):
        raise OutputError(f"dnxhd (DNxHR) takes pictures of at least {smallest_width}x{smallest_height}, not "
                          f"{width}x{height}; scale the video up or pick another --codec such as prores_ks or ffv1")


def _standard_rates_only(codec_name: str) -> bool:
    """Whether the encoder of ``codec_name`` takes only the standard frame rates (MPEG-1/2 video)."""
    try:
        return bool(av.Codec(codec_name, "w").frame_rates)
    except av.codec.codec.UnknownCodecError:
        return False


def _pixel_format(codec: av.Codec, width: int, height: int, rate: Fraction | None) -> str:
    """The pixel format the 4:2:0 planes are encoded in: yuv420p, else the encoder's first format (RGB for
    PNG and APNG: a palette would cost them colours), or for GIF pal8, a palette made for each frame. DV takes the format of its standard (NTSC
    or PAL) for the frame size and rate, and refuses others."""
    if codec.name == "dvvideo":
        dv_format = _DV_FORMATS.get((width, height, Fraction(rate or 0)))
        if dv_format is None:
            raise OutputError(f"DV takes only 720x480 at 29.97 fps (NTSC) or 720x576 at 25 fps (PAL), not {width}x{height} "
                              f"at {float(rate or 0):.3f} fps; pick another file type or --codec")
        return dv_format
    formats = [pixel_format.name for pixel_format in codec.video_formats or ()]
    if not formats or "yuv420p" in formats:
        return "yuv420p"
    return "pal8" if "pal8" in formats and codec.name == "gif" else formats[0]
