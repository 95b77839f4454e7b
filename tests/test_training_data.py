"""Training data and evaluation: photos read as the tool reads them, small photos counted, packs and
evaluation folders that a failed or interrupted run does not leave behind."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tests.image_media import icc_profile, pattern
from training.cli import evaluate_command
from training.data import build_bank, find_images, load_square
from training.evaluate import output_folder
from vidcolor.errors import OutputError
from vidcolor.io.images import read_image
from vidcolor.models import create_generator, save_generator


def _top_and_bottom(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The mean colour (0..255) of the top and bottom quarters of ``path`` as the tool reads it."""
    rgb = read_image(path).rgb * 255
    quarter = rgb.shape[0] // 4
    return rgb[:quarter].mean(axis=(0, 1)), rgb[-quarter:].mean(axis=(0, 1))


def _sideways_two_colour(path: Path, **save_options) -> Path:
    """A 400x300 photo stored sideways (EXIF orientation 6): shown, its top half is red, its bottom half blue."""
    pixels = np.zeros((300, 400, 3), np.uint8)
    pixels[:, :200], pixels[:, 200:] = (200, 70, 60), (50, 90, 190)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(path, exif=exif, **save_options)
    return path


@pytest.mark.parametrize("name, options", [("adobe.jpg", {"quality": 95}), ("adobe.png", {})])
def test_training_photos_with_a_colour_profile_are_converted_to_srgb_as_the_tool_reads_them(
        tmp_path: Path, name: str, options: dict) -> None:
    """Adobe RGB photos were trained on as if their values were sRGB: duller colours than the tool shows."""
    path = _sideways_two_colour(tmp_path / name, icc_profile=icc_profile("adobe-rgb"), **options)
    square = load_square(path, 40).astype(float)
    top, bottom = _top_and_bottom(path)
    assert np.abs(top - (200, 70, 60)).max() > 10  # the profile matters for these colours
    np.testing.assert_allclose(square[:10].mean(axis=(0, 1)), top, atol=2)
    np.testing.assert_allclose(square[-10:].mean(axis=(0, 1)), bottom, atol=2)


def test_a_cmyk_training_photo_is_read_through_its_profile(tmp_path: Path) -> None:
    """A CMYK JPEG was converted by subtracting the inks from white, ignoring its press profile."""
    path = tmp_path / "press.jpg"
    ink = np.rint((1 - pattern((60, 60))) * 255).astype(np.uint8)
    Image.fromarray(np.dstack([ink, np.zeros((60, 60), np.uint8)]), "CMYK").save(path, icc_profile=icc_profile("cmyk"),
                                                                                 quality=95)
    expected = read_image(path).rgb * 255
    square = load_square(path, 60).astype(float)
    assert np.abs(square - expected).mean() < 2


def test_an_srgb_profile_leaves_every_photo_as_it_is(tmp_path: Path) -> None:
    """Photos sharing one profile are converted alike, the first and the later ones."""
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for index in range(3):
        plain, tagged = tmp_path / f"plain{index}.jpg", tmp_path / f"tagged{index}.jpg"
        _sideways_two_colour(plain, quality=95)
        _sideways_two_colour(tagged, quality=95, icc_profile=srgb)
        assert np.abs(load_square(tagged, 40).astype(int) - load_square(plain, 40)).max() <= 1


def test_photos_smaller_than_the_crop_are_counted_as_upscaled(tmp_path: Path, caplog) -> None:
    """Photos smaller than the crop were silently blown up to it."""
    rng = np.random.default_rng(0)
    for name, size in (("big.png", (48, 40)), ("small.png", (24, 20)), ("exact.png", (32, 40))):
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(tmp_path / name)
    with caplog.at_level(logging.INFO, logger="training.data"):
        bank = build_bank(sorted(tmp_path.iterdir()), 32, progress=False)
    assert len(bank) == 3 and [Path(path).name for path in bank.upscaled] == ["small.png"]
    assert "1 of them upscaled, smaller than the 32 px crop" in caplog.text
    assert bank.subset(bank.images.new_tensor([0]).long()).upscaled == bank.upscaled


def test_a_failed_evaluation_leaves_no_folder_it_made(tmp_path: Path) -> None:
    """`vidcolor evaluate --out DIR` made DIR (and its parents) before finding nothing to score."""
    out = tmp_path / "new" / "eval"
    with pytest.raises(ValueError, match="no photos"), output_folder(out):
        assert out.is_dir()
        raise ValueError("no photos")
    assert not (tmp_path / "new").exists()
    with pytest.raises(KeyboardInterrupt), output_folder(out):
        (out / "evaluation.csv").write_text("done\n")
        raise KeyboardInterrupt
    assert (out / "evaluation.csv").is_file()  # finished files and their folders stay
    with output_folder(out):
        pass
    assert out.is_dir()


def test_an_evaluation_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create the folder .*a_file/eval"):
        with output_folder(tmp_path / "a_file" / "eval"):
            pass


def _photos(folder: Path, count: int) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(1)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return folder


