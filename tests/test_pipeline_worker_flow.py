"""How frames flow through a render: batches of frames and packets, each frame's own colour in its own place,
and the model's ab upsampled onto the full-size photo."""

from __future__ import annotations

import queue
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from torch import nn

from tests.media import pattern_planes
from vidcolor import pipeline
from vidcolor.io.decode import LumaFrame
from vidcolor.pipeline import FrameBatch, batch_items, colorize_video
from vidcolor.worker import Colorizer

BRIGHT, DARK = 180, 50


class _RedWhenBright(nn.Module):
    """Colours a frame red (a > 0) when its mean L is above 50, green (a < 0) when below."""

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        sign = torch.sign(l_norm.mean(dim=(1, 2, 3)))[:, None, None, None]
        a = 0.3 * sign.expand(-1, 1, *l_norm.shape[-2:])
        return torch.cat([a, torch.zeros_like(a)], dim=1)


class _HorizontalRamp(nn.Module):
    """Predicts normalised a rising linearly from column 0 to the last column (0.01 a column), b = 0."""

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        columns = torch.arange(l_norm.shape[-1], dtype=torch.float32) * 0.01
        a = columns.expand(l_norm.shape[0], 1, *l_norm.shape[-2:])
        return torch.cat([a, torch.zeros_like(a)], dim=1)


@dataclass
class _Packet:
    """A stand-in for a demuxed packet of a copied stream: only its size matters to batching."""

    size: int


def _frame(index: int) -> LumaFrame:
    """A tiny decoded frame numbered ``index``."""
    return LumaFrame(index, index, np.zeros((2, 2), np.uint8))


def _shape(batches: Iterable[FrameBatch]) -> list[tuple[list[int], list[int]]]:
    """Each batch as (frame indices, packet sizes)."""
    return [([frame.index for frame in batch.frames], [packet.size for packet in batch.packets]) for batch in batches]


def _clip(path: Path, pictures: list[np.ndarray]) -> Path:
    """An H.264 clip of the limited-range luma ``pictures`` (all one size), one a frame at 25 fps."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width = pictures[0].shape
        stream.pix_fmt, stream.options = "yuv420p", {"crf": "10"}
        for index, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, format="gray").reformat(format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _levels_clip(path: Path, levels: list[int]) -> Path:
    """A clip of 64x48 frames, frame ``i`` uniformly of luma ``levels[i]``."""
    return _clip(path, [np.full((48, 64), level, np.uint8) for level in levels])


def _red_minus_green(path: Path) -> list[float]:
    """Mean R - G (0-255) of every decoded frame, in order."""
    with av.open(str(path)) as container:
        return [float(np.mean(rgb[..., 0].astype(np.int16) - rgb[..., 1]))
                for rgb in (frame.to_ndarray(format="rgb24") for frame in container.decode(video=0))]


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_every_frame_gets_the_colour_predicted_for_its_own_picture(tmp_path: Path, batch_size: int) -> None:
    """The colour of frame i is the model's answer for frame i, in full batches, in the last partial batch
    and in batches of one: bright frames come out red, dark ones green, in the source's order."""
    levels = [BRIGHT, DARK, DARK, BRIGHT, BRIGHT, DARK, BRIGHT]
    source = _levels_clip(tmp_path / "levels.mp4", levels)
    output = tmp_path / "colour.mp4"
    colorizer = Colorizer(_RedWhenBright(), device="cpu", render_size=32)
    result = colorize_video(source, output, colorizer, batch_size=batch_size, progress=False)
    assert result.frames == len(levels)
    tint = _red_minus_green(output)
    assert len(tint) == len(levels)
    assert [value > 10 for value in tint] == [level == BRIGHT for level in levels], tint
    assert [value < -10 for value in tint] == [level == DARK for level in levels], tint


@pytest.mark.parametrize("batch_size", [3, 8])
def test_a_scene_cut_inside_a_batch_is_found_by_temporal_smoothing(tmp_path: Path, batch_size: int) -> None:
    """Each frame is compared with the one before it, also within a batch: a clip of two shots spliced after
    frame 4 has one cut, wherever the batches split it."""
    shot = pattern_planes(96, 64, 0, pattern="still")[0]
    other = (255 - shot).clip(16, 235).astype(np.uint8)  # the same layout in negative: light where it was dark
    source = _clip(tmp_path / "spliced.mp4", [shot] * 4 + [other] * 4)
    colorizer = Colorizer(_RedWhenBright(), device="cpu", render_size=32)
    result = colorize_video(source, tmp_path / "colour.mp4", colorizer, batch_size=batch_size, progress=False)
    assert (result.frames, result.cuts) == (8, 1)


@pytest.mark.parametrize(("batch_size", "expected"), [
    (3, [([0, 1, 2], [10]), ([3, 4, 5], [20]), ([6], [30])]),
    (1, [([0], [10]), ([1], []), ([2], []), ([3], [20]), ([4], []), ([5], []), ([6], [30])]),
    (8, [([0, 1, 2, 3, 4, 5, 6], [10, 20, 30])]),
])
def test_frames_are_grouped_in_batches_of_batch_size_and_packets_ride_in_order(
        batch_size: int, expected: list[tuple[list[int], list[int]]]) -> None:
    """Packets go with the batch of the frame after them; the frames left over make a last, smaller batch,
    and packets after the last frame a batch of their own."""
    items = [_Packet(10), _frame(0), _frame(1), _frame(2), _Packet(20), _frame(3), _frame(4), _frame(5),
             _Packet(30), _frame(6)]
    assert _shape(batch_items(items, batch_size)) == expected
    assert _shape(batch_items([*items, _Packet(40)], 7)) == [([0, 1, 2, 3, 4, 5, 6], [10, 20, 30]), ([], [40])]


