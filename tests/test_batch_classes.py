"""`vidcolor batch`: how files are classed (upper-case camera names, undecodable videos with sound, links to
damaged videos), names at the length limit, output folders inside the source, relative folders, report cells and
Ctrl-C between files."""

from __future__ import annotations

import csv
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from media import make_video
from PIL import Image
from test_decode_inputs import make_song_with_cover

from vidcolor.batch import BatchInterrupted, colorize_tree
from vidcolor.batch_folders import check_folders
from vidcolor.batch_report import BatchReport, FileResult, write_report
from vidcolor.errors import OutputError
from vidcolor.models import create_generator
from vidcolor.worker import Colorizer


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer(create_generator("tiny-unet"), device="cpu", render_size=64)


def run(src: Path, dst: Path, colorizer: Colorizer) -> BatchReport:
    return colorize_tree(src, dst, colorizer, batch_size=4, progress=False)


def rows(report: BatchReport) -> dict[str, tuple[str, str]]:
    return {result.file: (result.kind, result.status) for result in report.files}


def test_a_video_ffmpeg_cannot_decode_fails_even_when_it_has_sound(tmp_path: Path, colorizer: Colorizer) -> None:
    """A camcorder clip whose picture codec this FFmpeg lacks holds a moving picture, not sound alone: a failed
    row with the reason, never ignored as a voice memo."""
    src = tmp_path / "src"
    src.mkdir()
    clip = make_video(tmp_path / "clip.mkv", size=(64, 48), frames=4, audio="aac").read_bytes()
    assert clip.count(b"V_MPEG4/ISO/AVC") == 1
    (src / "tape.mkv").write_bytes(clip.replace(b"V_MPEG4/ISO/AVC", b"V_ZZZZZ/ZZZ/ZZZ"))  # a codec FFmpeg lacks

    report = run(src, tmp_path / "dst", colorizer)

    assert rows(report) == {"tape.mkv": ("", "failed")}
    assert "cannot decode" in report.files[0].error


def test_a_song_with_its_cover_and_an_upper_case_video_name_is_ignored_as_sound(tmp_path: Path,
                                                                                colorizer: Colorizer) -> None:
    """Cameras and old Windows tools write `.MP4`: a song saved so is sound, as `song.mp4` is."""
    src = tmp_path / "src"
    src.mkdir()
    make_song_with_cover(tmp_path / "song.mp4", codec="aac", seconds=0.5).rename(src / "SONG.MP4")

    report = run(src, tmp_path / "dst", colorizer)

    assert rows(report) == {"SONG.MP4": ("", "ignored")}
    assert report.files[0].error == "sound only, no picture"


def test_a_broken_link_to_an_upper_case_camera_name_fails(tmp_path: Path, colorizer: Colorizer) -> None:
    """`tape -> /mnt/old/MVI_0001.MOV` on a drive not mounted is a video by its target's name, as `tape.mov` is."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "tape").symlink_to(tmp_path / "unmounted" / "MVI_0001.MOV")

    report = run(src, tmp_path / "dst", colorizer)

    assert rows(report) == {"tape": ("", "failed")}
    assert "unmounted/MVI_0001.MOV, which does not exist" in report.files[0].error


def test_a_name_that_fits_exactly_once_renamed_is_coloured_and_one_byte_more_fails(tmp_path: Path,
                                                                                   colorizer: Colorizer) -> None:
    """A JPEG without extension is written as NAME.png: a NAME of the longest a file name may be, less four bytes,
    still fits; one byte more does not."""
    src = tmp_path / "src"
    src.mkdir()
    longest = os.pathconf(src, "PC_NAME_MAX")
    fits, over = "f" * (longest - 4), "o" * (longest - 3)
    for name in (fits, over):
        Image.fromarray(np.full((20, 30), 90, np.uint8)).save(src / name, format="JPEG")

    report = run(src, tmp_path / "dst", colorizer)

    assert rows(report) == {fits: ("image", "done"), over: ("image", "failed")}
    assert (tmp_path / "dst" / f"{fits}.png").is_file()
    assert f"over the {longest} bytes a file name may have" in report.files[1].error


def test_a_new_output_folder_with_an_upper_case_video_name_is_refused(tmp_path: Path) -> None:
    """`vidcolor ARCHIVE -o COLOUR.MP4` is the same slip as `-o colour.mp4`: nothing is made."""
    (tmp_path / "src").mkdir()
    with pytest.raises(OutputError, match="is named like a file"):
        check_folders(tmp_path / "src", tmp_path / "COLOUR.MP4")
    assert not (tmp_path / "COLOUR.MP4").exists()


def test_a_rerun_given_relative_folders_is_not_warned_about_as_another_source(tmp_path: Path, colorizer: Colorizer,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`cd /archive && vidcolor batch card1 -o colour`, twice: the mark names /archive/card1, the same folder."""
    monkeypatch.chdir(tmp_path)
    Path("card1").mkdir()
    Image.fromarray(np.full((20, 30), 90, np.uint8)).save("card1/IMG_0001.png")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = run(Path("card1"), Path("colour"), colorizer)
        again = run(Path("card1"), Path("colour"), colorizer)

    assert rows(first) == {"IMG_0001.png": ("image", "done")}
    assert rows(again) == {"IMG_0001.png": ("image", "skipped")}


