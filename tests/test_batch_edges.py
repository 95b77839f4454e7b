"""`vidcolor batch` on awkward archives and drives: mirrored paths over the system's limit, output folders
the drive refuses to make, a broken link where an output goes, working files
left by a killed run."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from image_media import make_image
from locks import CONTENT, fcntl, written_by_another_run

from cli import main
from vidcolor.batch import colorize_tree
from vidcolor.errors import VidcolorWarning
from vidcolor.io.output import partial_path
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


def working_path_over_limit(base: Path) -> Path:
    """A folder under ``base`` where ``deep.png`` (or ``.jpg``) fits the system's path limit but its working file
    ``.deep.partial.png`` does not."""
    length = os.pathconf(base.parent, "PC_PATH_MAX") - 14  # + 9 bytes for /deep.png, + 18 for /.deep.partial.png
    folder = base
    while len(os.fsencode(folder)) + 200 < length:
        folder = folder / ("f" * 199)
    folder = folder / ("e" * (length - len(os.fsencode(folder)) - 1))
    folder.mkdir(parents=True)
    return folder


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


@pytest.mark.parametrize("too_long", ["name", "path"])
def test_an_output_name_or_path_too_long_for_one_file_is_one_line_naming_the_file(
        tmp_path: Path, weights: Path, too_long: str) -> None:
    """`vidcolor IN -o OUT` with a 256-byte OUT, or with OUT whose working file `.OUT.partial.EXT` is over the
    system's path limit, stopped with "Error: OSError: [Errno 36] File name too long: '<the whole path>'"."""
    photo = make_image(tmp_path / "grey.jpg", size=(40, 30), mode="L")
    if too_long == "name":
        output = tmp_path / ("n" * 252 + ".png")
        expected = f"Error: output name '{output.name}' is over the 255 bytes a file name may have here; choose a " \
                   "shorter name"
    else:
        output = working_path_over_limit(tmp_path / "deep") / "deep.png"
        expected = ("Error: output 'deep.png' cannot be written: its path is too long for the file system "
                    "(File name too long); choose an output folder with a shorter path")

    result = CliRunner().invoke(main, [str(photo), "-o", str(output), "--weights", str(weights), "--device", "cpu"])

    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [expected]
    assert [path.name for path in output.parent.iterdir()] == (["grey.jpg"] if too_long == "name" else [])


def test_a_working_path_over_the_system_limit_fails_a_folder_runs_file_with_that_reason(
        tmp_path: Path, colorizer: Colorizer) -> None:
    """The output path fits but its working file's does not: the same reason as an output path over the limit."""
    src = tmp_path / "s"
    deep = make_image(working_path_over_limit(src) / "deep.jpg", size=(40, 30), mode="L")
    report = colorize_tree(src, tmp_path / "d", colorizer, batch_size=4, progress=False)  # as long as src

    [row] = report.files
    assert row.status == "failed"
    assert row.error == (f"the output path of {deep.relative_to(src).as_posix()} is too long for the file system "
                         "(File name too long); choose an output folder with a shorter path, or shorten the "
                         "source's folder names")


@pytest.mark.skipif(fcntl is None, reason="no flock on this system: working files are never removed")
def test_a_rerun_removes_working_files_a_killed_run_left_for_sources_deleted_since(
        tmp_path: Path, colorizer: Colorizer) -> None:
    """A power loss during `gone.jpg` left `.gone.partial.jpg`; the user deleted `gone.jpg`; every rerun left the
    working file in DST_DIR for good. A file another run is writing, a finished result kept beside an output that
    appeared meanwhile, and files in hidden folders (a single-file `--resume` run's) are left alone."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    make_image(src / "a.jpg", size=(40, 30), mode="L")
    colorize_tree(src, dst, colorizer, batch_size=4, progress=False)
    (dst / "sub").mkdir()
    stale = [dst / "sub" / ".gone.partial.jpg", partial_path(dst / ("g" * 250 + ".mp4"))]  # the second hashed
    kept = [dst / ".a.partial.jpg", dst / ".x.vidcolor-resume" / ".segment-00001.partial.mkv"]
    for path in (*stale, *kept):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"half a file")

    with written_by_another_run(dst / "sub" / "busy.jpg") as busy:
        with pytest.warns(VidcolorWarning) as caught:
            report = colorize_tree(src, dst, colorizer, batch_size=4, progress=False)
        assert busy.read_bytes() == CONTENT

    assert [(row.file, row.status) for row in report.files] == [("a.jpg", "skipped")]
    assert [str(warning.message) for warning in caught] == [
        f"removed 2 unfinished working files that an earlier run, stopped before it finished them, left in {dst}: "
        f"{stale[1].name}, sub/.gone.partial.jpg"]
    assert [path.exists() for path in (*stale, *kept)] == [False, False, True, True]


def test_working_files_in_an_output_folder_another_source_made_are_left_alone(
        tmp_path: Path, colorizer: Colorizer) -> None:
    """DST_DIR holds the output of a run from another card: its leftovers are that run's, not this one's."""
    first, second, dst = tmp_path / "card1", tmp_path / "card2", tmp_path / "dst"
    for src in (first, second):
        src.mkdir()
        make_image(src / f"{src.name}.jpg", size=(40, 30), mode="L")
    colorize_tree(first, dst, colorizer, batch_size=4, progress=False)
    (dst / ".gone.partial.jpg").write_bytes(b"half a file")

    with pytest.warns(VidcolorWarning, match="holds the output of a folder run from"):
        colorize_tree(second, dst, colorizer, batch_size=4, progress=False)

    assert (dst / ".gone.partial.jpg").read_bytes() == b"half a file"


def test_a_broken_link_without_a_media_name_says_so_and_one_to_a_media_name_fails(tmp_path: Path,
                                                                                  colorizer: Colorizer) -> None:
    """Such links were listed as 'not an image or video', though nothing could be read; a link named `tape` to an
    unmounted `tape.mov` (a video, by its target's name) was ignored instead of failed."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "notes").symlink_to(tmp_path / "gone" / "notes.txt")
    (src / "tape").symlink_to(tmp_path / "unmounted" / "tape.mov")
    (src / "loop").symlink_to(src / "loop")

    report = colorize_tree(src, tmp_path / "dst", colorizer, batch_size=4, progress=False)

    rows = {result.file: result for result in report.files}
    assert {name: row.status for name, row in rows.items()} == {"loop": "ignored", "notes": "ignored",
                                                                 "tape": "failed"}
    assert rows["notes"].error == (f"{src / 'notes'} is a symbolic link to {tmp_path / 'gone' / 'notes.txt'}, "
                                   "which does not exist; fix or remove the link")
    assert rows["loop"].error.endswith("is a symbolic link that loops back on itself; fix or remove the link")
    assert "unmounted/tape.mov, which does not exist" in rows["tape"].error
