"""`vidcolor batch` on awkward archives and drives: mirrored paths over the system's limit, output folders
the drive refuses to make, a broken link where an output goes."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from image_media import make_image

from vidcolor.batch import colorize_tree
from vidcolor.models import create_generator
from vidcolor.worker import Colorizer


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer(create_generator("tiny-unet"), device="cpu", render_size=64)


def make_deep_photo(src: Path, room: int) -> Path:
    """A photo so deep under ``src`` that its path leaves about ``room`` bytes below the system's path limit."""
    limit = os.pathconf(src.parent, "PC_PATH_MAX")
    folder = src
    while len(os.fsencode(folder)) + 200 < limit - room:
        folder = folder / ("f" * 199)
    folder.mkdir(parents=True)
    make_image(folder / "deep.jpg", size=(40, 30), mode="L")
    return folder / "deep.jpg"


def test_an_output_path_over_the_system_limit_fails_with_that_reason(tmp_path: Path, colorizer: Colorizer) -> None:
    src = tmp_path / "s"
    deep = make_deep_photo(src, room=100)
    make_image(src / "top.jpg", size=(40, 30), mode="L")
    dst = tmp_path / ("x" * 250) / "out"  # the mirror of deep.jpg is longer than any path may be

    report = colorize_tree(src, dst, colorizer, batch_size=4, progress=False)

    rows = {result.file: result for result in report.files}
    assert rows["top.jpg"].status == "done" and (dst / "top.jpg").is_file()
    failed = rows[deep.relative_to(src).as_posix()]
    assert failed.status == "failed"
    assert failed.error.startswith(f"the output path of {failed.file} is too long for the file system")
    assert "choose an output folder with a shorter path" in failed.error
    assert "OSError" not in failed.error


def test_an_output_folder_the_drive_refuses_to_make_fails_that_file_with_the_reason(
        tmp_path: Path, colorizer: Colorizer, monkeypatch) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub" / "deeper").mkdir(parents=True)
    make_image(src / "top.jpg", size=(40, 30), mode="L")
    make_image(src / "sub" / "deeper" / "a.jpg", size=(40, 30), mode="L")
    refused = dst / "sub" / "deeper"  # as on a read-only mount at dst/sub
    mkdir = Path.mkdir

    def read_only(self: Path, *args, **kwargs) -> None:
        if self == refused:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    report = colorize_tree(src, dst, colorizer, batch_size=4, progress=False)

    rows = {result.file: result for result in report.files}
    assert rows["top.jpg"].status == "done" and (dst / "top.jpg").is_file()
    assert rows["sub/deeper/a.jpg"].status == "failed"
    assert rows["sub/deeper/a.jpg"].error == (
        f"output folder {refused} cannot be made (Read-only file system); fix that drive or choose another "
        "output folder to colourise sub/deeper/a.jpg")


def test_a_broken_link_where_an_output_goes_fails_instead_of_passing_for_another_runs_output(
        tmp_path: Path, colorizer: Colorizer) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    make_image(src / "a.jpg", size=(40, 30), mode="L")
    dst.mkdir()
    (dst / "a.jpg").symlink_to(tmp_path / "unmounted" / "a.jpg")  # an output on a drive that is gone

    report = colorize_tree(src, dst, colorizer, batch_size=4, progress=False)

    [row] = report.files
    assert (row.status, row.kind) == ("failed", "image")
    assert row.error == (f"output {dst / 'a.jpg'} is a link to nothing ({tmp_path / 'unmounted' / 'a.jpg'}); "
                         "remove it to colourise a.jpg")
    assert (dst / "a.jpg").is_symlink() and not (tmp_path / "unmounted").exists()