def test_an_output_folder_inside_the_source_with_an_earlier_report_is_taken_as_that_runs_output(
        tmp_path: Path) -> None:
    """A report tells an earlier run's output folder as the mark does (a run made before the mark, or a mark
    deleted): `-o ARCHIVE/colour` carries on there instead of being refused as a folder of originals."""
    src = tmp_path / "archive"
    (src / "colour").mkdir(parents=True)
    Image.fromarray(np.full((20, 30), 90, np.uint8)).save(src / "colour" / "a.png")
    with pytest.raises(OutputError, match="already holds files such as a.png"):
        check_folders(src, src / "colour")

    (src / "colour" / "vidcolor-report.csv").write_text("file,kind,status,frames,seconds,error\n")
    check_folders(src, src / "colour")


def test_an_output_folder_inside_the_source_holding_only_hidden_files_is_not_refused(tmp_path: Path) -> None:
    """Finder leaves `.DS_Store` in a folder as soon as it is opened: `-o ARCHIVE/colour` made empty beforehand
    holds no originals."""
    src = tmp_path / "archive"
    (src / "colour").mkdir(parents=True)
    (src / "colour" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    check_folders(src, src / "colour")


def test_an_output_folder_that_cannot_be_entered_is_refused_before_any_work(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder with write but no search permission (`chmod 0222`, another user's) takes no files either."""
    (tmp_path / "src").mkdir()
    closed = tmp_path / "closed"
    closed.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: real_access(path, mode)
                        and not (Path(path) == closed and mode & os.X_OK))
    for dst in (closed, closed / "colour"):
        with pytest.raises(OutputError, match=f"cannot be written \\({closed} is read-only or not ours\\)"):
            check_folders(tmp_path / "src", dst)


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as stream:
        return list(csv.DictReader(stream))


def test_a_name_starting_with_a_carriage_return_is_text_in_the_csv(tmp_path: Path) -> None:
    """A spreadsheet runs a cell that starts with a carriage return and then `=` as a formula, as one with a tab."""
    report = BatchReport(tmp_path / "src", tmp_path, [
        FileResult("\r=HYPERLINK(1).jpg", "image", "done", 1, 0.5),
        FileResult("\t=1+1.jpg", "image", "failed", error="\rbroken"),
    ])
    csv_path, json_path = write_report(report)

    written = read_csv_rows(csv_path)
    assert [(row["file"], row["error"]) for row in written] == [("'\r=HYPERLINK(1).jpg", ""),
                                                                ("'\t=1+1.jpg", "'\rbroken")]
    assert [entry["file"] for entry in json.loads(json_path.read_text())["files"]] == ["\r=HYPERLINK(1).jpg",
                                                                                      "\t=1+1.jpg"]


def test_an_error_quoting_a_name_that_is_not_utf8_is_written_to_the_report(tmp_path: Path) -> None:
    """An error may quote a Latin-1 name raw (`caf\\xe9.jpg`, a surrogate in Python): the report is still
    written, the odd byte shown as an escape, instead of the run ending in a UnicodeEncodeError."""
    raw = os.fsdecode(b"caf\xe9.jpg")
    report = BatchReport(tmp_path / "src", tmp_path, [
        FileResult("caf\\xe9.jpg", "image", "failed", error=f"{raw} cannot be read"),
    ])
    csv_path, json_path = write_report(report)

    assert read_csv_rows(csv_path)[0]["error"] == "caf\\udce9.jpg cannot be read"
    assert json.loads(json_path.read_text())["files"][0]["error"] == f"{raw} cannot be read"


def test_ctrl_c_between_files_lists_every_file_after_the_last_finished_one_as_not_reached(
        tmp_path: Path, colorizer: Colorizer) -> None:
    """Ctrl-C while the finished first photo is being logged: that photo stays done, no row is doubled and the
    other two are `not reached`, so the report still lists what a rerun has to do."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(np.full((20, 30), 90, np.uint8)).save(src / name)

    def stop(result: FileResult) -> None:
        raise KeyboardInterrupt

    with pytest.raises(BatchInterrupted) as interrupted:
        colorize_tree(src, tmp_path / "dst", colorizer, batch_size=4, progress=False, on_file=stop)

    expected = [("a.png", "done"), ("b.png", "not reached"), ("c.png", "not reached")]
    assert [(row.file, row.status) for row in interrupted.value.report.files] == expected
    written = read_csv_rows(tmp_path / "dst" / "vidcolor-report.csv")
    assert [(row["file"], row["status"]) for row in written] == expected


def test_a_link_to_a_damaged_video_fails_as_the_video_itself_does(tmp_path: Path, colorizer: Colorizer) -> None:
    """`tape -> /mnt/old/tape.mov` with tape.mov damaged was ignored as 'not an image or video' (exit 0), though
    tape.mov in the tree, or the link with the drive not mounted, fails."""
    src, old = tmp_path / "src", tmp_path / "old"
    src.mkdir()
    old.mkdir()
    (old / "tape.mov").write_bytes(b"\x00\x00\x00\x18ftypqt  " + b"damaged " * 200)
    (src / "tape").symlink_to(old / "tape.mov")
    (src / "notes").symlink_to(old / "notes.txt")
    (old / "notes.txt").write_text("scanned 1952\n")

    report = run(src, tmp_path / "dst", colorizer)

    assert rows(report) == {"notes": ("", "ignored"), "tape": ("", "failed")}
    assert "cannot be read as media" in report.files[1].error


def test_a_folder_where_an_output_goes_fails_instead_of_passing_for_that_output(tmp_path: Path,
                                                                                colorizer: Colorizer) -> None:
    """A folder `DST/a.png/` is no finished output of `a.png`: a failed row naming it, not `skipped`."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    Image.fromarray(np.full((20, 30), 90, np.uint8)).save(src / "a.png")
    (dst / "a.png").mkdir(parents=True)

    report = run(src, dst, colorizer)

    assert rows(report) == {"a.png": ("image", "failed")}
    assert report.files[0].error == f"output {dst / 'a.png'} is a folder; move it away to colourise a.png"


def test_a_file_in_the_way_two_folders_up_is_named_as_in_the_way(tmp_path: Path, colorizer: Colorizer) -> None:
    """A file `DST/sub` in the way of `DST/sub/deep/`: the same message as a file at `DST/sub/deep`, not a
    drive fault."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub" / "deep").mkdir(parents=True)
    Image.fromarray(np.full((20, 30), 90, np.uint8)).save(src / "sub" / "deep" / "grey.png")
    dst.mkdir()
    (dst / "sub").write_text("x")

    report = run(src, dst, colorizer)

    assert rows(report) == {"sub/deep/grey.png": ("image", "failed")}
    assert report.files[0].error == (f"a file is in the way of the output folder {dst / 'sub' / 'deep'}; move it "
                                     "away to colourise sub/deep/grey.png")