def test_after_a_batch_sent_early_for_its_packets_frames_are_batched_in_full_again(monkeypatch) -> None:
    """A batch goes on early once its packets reach the byte limit; the count starts again for the next one,
    so the frames after it still come in batches of batch_size, not one by one."""
    monkeypatch.setattr(pipeline, "BATCH_PACKET_BYTES", 100)
    items = [_frame(0), _Packet(60), _Packet(60), _frame(1), _frame(2), _frame(3), _Packet(50), _frame(4),
             _Packet(50), _frame(5)]
    assert _shape(batch_items(items, 3)) == [([0], [60, 60]), ([1, 2, 3], []), ([4], [50, 50]), ([5], [])]


def test_a_photos_colour_is_upsampled_bilinearly_onto_its_full_size() -> None:
    """The ab predicted at the render size is stretched onto the photo's own pixels with bilinear
    interpolation (pixel centres aligned), not blocky nearest-neighbour copies."""
    render, width, height = 32, 160, 12
    colorizer = Colorizer(_HorizontalRamp(), device="cpu", render_size=render)
    lightness, ab = colorizer.predict_full_size(np.full((height, width, 3), 0.5, np.float32))
    assert lightness.shape == (1, 1, height, width) and ab.shape == (1, 2, height, width)
    source_column = np.clip((np.arange(width) + 0.5) * render / width - 0.5, 0, render - 1)
    expected_a = source_column * 0.01 * 110  # normalised a times 110 Lab units
    np.testing.assert_allclose(ab[0, 0].numpy(), np.broadcast_to(expected_a, (height, width)), atol=1e-3)
    np.testing.assert_allclose(ab[0, 1].numpy(), 0.0, atol=1e-6)


def test_free_memory_counts_available_memory_and_free_swap(monkeypatch, tmp_path: Path) -> None:
    """What a photo may still take is MemAvailable plus free swap (in kB); without a swap line, MemAvailable."""
    from vidcolor import worker

    meminfo = tmp_path / "meminfo"
    real_open = open
    monkeypatch.setattr(worker, "open", lambda path, *args, **kwargs: real_open(meminfo, *args, **kwargs),
                        raising=False)
    meminfo.write_text("MemTotal:  8000 kB\nMemAvailable:  3000 kB\nSwapTotal:  4000 kB\nSwapFree:  1000 kB\n")
    assert worker.free_memory_bytes() == 4000 * 1024
    meminfo.write_text("MemTotal:  8000 kB\nMemAvailable:  3000 kB\n")
    assert worker.free_memory_bytes() == 3000 * 1024
    meminfo.write_text("MemTotal:  8000 kB\n")
    assert worker.free_memory_bytes() is None



class _ArrivesAsTheWaitEnds(queue.Queue):
    """A queue whose item is put just after a timed wait for it gives up (the other thread's last put)."""

    def __init__(self, late_item: object) -> None:
        super().__init__()
        self.late_item = late_item

    def get(self, block: bool = True, timeout: float | None = None) -> object:
        if timeout is not None and self.late_item is not None:
            self.put_nowait(self.late_item)
            self.late_item = None
            raise queue.Empty
        return super().get(block, timeout)


def test_a_batch_queued_just_as_the_decoder_finishes_is_still_coloured() -> None:
    """The decoder may queue its last batch and end between the model thread's wait running out and its look at
    the decoder: that batch is still taken, not dropped as if the video had ended."""
    finished = pipeline._Stage(lambda: None, "vidcolor-test-decode")
    finished.start()
    finished.join()
    last = FrameBatch([_frame(0)])
    assert pipeline._get(_ArrivesAsTheWaitEnds(last), finished) is last


def test_a_gpu_number_is_refused_from_the_machines_gpu_count_on(monkeypatch) -> None:
    """With two GPUs, cuda:0 and cuda:1 are taken and cuda:2 is a one-line argument error, not a CUDA failure
    later on."""
    from vidcolor.errors import ArgumentError
    from vidcolor.worker import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert [resolve_device(f"cuda:{index}") for index in (0, 1)] == [torch.device("cuda", 0), torch.device("cuda", 1)]
    with pytest.raises(ArgumentError, match=r"'cuda:2': this machine has 2 CUDA GPU\(s\), from cuda:0"):
        resolve_device("cuda:2")


@pytest.mark.parametrize(("threads", "raised_to"), [(1, [6]), (6, []), (8, [])])
def test_cpu_threads_are_raised_to_the_cores_this_process_may_use_and_never_lowered(
        monkeypatch, threads: int, raised_to: list[int]) -> None:
    """On six usable cores torch is given six threads when it has fewer; a count already as high is left."""
    import os

    from vidcolor import worker

    asked: list[int] = []
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(6)), raising=False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    monkeypatch.setattr(torch, "set_num_threads", asked.append)
    worker.use_all_cores()
    assert asked == raised_to