def test_an_interrupted_pack_leaves_nothing_and_can_be_run_again(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C during a pack left a folder of some photos (the last one cut short) that looked like a pack
    and that the next run refused as not empty."""
    import training.pack as pack_module

    source = _photos(tmp_path / "photos", 4)
    real, calls = pack_module.square_or_reason, []

    def interrupted(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(pack_module, "square_or_reason", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pack_module.pack(source, tmp_path / "packed", size=32)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["photos"]
    monkeypatch.setattr(pack_module, "square_or_reason", real)
    (tmp_path / ".packed.partial").mkdir()  # left by a pack that was killed
    (tmp_path / ".packed.partial" / "stale.jpg").write_bytes(b"cut short")
    assert pack_module.pack(source, tmp_path / "packed", size=32)["packed"] == 4
    assert sorted(path.name for path in (tmp_path / "packed").iterdir()) == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["packed", "photos"]


def test_pack_command_says_interrupted_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    """Ctrl-C printed a traceback."""
    import training.pack as pack_module

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pack_module, "pack", interrupted)
    monkeypatch.setattr("sys.argv", ["pack", "--data", str(tmp_path), "--out", str(tmp_path / "p")])
    try:
        pack_module.main()
    except BaseException as error:  # Ctrl-C escaped as KeyboardInterrupt, which would stop pytest itself
        stopped = error
    assert isinstance(stopped, SystemExit) and stopped.code == 130
    assert capsys.readouterr().err == "Error: interrupted; nothing was packed\n"


def test_pack_into_an_empty_folder_and_refuse_a_file(tmp_path: Path) -> None:
    from training.pack import pack

    source = _photos(tmp_path / "photos", 2)
    (tmp_path / "empty").mkdir()
    assert pack(source, tmp_path / "empty", size=32)["packed"] == 2
    assert len(list((tmp_path / "empty").iterdir())) == 2
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        pack(source, tmp_path / "file", size=32)


def test_pack_keeps_photos_smaller_than_its_size_at_their_own_size(tmp_path: Path) -> None:
    """A 24-px photo packed at 32 px was blown up to 32, so training later took it for a full-size photo."""
    from training.pack import pack

    source = tmp_path / "photos"
    source.mkdir()
    rng = np.random.default_rng(2)
    for name, size in (("big.png", (48, 40)), ("small.png", (30, 24))):
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(source / name)
    pack(source, tmp_path / "packed", size=32)
    sizes = {path.name: Image.open(path).size for path in (tmp_path / "packed").iterdir()}
    assert sizes == {"big.jpg": (32, 32), "small.jpg": (24, 24)}
    bank = build_bank(sorted((tmp_path / "packed").iterdir()), 32, progress=False)
    assert [Path(path).name for path in bank.upscaled] == ["small.jpg"]


def test_a_failed_evaluate_leaves_no_out_folder(tmp_path: Path) -> None:
    """`vidcolor evaluate --out DIR` made DIR before finding no photo to score or unusable weights."""
    grey = tmp_path / "grey"
    grey.mkdir()
    Image.fromarray(np.full((24, 24), 90, np.uint8)).save(grey / "a.png")
    weights = tmp_path / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), weights, "tiny-unet", input_size=32)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not weights")
    for data, model in ((grey, weights), (grey, broken)):  # no colour truth, then unusable weights
        out = tmp_path / "new" / "eval"
        result = CliRunner().invoke(evaluate_command, ["--data", str(data), "--weights", str(model), "--out", str(out),
                                                       "--render-size", "32", "--device", "cpu"])
        assert result.exit_code == 1 and "Error:" in result.output, result.output
        assert not (tmp_path / "new").exists()


class _ReversedScandir:
    """``os.scandir`` listing a folder's entries in reverse name order, as a file system may (listing order is the
    file system's own, not sorted)."""

    def __init__(self, entries: list[os.DirEntry[str]]) -> None:
        self._entries = iter(entries)

    def __enter__(self) -> "_ReversedScandir":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __iter__(self) -> "_ReversedScandir":
        return self

    def __next__(self) -> os.DirEntry[str]:
        return next(self._entries)

    def close(self) -> None:
        """Nothing to release: the entries were read at once."""


def test_a_folder_linked_twice_is_found_under_the_same_name_whatever_the_listing_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """README: symlinked folders are followed, each real folder once. Which link's name is kept must not depend on
    the order the file system lists the folder in: it names the evaluation row, orders the training photos and
    enters the photo list's SHA-256 that a resumed run checks."""
    photos = tmp_path / "real"
    photos.mkdir()
    Image.fromarray(np.full((8, 8, 3), (200, 60, 40), np.uint8)).save(photos / "red.png")
    data = tmp_path / "data"
    data.mkdir()
    (data / "a").symlink_to(photos)
    (data / "b").symlink_to(photos)
    listed_in_order = find_images(data)

    real_scandir = os.scandir

    def reversed_scandir(path: Any = ".") -> _ReversedScandir:
        with real_scandir(path) as entries:
            return _ReversedScandir(sorted(entries, key=lambda entry: entry.name, reverse=True))

    monkeypatch.setattr(os, "scandir", reversed_scandir)
    listed_in_reverse = find_images(data)

    assert listed_in_order == listed_in_reverse == [data / "a" / "red.png"]
