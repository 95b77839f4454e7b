"""The library as another program uses it: the README's example, threads, and failures part-way through a video."""

import re
import threading
from pathlib import Path

import pytest
import torch

from tests.helpers import ConstantColour
from tests.image_media import make_image
from tests.media import make_video
from vidcolor.io import decode, encode
from vidcolor.models import create_generator, save_generator
from vidcolor.pipeline import colorize_video
from vidcolor.worker import Colorizer

README = Path(__file__).resolve().parents[1] / "README.md"


def _colourful_tiny() -> Colorizer:
    """A tiny U-Net whose colour depends on each frame (its last layer scaled up from near zero)."""
    torch.manual_seed(0)
    model = create_generator("tiny-unet")
    last_conv = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last_conv.weight.mul_(300)
    return Colorizer(model, device="cpu", render_size=64)


def test_the_readmes_python_example_runs_as_written(tmp_path: Path, monkeypatch) -> None:
    """The "From Python" block of the README, run word for word (with a tiny model standing in for the bundled one)."""
    block = re.search(r"### From Python\n\n```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    weights = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), weights, "tiny-unet", input_size=64)
    monkeypatch.setattr("vidcolor.worker.default_weights_path", lambda: weights)
    make_video(tmp_path / "old.mp4", size=(64, 48), frames=3, audio="aac")
    make_image(tmp_path / "old.jpg", size=(40, 30), mode="L")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, str(README), "exec"), {})
    assert (tmp_path / "colour.mp4").stat().st_size > 0 and (tmp_path / "colour.png").stat().st_size > 0


def test_two_threads_rendering_with_one_colorizer_get_the_files_they_get_alone(tmp_path: Path) -> None:
    """fastai's U-Net keeps each call's activations on the module: two renders sharing a Colorizer in two
    threads coloured frames with the other video's activations (or failed on mismatched sizes)."""
    colorizer = _colourful_tiny()
    sources = [make_video(tmp_path / f"in{index}.mp4", size=(256, 96), frames=12, pattern=pattern)
               for index, pattern in enumerate(("moving", "still"))]
    alone = [colorize_video(source, tmp_path / f"alone{index}.mp4", colorizer, batch_size=2, progress=False).output
             for index, source in enumerate(sources)]
    errors: list[BaseException] = []

    def render(index: int) -> None:
        try:
            colorize_video(sources[index], tmp_path / f"together{index}.mp4", colorizer, batch_size=2, progress=False)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=render, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for index in range(2):
        assert (tmp_path / f"together{index}.mp4").read_bytes() == alone[index].read_bytes()


class _FailsOnCall(ConstantColour):
    """Colours purple, and raises ``error`` on call number ``at``."""

    def __init__(self, error: BaseException, at: int) -> None:
        super().__init__(0.3, -0.2)
        self.error, self.at, self.calls = error, at, 0

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.at:
            raise self.error
        return super().forward(l_norm)


def _failing_decoder(monkeypatch, error: BaseException) -> None:
    items = decode.VideoSource.items

    def failing(self):
        for index, item in enumerate(items(self)):
            if index == 12:
                raise error
            yield item

    monkeypatch.setattr(decode.VideoSource, "items", failing)


def _failing_encoder(monkeypatch, error: BaseException) -> None:
    write_frame, written = encode.VideoSink.write_frame, []

    def failing(self, *planes):
        written.append(1)
        if len(written) == 7:
            raise error
        return write_frame(self, *planes)

    monkeypatch.setattr(encode.VideoSink, "write_frame", failing)


@pytest.mark.parametrize("where", ["model", "decoder", "encoder"])
@pytest.mark.parametrize("error", [RuntimeError("CUDA out of memory"), KeyboardInterrupt(), OSError(28, "disk full")],
                         ids=["oom", "ctrl-c", "disk-full"])
def test_a_failure_part_way_through_a_video_reaches_the_caller_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch, where: str, error: BaseException
) -> None:
    """Whichever of the three threads fails, its own exception reaches the caller (not one it caused in
    another thread), every thread has stopped and no file is left beside the source."""
    source = make_video(tmp_path / "in.mp4", size=(64, 48), frames=30, audio="aac")
    model = _FailsOnCall(error, at=3) if where == "model" else ConstantColour(0.3, -0.2)
    if where == "decoder":
        _failing_decoder(monkeypatch, error)
    if where == "encoder":
        _failing_encoder(monkeypatch, error)
    before = set(threading.enumerate())
    with pytest.raises(type(error)) as raised:
        colorize_video(source, tmp_path / "out.mp4", Colorizer(model, device="cpu", render_size=64), batch_size=2,
                       progress=False)
    assert raised.value is error
    assert not [thread.name for thread in set(threading.enumerate()) - before if thread.name.startswith("vidcolor")]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.mp4"]


def test_a_slow_encoder_holds_back_the_decoder_instead_of_letting_frames_pile_up() -> None:
    """Memory stays flat for any length: the decoder may run only a few batches ahead of what is written."""
    import time

    import numpy as np
    from tqdm import tqdm

    from vidcolor.io.decode import LumaFrame
    from vidcolor.pipeline import QUEUE_BATCHES, FrameBatch, run_stages

    made, written, ahead = [0], [0], []

    def batches():
        for index in range(40):
            made[0] += 1
            ahead.append(made[0] - written[0])
            yield FrameBatch([LumaFrame(index, index, np.zeros((2, 2), np.uint8))])

    def write(batch) -> None:
        time.sleep(0.01)
        written[0] += 1

    def colour(frames):
        return [(frame.y, frame.y[:1, :1], frame.y[:1, :1], frame.pts) for frame in frames]

    with tqdm(disable=True) as bar:
        assert run_stages(batches(), write, colour, bar) == 40
    assert written[0] == 40 and max(ahead) <= 2 * QUEUE_BATCHES + 3  # two queues, and one batch in each thread
