"""`vidcolor batch`: mirror a tree, resume after a crash, keep going past failures, report every file."""

from __future__ import annotations

import csv
import json
import os
import re
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from image_media import make_image
from locks import fcntl, written_by_another_run
from media import make_video
from PIL import Image

import vidcolor.batch as batch_module
import vidcolor.io.output as output_module
from vidcolor.batch import BatchInterrupted, colorize_tree
from vidcolor.batch_plan import walk_tree
from vidcolor.batch_report import report_paths
from vidcolor.errors import InputError, VidcolorWarning
from vidcolor.commands.batch import batch_command
from vidcolor.models import create_generator
from vidcolor.worker import Colorizer

IMAGES = {"a.png": (40, 30), "photos/b.jpg": (96, 64), "photos/deep/c.tif": (50, 34)}
VIDEOS = {"clips/sound.mp4": True, "clips/silent.mkv": False}
EXPECTED = {
    "a.png": ("image", "done"),
    "clips/silent.mkv": ("video", "done"),
    "clips/sound.mp4": ("video", "done"),
    "notes.txt": ("", "ignored"),
    "photos/b.jpg": ("image", "done"),
    "photos/broken.jpg": ("image", "failed"),
    "photos/deep/c.tif": ("image", "done"),
}


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer(create_generator("tiny-unet"), device="cpu", render_size=64)


def make_tree(src: Path) -> Path:
    """Nested folders: three grey images, two 64x48 6-frame clips (one with sound), text, a broken JPEG."""
    (src / "photos" / "deep").mkdir(parents=True)
    (src / "clips").mkdir()
    make_image(src / "a.png", size=IMAGES["a.png"], mode="L")
    make_image(src / "photos/b.jpg", size=IMAGES["photos/b.jpg"], mode="L")
    make_image(src / "photos/deep/c.tif", size=IMAGES["photos/deep/c.tif"], mode="I;16")
    make_video(src / "clips/sound.mp4", size=(64, 48), frames=6, audio="aac")
    make_video(src / "clips/silent.mkv", size=(64, 48), frames=6)
    (src / "notes.txt").write_text("scanned 1952\n")
    (src / "photos/broken.jpg").write_bytes(b"not a jpeg at all " * 8)
    return src


def run(src: Path, dst: Path, colorizer: Colorizer, **options) -> batch_module.BatchReport:
    return colorize_tree(src, dst, colorizer, batch_size=4, progress=False, **options)


def statuses(report: batch_module.BatchReport) -> dict[str, str]:
    return {result.file: result.status for result in report.files}


def mtimes(dst: Path) -> dict[str, int]:
    return {name: (dst / name).stat().st_mtime_ns for name in [*IMAGES, *VIDEOS]}


def test_batch_mirrors_tree_and_reports_every_file(tmp_path: Path, colorizer: Colorizer) -> None:
    src, dst = make_tree(tmp_path / "src"), tmp_path / "out" / "colour"
    seen = []
    report = run(src, dst, colorizer, on_file=seen.append)

    assert [(r.file, r.kind, r.status) for r in report.files] == [(f, *EXPECTED[f]) for f in sorted(EXPECTED)]
    assert seen == report.files
    assert report.counts == {"done": 5, "skipped": 0, "failed": 1, "ignored": 1, "not reached": 0}
    assert re.fullmatch(r"5 done, 0 skipped, 1 failed, 1 ignored in \d+\.\d s", report.summary())
    broken = report.files[5]
    assert "not a readable image" in broken.error and broken.frames is None

    # Same names in the same folders; nothing for the text file or the broken JPEG.
    written = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file())
    assert written == sorted([*IMAGES, *VIDEOS, ".vidcolor-output", "vidcolor-report.csv", "vidcolor-report.json"])
    for name, size in IMAGES.items():
        with Image.open(dst / name) as image:
            assert image.size == size
            assert image.mode == "RGB"
    for name, has_sound in VIDEOS.items():
        with av.open(str(dst / name)) as container:
            stream = container.streams.video[0]
            assert (stream.width, stream.height) == (64, 48)
            assert len(container.streams.audio) == int(has_sound)
            assert sum(1 for _ in container.decode(stream)) == 6
    assert {r.file: r.frames for r in report.files if r.status == "done"} == {
        "a.png": 1, "clips/silent.mkv": 6, "clips/sound.mp4": 6, "photos/b.jpg": 1, "photos/deep/c.tif": 1,
    }

    csv_path, json_path = report_paths(dst)
    with open(csv_path, newline="", encoding="utf-8-sig") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["file", "kind", "status", "frames", "seconds", "error"]
    assert [(row["file"], row["kind"], row["status"]) for row in rows] == [
        (f, *EXPECTED[f]) for f in sorted(EXPECTED)
    ]
    assert rows[2]["frames"] == "6" and float(rows[2]["seconds"]) > 0
    assert rows[5]["frames"] == "" and "not a readable image" in rows[5]["error"]
    document = json.loads(json_path.read_text())
    assert document["counts"] == report.counts
    assert document["interrupted"] is False
    assert [entry["status"] for entry in document["files"]] == [row["status"] for row in rows]
    assert document["files"][1] == {**rows[1], "frames": 6, "seconds": document["files"][1]["seconds"]}


def test_every_common_media_type_is_coloured_with_the_default_settings(tmp_path: Path, colorizer: Colorizer) -> None:
    """WebM and MPEG-TS videos get a codec their container takes; a GIF or a photo without extension
    is written as PNG beside its mirrored name, and a video under a name FFmpeg cannot write (a
    camcorder's .mod, no extension) as Matroska (it failed)."""
    src = tmp_path / "src"
    src.mkdir()
    make_video(src / "clip.webm", size=(64, 48), frames=4, codec="libvpx-vp9")
    make_video(src / "clip.ts", size=(64, 48), frames=4, audio="aac")
    make_video(src / "tape.mkv", size=(64, 48), frames=4).rename(src / "tape.mod")
    make_video(src / "reel.mkv", size=(64, 48), frames=4).rename(src / "reel")
    Image.fromarray(np.full((20, 30), 90, np.uint8)).save(src / "scan.gif")
    Image.fromarray(np.full((20, 30), 90, np.uint8)).save(src / "scan", format="JPEG")
    report = run(src, tmp_path / "dst", colorizer)
    assert report.counts == {"done": 6, "skipped": 0, "failed": 0, "ignored": 0, "not reached": 0}, report.files
    written = sorted(p.name for p in (tmp_path / "dst").iterdir() if not p.name.startswith((".", "vidcolor-report")))
    assert written == ["clip.ts", "clip.webm", "reel.mkv", "scan.gif.png", "scan.png", "tape.mod.mkv"]
    with av.open(str(tmp_path / "dst" / "tape.mod.mkv")) as container:
        assert container.format.name.startswith("matroska") and container.streams.video[0].frames in (0, 4)
    assert run(src, tmp_path / "dst", colorizer).counts["skipped"] == 6


def test_a_file_in_the_way_of_an_output_folder_is_a_clear_failure(tmp_path: Path, colorizer: Colorizer) -> None:
    """It was reported as "FileExistsError: [Errno 17] File exists"."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(np.full((20, 30), 90, np.uint8)).save(src / "sub" / "grey.png")
    dst.mkdir()
    (dst / "sub").write_text("x")
    report = run(src, dst, colorizer)
    assert statuses(report) == {"sub/grey.png": "failed"}
    assert report.failed[0].error == f"a file is in the way of the output folder {dst / 'sub'}; move it away to " \
                                     "colourise sub/grey.png"


def test_a_renamed_output_that_clashes_with_another_source_fails_instead_of_being_skipped(
        tmp_path: Path, colorizer: Colorizer) -> None:
    """`scan` (a JPEG without extension) is written as scan.png, the output of `scan.png` beside it: one of the
    two was reported skipped and never coloured, and the batch said all was well."""
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(np.full((20, 30), 90, np.uint8)).save(src / "scan", format="JPEG")
    Image.fromarray(np.full((24, 36), 60, np.uint8)).save(src / "scan.png")
    report = run(src, tmp_path / "dst", colorizer)
    assert statuses(report) == {"scan": "failed", "scan.png": "done"}
    assert "rename one of them" in report.failed[0].error
    with Image.open(tmp_path / "dst" / "scan.png") as written:
        assert written.size == (36, 24)  # the output of scan.png itself


def test_rerun_skips_complete_outputs_and_redoes_missing_ones(tmp_path: Path, colorizer: Colorizer) -> None:
    src, dst = make_tree(tmp_path / "src"), tmp_path / "dst"
    run(src, dst, colorizer)
    before = mtimes(dst)
    # A crash mid-file leaves a hidden temporary and no output: neither counts as complete.
    (dst / "photos/b.jpg").unlink()
    (dst / "clips/sound.mp4").unlink()
    (dst / "clips/.sound.partial.mp4").write_bytes(b"half a video")

    report = run(src, dst, colorizer)

    assert statuses(report) == {
        "a.png": "skipped", "clips/silent.mkv": "skipped", "clips/sound.mp4": "done", "notes.txt": "ignored",
        "photos/b.jpg": "done", "photos/broken.jpg": "failed", "photos/deep/c.tif": "skipped",
    }
    after = mtimes(dst)
    for name in ("a.png", "clips/silent.mkv", "photos/deep/c.tif"):
        assert after[name] == before[name], name
    assert {r.file: r.kind for r in report.files if r.status == "skipped"} == {
        "a.png": "image", "clips/silent.mkv": "video", "photos/deep/c.tif": "image",
    }
    assert not (dst / "clips/.sound.partial.mp4").exists()
    with av.open(str(dst / "clips/sound.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 6
    with open(report_paths(dst)[0], newline="", encoding="utf-8-sig") as stream:
        assert [row["status"] for row in csv.DictReader(stream)].count("skipped") == 3


def test_output_folder_inside_source_is_not_walked(tmp_path: Path, colorizer: Colorizer) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_image(src / "a.png", size=(32, 32), mode="L")
    (src / ".DS_Store").write_bytes(b"\0\1")
    dst = src / "colour"

    first = run(src, dst, colorizer)
    second = run(src, dst, colorizer)

    assert statuses(first) == {"a.png": "done"}
    assert statuses(second) == {"a.png": "skipped"}
    assert walk_tree(src, exclude=dst) == ([src / "a.png"], {})
    assert not (dst / "colour").exists()


def test_an_output_folder_inside_the_source_that_holds_originals_is_refused(tmp_path: Path,
                                                                          colorizer: Colorizer) -> None:
    """`-o ARCHIVE/photos` was not walked, so the photos already in it were silently never coloured and the
    colour ones landed among them; an earlier run's output folder (it has a report) still continues."""
    src = tmp_path / "src"
    (src / "photos").mkdir(parents=True)
    make_image(src / "a.png", size=(32, 32), mode="L")
    make_image(src / "photos" / "b.png", size=(32, 32), mode="L")
    with pytest.raises(batch_module.OutputError, match=r"already holds files such as b\.png"):
        batch_module.check_folders(src, src / "photos")
    run(src, src / "colour", colorizer)
    batch_module.check_folders(src, src / "colour")  # a rerun into its own output folder


def test_a_folder_that_cannot_be_read_fails_in_the_report(tmp_path: Path, colorizer: Colorizer,
                                                          monkeypatch) -> None:
    """A sub-folder without read permission was skipped without a word and the batch reported success."""
    src, dst = make_tree(tmp_path / "src"), tmp_path / "dst"
    real_scandir = os.scandir

    def scandir_refusing_photos(path):
        if Path(path) == src / "photos":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir_refusing_photos)
    report = run(src, dst, colorizer)

    assert statuses(report) == {"a.png": "done", "clips/silent.mkv": "done", "clips/sound.mp4": "done",
                                "notes.txt": "ignored", "photos/": "failed"}
    assert "cannot be read (Permission denied)" in report.failed[0].error
    with open(report_paths(dst)[0], newline="", encoding="utf-8-sig") as stream:
        assert {row["file"]: row["status"] for row in csv.DictReader(stream)}["photos/"] == "failed"


def test_ctrl_c_stops_and_still_writes_the_report(tmp_path: Path, colorizer: Colorizer, monkeypatch) -> None:
    src, dst = make_tree(tmp_path / "src"), tmp_path / "dst"
    real = batch_module.colorize_image
    calls = []

    def colorize_image_then_ctrl_c(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_module, "colorize_image", colorize_image_then_ctrl_c)
    with pytest.raises(BatchInterrupted) as caught:
        run(src, dst, colorizer)

    report = caught.value.report
    assert report.interrupted
    # a.png done, both clips done, notes.txt ignored, photos/b.jpg was being coloured when Ctrl-C came;
    # the files after it have rows too, so the report lists what a rerun still has to do
    assert statuses(report) == {
        "a.png": "done", "clips/silent.mkv": "done", "clips/sound.mp4": "done", "notes.txt": "ignored",
        "photos/b.jpg": "failed", "photos/broken.jpg": "not reached", "photos/deep/c.tif": "not reached",
    }
    assert report.files[4].error == "interrupted; no output was written"
    assert list((dst / "photos").iterdir()) == []
    document = json.loads(report_paths(dst)[1].read_text())
    assert document["interrupted"] is True
    assert document["counts"] == {"done": 3, "skipped": 0, "failed": 1, "ignored": 1, "not reached": 2}
    assert report.summary().startswith("3 done, 0 skipped, 1 failed, 1 ignored, 2 not reached in ")


def test_cli_summary_exit_status_and_rerun(tmp_path: Path, weights: Path) -> None:
    src, dst = make_tree(tmp_path / "src"), tmp_path / "new" / "dst"
    options = ["--weights", str(weights), "--device", "cpu", "--render-size", "64", "--batch-size", "4"]

    result = CliRunner().invoke(batch_command, [str(src), "-o", str(dst), *options])

    assert result.exit_code == 1, result.output
    assert "failed: photos/broken.jpg: not a readable image" in result.stderr
    assert re.search(r"^5 done, 0 skipped, 1 failed, 1 ignored in \d+\.\d s$", result.stderr, re.MULTILINE)
    assert (f"Error: 1 of 6 photos and videos failed (ignored files not counted); see {dst / 'vidcolor-report.csv'}"
            in result.stderr)
    assert sorted(p.name for p in (dst / "clips").iterdir()) == ["silent.mkv", "sound.mp4"]

    (src / "photos/broken.jpg").unlink()
    again = CliRunner().invoke(batch_command, [str(src), "-o", str(dst), "--quiet", *options])
    assert again.exit_code == 0, again.output
    assert again.output == ""
    rows = list(csv.DictReader(open(dst / "vidcolor-report.csv", newline="", encoding="utf-8-sig")))
    assert [row["status"] for row in rows] == ["skipped", "skipped", "skipped", "ignored", "skipped", "skipped"]


def test_cli_ctrl_c_exits_130_with_report(tmp_path: Path, weights: Path, monkeypatch) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    make_image(src / "a.png", size=(32, 32), mode="L")

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_module, "colorize_image", ctrl_c)
    result = CliRunner().invoke(batch_command, [str(src), "-o", str(dst), "--weights", str(weights), "--device", "cpu"])

    assert result.exit_code == 130
    assert re.search(
        rf"Error: interrupted; 0 done, 0 skipped, 1 failed, 0 ignored in \d+\.\d s \(interrupted\); "
        rf"report in {re.escape(str(dst / 'vidcolor-report.csv'))}; run again to carry on$",
        result.stderr.strip(),
    ), result.stderr
    assert json.loads((dst / "vidcolor-report.json").read_text())["files"][0]["status"] == "failed"


def test_cli_missing_source_is_one_line_error(tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    result = CliRunner().invoke(batch_command, [str(tmp_path / "nope"), "-o", str(dst)])

    assert result.exit_code == 1
    assert result.output == f"Error: source folder {tmp_path / 'nope'} does not exist; check the path\n"
    assert not dst.exists()


def test_cli_refuses_output_folder_equal_to_source(tmp_path: Path) -> None:
    result = CliRunner().invoke(batch_command, [str(tmp_path), "-o", f"{tmp_path}/."])

    assert result.exit_code == 1
    assert result.output == f"Error: output folder {tmp_path} is the source folder; choose another folder\n"


def test_text_and_undecodable_files_without_a_media_extension_are_ignored(tmp_path: Path) -> None:
    """.diz/.nfo text was coloured as video; an SVG failed the whole batch with an AttributeError."""
    (tmp_path / "file_id.diz").write_text("Scanned at 600 dpi\n")
    (tmp_path / "release.nfo").write_text("notes\n")
    (tmp_path / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    for name in ("file_id.diz", "release.nfo", "logo.svg"):
        kind, reason = batch_module.classify(tmp_path / name)
        assert kind == "" and reason, name


def test_names_with_a_colon_are_files_not_ffmpeg_protocols(tmp_path: Path, colorizer: Colorizer,
                                                           monkeypatch) -> None:
    """Run from inside the tree (`vidcolor . -o ../out`), `Interview: part 1.mp4` failed with "Protocol not found"."""
    src = tmp_path / "src"
    src.mkdir()
    make_video(src / "Interview: part 1.mp4", size=(64, 48), frames=4)
    make_image(src / "1945:Berlin.jpg", size=(40, 30), mode="L")
    make_video(src / "file:x.mp4", size=(64, 48), frames=4)
    monkeypatch.chdir(src)

    report = run(Path("."), tmp_path / "out", colorizer)

    assert statuses(report) == {"1945:Berlin.jpg": "done", "Interview: part 1.mp4": "done", "file:x.mp4": "done"}
    with av.open(str(tmp_path / "out" / "Interview: part 1.mp4")) as container:
        assert container.streams.video[0].frames == 4


def test_names_that_are_not_utf8_are_reported(tmp_path: Path, colorizer: Colorizer) -> None:
    """A Latin-1 name (`café.jpg` from an old archive) made writing the report fail: no summary, no report."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    make_image(Path(os.fsdecode(bytes(src) + b"/caf\xe9.jpg")), size=(40, 30), mode="L")
    make_image(src / "ok.jpg", size=(40, 30), mode="L")

    report = run(src, dst, colorizer)

    assert statuses(report) == {"caf\\xe9.jpg": "done", "ok.jpg": "done"}
    with open(report_paths(dst)[0], newline="", encoding="utf-8-sig") as stream:
        assert {row["file"]: row["status"] for row in csv.DictReader(stream)} == statuses(report)
    assert json.loads(report_paths(dst)[1].read_text(encoding="utf-8"))["counts"]["done"] == 2
    assert os.path.exists(os.fsencode(dst) + b"/caf\xe9.jpg")


def test_output_folder_holding_the_source_is_refused(tmp_path: Path, colorizer: Colorizer) -> None:
    """`vidcolor C/inner -o C` wrote colour files into the archive and skipped C/inner/a.jpg for C/a.jpg."""
    inner = tmp_path / "archive" / "inner"
    inner.mkdir(parents=True)
    make_image(inner / "a.jpg", size=(40, 30), mode="L")
    make_image(tmp_path / "archive" / "a.jpg", size=(40, 30), mode="L")
    before = sorted(path.name for path in (tmp_path / "archive").rglob("*"))

    with pytest.raises(batch_module.OutputError, match="holds the source folder"):
        run(inner, tmp_path / "archive", colorizer)
    assert sorted(path.name for path in (tmp_path / "archive").rglob("*")) == before


def test_an_output_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path: Path, monkeypatch) -> None:
    """A read-only output folder failed every file one by one, then the report, with no summary."""
    src = tmp_path / "src"
    src.mkdir()
    make_image(src / "a.jpg", size=(40, 30), mode="L")
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: real_access(path, mode)
                        and not (Path(path) == read_only and mode & os.W_OK))

    for dst in (read_only, read_only / "new" / "deeper"):
        result = CliRunner().invoke(batch_command, [str(src), "-o", str(dst)])
        assert result.exit_code == 1
        assert result.output == (f"Error: output folder {dst} cannot be written ({read_only} is read-only or not "
                                 "ours); choose another output folder\n")
    assert list(read_only.iterdir()) == []


def test_damaged_camcorder_phone_and_dvd_files_fail_instead_of_being_ignored(tmp_path: Path,
                                                                              colorizer: Colorizer) -> None:
    src = tmp_path / "src"
    src.mkdir()
    good = make_video(tmp_path / "good.mp4", size=(64, 48), frames=4).read_bytes()
    for name in ("tape1.vob", "phone.3gp", "cam.MTS", "clip.m2ts", "clip.dv"):
        (src / name).write_bytes(good[:60])

    report = run(src, tmp_path / "dst", colorizer)

    assert set(statuses(report).values()) == {"failed"}


def test_every_multi_page_warning_of_a_batch_is_shown(tmp_path: Path, weights: Path) -> None:
    """Two `scan.tif` in different boxes: Python showed the same warning once, naming no folder."""
    src = tmp_path / "src"
    for box in ("box1", "box2"):
        (src / box).mkdir(parents=True)
        front, back = (Image.fromarray(np.full((30, 40), value, np.uint8)) for value in (60, 200))
        front.save(src / box / "scan.tif", save_all=True, append_images=[back])

    result = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "cli.py"), str(src), "-o",
                             str(tmp_path / "dst"), "--weights", str(weights), "--render-size", "64", "-q"],
                            capture_output=True, text=True, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    warnings_shown = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings_shown == [f"warning: {src / box / 'scan.tif'} holds 2 pages; only the first is coloured"
                              for box in ("box1", "box2")]


def test_symlinked_folders_are_listed_as_ignored_not_left_out_silently(tmp_path: Path, colorizer: Colorizer) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    make_image(src / "sub" / "a.png", size=(32, 32), mode="L")
    (src / "linked").symlink_to(src / "sub")
    (src / "sub" / "up").symlink_to(src)  # a loop

    report = run(src, tmp_path / "dst", colorizer)

    assert statuses(report) == {"linked/": "ignored", "sub/a.png": "done", "sub/up/": "ignored"}
    assert "not followed" in report.files[0].error


def make_voice_memo(path: Path) -> Path:
    """A phone's voice memo: AAC sound and no video stream, in 3GP."""
    sound = make_video(path.with_name(path.name + ".source.mkv"), size=(64, 48), frames=4, audio="aac")
    with av.open(str(sound)) as source, av.open(str(path), "w", format="3gp") as memo:
        stream = memo.add_stream_from_template(source.streams.audio[0])
        for packet in source.demux(source.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = stream
                memo.mux(packet)
    sound.unlink()
    return path


def test_sound_only_files_with_a_video_name_are_ignored_and_broken_output_links_refused(
        tmp_path: Path, colorizer: Colorizer) -> None:
    """A phone's `.3gp` voice memo failed the batch; `-o` a dangling link was a FileExistsError, and a file in
    the way of the output folder was called read-only."""
    src = tmp_path / "src"
    src.mkdir()
    make_voice_memo(src / "voice-memo.3gp")
    report = run(src, tmp_path / "dst", colorizer)
    assert statuses(report) == {"voice-memo.3gp": "ignored"}
    assert report.files[0].error == batch_module.SOUND_ONLY

    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(batch_module.OutputError, match="is a link to nothing"):
        run(src, tmp_path / "dangling", colorizer)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(batch_module.OutputError, match="a_file is a file"):
        run(src, tmp_path / "a_file" / "out", colorizer)


def test_two_files_whose_outputs_are_one_file_fail_instead_of_being_skipped(tmp_path: Path,
                                                                            colorizer: Colorizer) -> None:
    """`Box/a.jpg` and `box/a.jpg` coloured onto a drive that ignores case (exFAT, macOS): the second found the
    first one's output, was reported skipped (complete) and was never coloured. Here `Box` in the output
    folder is a link to `box`, which makes one file of the two outputs in the same way."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    for folder, width in (("Box", 40), ("box", 48)):
        (src / folder).mkdir(parents=True)
        make_image(src / folder / "a.jpg", size=(width, 30), mode="L")
    (dst / "box").mkdir(parents=True)
    (dst / "Box").symlink_to("box")

    for _ in range(2):  # the rerun finds the output there already, and still tells the two apart
        report = run(src, dst, colorizer)
        assert [result.status for result in report.files] == [["done", "skipped"][_], "failed"]
        assert report.failed[0].error == (f"the output {dst / 'box/a.jpg'} of box/a.jpg is already the output of "
                                          "Box/a.jpg (the output folder does not tell their names apart, as on a "
                                          "drive that ignores case); rename one of them")
    with Image.open(dst / "box" / "a.jpg") as written:
        assert written.size == (40, 30)

    # outputs of identical photos hard-linked to save space are two names, both complete
    make_image(src / "box" / "b.jpg", size=(40, 30), mode="L")
    make_image(src / "box" / "c.jpg", size=(40, 30), mode="L")
    run(src, dst, colorizer)
    (dst / "box" / "c.jpg").unlink()
    os.link(dst / "box" / "b.jpg", dst / "box" / "c.jpg")
    assert statuses(run(src, dst, colorizer))["box/c.jpg"] == "skipped"


def test_a_name_too_long_once_renamed_fails_with_a_clear_message(tmp_path: Path, colorizer: Colorizer) -> None:
    """A GIF photo with a 252-byte name is written as NAME.png, over the 255-byte limit: the row said
    "OSError: [Errno 36] File name too long" naming the source file. Long names that are kept are coloured."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    gif, jpg = "g" * 248 + ".gif", "j" * 251 + ".jpg"
    Image.fromarray(np.full((20, 30), 90, np.uint8)).save(src / gif)
    make_image(src / jpg, size=(40, 30), mode="L")

    report = run(src, dst, colorizer)

    assert statuses(report) == {gif: "failed", jpg: "done"}
    assert report.failed[0].error == (f"{gif} would be written as {gif}.png, over the 255 bytes a file name may "
                                      "have; shorten its name")
    assert (dst / jpg).is_file()


def test_damaged_files_with_other_camcorder_and_scan_names_fail_instead_of_being_ignored(
        tmp_path: Path, colorizer: Colorizer) -> None:
    """A damaged camcorder `tape.mod` (the README's own example), DVD-VR `.vro`, iPhone `.heic` or web `.jfif`
    was listed as ignored, "not an image or video", so the batch said all was well."""
    src = tmp_path / "src"
    src.mkdir()
    good = make_video(tmp_path / "good.mp4", size=(64, 48), frames=4).read_bytes()
    names = ("tape.MOD", "disc.vro", "clip.qt", "raw.h264", "phone.heic", "photo.avif", "web.jfif")
    for name in names:
        (src / name).write_bytes(good[:60])

    report = run(src, tmp_path / "dst", colorizer)

    assert statuses(report) == dict.fromkeys(sorted(names), "failed")


@pytest.mark.parametrize("option", ["--resume", "--overwrite"])
def test_options_a_folder_run_refuses_say_why(tmp_path: Path, option: str) -> None:
    """`vidcolor ARCHIVE/ -o COLOUR/ --resume` said "No such option '--resume'. Did you mean '--preset'?"."""
    (tmp_path / "src").mkdir()
    result = CliRunner().invoke(batch_command, [str(tmp_path / "src"), "-o", str(tmp_path / "dst"), option])

    assert result.exit_code == 2
    assert "Try 'batch --help' for help." in result.stderr
    assert result.stderr.splitlines()[-1] == {
        "--resume": "Error: --resume is for one video: a folder run carries on where it stopped by itself, since "
                    "outputs that exist are complete and skipped; run the same command again",
        "--overwrite": "Error: --overwrite is for one file: a folder run never replaces an output, since outputs "
                       "that exist are complete and skipped; delete those to redo them",
    }[option]
    assert not (tmp_path / "dst").exists()


def test_files_that_cannot_be_read_fail_instead_of_being_ignored(tmp_path: Path, colorizer: Colorizer,
                                                                 monkeypatch) -> None:
    """A scan without extension that the user may not read was listed as ignored, "not an image or video",
    though nobody had looked inside it; one with a photo name failed with "pass a complete image file"."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("scan", "scan2.jpg"):
        Image.fromarray(np.full((20, 30), 90, np.uint8)).save(src / name, format="JPEG")
    make_image(src / "ok.png", size=(32, 32), mode="L")
    real_open = av.open

    def open_refusing_scans(file, *args, **kwargs):
        if Path(file).name.startswith("scan"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(av, "open", open_refusing_scans)
    report = run(src, tmp_path / "dst", colorizer)

    assert statuses(report) == {"ok.png": "done", "scan": "failed", "scan2.jpg": "failed"}
    assert [result.error for result in report.failed] == [
        f"{src / name} cannot be read (Permission denied); fix its permissions and run again"
        for name in ("scan", "scan2.jpg")
    ]


def test_a_new_output_folder_named_like_a_video_is_refused(tmp_path: Path) -> None:
    """`vidcolor ARCHIVE -o colour.mp4` made a folder called colour.mp4 holding the whole batch."""
    src = make_tree(tmp_path / "src")
    with pytest.raises(batch_module.OutputError, match="is named like a file"):
        batch_module.check_folders(src, tmp_path / "colour.mp4")
    (tmp_path / "scans.tif").mkdir()
    batch_module.check_folders(src, tmp_path / "scans.tif")  # a folder of that name already made on purpose
    assert not (tmp_path / "colour.mp4").exists()


@pytest.mark.skipif(fcntl is None, reason="no flock on this system")
def test_a_file_another_folder_run_is_colouring_is_skipped_not_failed(tmp_path: Path, colorizer: Colorizer) -> None:
    """Two folder runs into one DST_DIR (one per GPU) leapfrog through the files: the file the other run holds
    is its to do, not a failure of this one."""
    src, dst = make_tree(tmp_path / "src"), tmp_path / "dst"
    (dst / "photos").mkdir(parents=True)
    with written_by_another_run(dst / "photos" / "b.jpg"):
        report = run(src, dst, colorizer)
    rows = {result.file: result for result in report.files}
    assert rows["photos/b.jpg"].status == "skipped" and "another run" in rows["photos/b.jpg"].error
    assert rows["a.png"].status == "done" and not (dst / "photos" / "b.jpg").exists()


@pytest.mark.parametrize("finished", ["photos/b.jpg", "clips/sound.mp4"])
def test_a_file_another_folder_run_finished_meanwhile_is_skipped_not_coloured_again(
        tmp_path: Path, colorizer: Colorizer, monkeypatch, finished: str) -> None:
    """The other run renamed its result into place after this run found the output missing but before it took
    the lock: this run coloured the whole file again, then failed with "created by something else" and left its
    finished copy behind as a hidden file."""
    src, dst = make_tree(tmp_path / "src"), tmp_path / "dst"
    target = dst / finished
    real_lock = output_module.held_exclusively

    def finished_by_the_other_run_first(temporary: Path, output_path: Path):
        if output_path == target:
            output_path.write_bytes(b"the other run's result")
        return real_lock(temporary, output_path)

    monkeypatch.setattr(output_module, "held_exclusively", finished_by_the_other_run_first)
    report = run(src, dst, colorizer)
    rows = {result.file: result for result in report.files}
    assert rows[finished].status == "skipped" and "another run meanwhile" in rows[finished].error
    assert target.read_bytes() == b"the other run's result"
    assert sorted(path.name for path in target.parent.iterdir() if ".partial" in path.name) == []
    others = {"a.png", "photos/b.jpg", "photos/deep/c.tif", "clips/sound.mp4", "clips/silent.mkv"} - {finished}
    assert {rows[name].status for name in others} == {"done"}


@pytest.mark.parametrize("kind", ["image", "video"])
def test_the_file_being_coloured_at_ctrl_c_keeps_its_kind_in_the_report(tmp_path: Path, colorizer: Colorizer,
                                                                         monkeypatch, kind: str) -> None:
    """The interrupted row had an empty kind, so the report did not say whether a photo or a video was cut off."""
    src, dst = make_tree(tmp_path / "src"), tmp_path / "dst"

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_module, f"colorize_{kind}", ctrl_c)
    with pytest.raises(BatchInterrupted) as caught:
        run(src, dst, colorizer)

    interrupted = caught.value.report.failed[0]
    assert (interrupted.kind, interrupted.error) == (kind, "interrupted; no output was written")
    with open(report_paths(dst)[0], newline="", encoding="utf-8-sig") as stream:
        rows = {row["file"]: row for row in csv.DictReader(stream)}
    assert rows[interrupted.file]["kind"] == kind
    entries = {entry["file"]: entry for entry in json.loads(report_paths(dst)[1].read_text())["files"]}
    assert entries[interrupted.file]["kind"] == kind


def test_a_log_gets_one_readable_line_per_file_instead_of_progress_bars(tmp_path: Path, weights: Path) -> None:
    """`vidcolor batch ... 2> log.txt` (cron) filled the log with carriage returns and cursor moves of the bars."""
    src, dst = make_tree(tmp_path / "src"), tmp_path / "dst"
    options = ["--weights", str(weights), "--device", "cpu", "--render-size", "64", "--batch-size", "4"]

    result = CliRunner().invoke(batch_command, [str(src), "-o", str(dst), *options])  # stderr is not a terminal

    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    lines = result.stderr.splitlines()
    expected = [r"done: a\.png in \d+\.\d s", r"done: clips/silent\.mkv: 6 frames in \d+\.\d s",
                r"done: clips/sound\.mp4: 6 frames in \d+\.\d s", r"ignored: notes\.txt: not an image or video",
                r"done: photos/b\.jpg in \d+\.\d s", r"failed: photos/broken\.jpg: .*not a readable image.*",
                r"done: photos/deep/c\.tif in \d+\.\d s", r"5 done, 0 skipped, 1 failed, 1 ignored in \d+\.\d s",
                r"Error: 1 of 6 photos and videos failed .*"]
    assert len(lines) == len(expected), lines
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(pattern, line), line
    rerun = CliRunner().invoke(batch_command, [str(src), "-o", str(dst), *options])
    assert rerun.stderr.splitlines()[0] == "skipped: a.png: complete output exists"
    quiet = CliRunner().invoke(batch_command, [str(src), "-o", str(dst), "-q", *options])
    assert quiet.stderr.splitlines()[0].startswith("failed: photos/broken.jpg: ")
    assert len(quiet.stderr.splitlines()) == 2  # the failure and the closing error line


def test_a_file_name_with_a_line_break_keeps_its_log_line_one_line(tmp_path: Path, weights: Path) -> None:
    """A name holding a line break (allowed on Linux, made by scripts and bad unzips) split its log line in two,
    so a log read line by line showed half a name as a line of its own."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    make_image(src / "roll 3\nscan.png", size=(32, 32), mode="L")
    make_image(src / "bell\x07.png", size=(32, 32), mode="L")
    options = ["--weights", str(weights), "--device", "cpu", "--render-size", "64"]

    result = CliRunner().invoke(batch_command, [str(src), "-o", str(dst), *options])

    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 3, lines  # two files and the summary
    assert re.fullmatch(r"done: bell\\x07\.png in \d+\.\d s", lines[0]), lines[0]
    assert re.fullmatch(r"done: roll 3\\nscan\.png in \d+\.\d s", lines[1]), lines[1]
    assert (dst / "roll 3\nscan.png").exists()


def test_a_second_source_folder_into_the_same_output_folder_is_warned_about(tmp_path: Path,
                                                                            colorizer: Colorizer) -> None:
    """`vidcolor batch card1 -o colour` then `vidcolor batch card2 -o colour`: card2's IMG_0001.JPG was reported
    "skipped: complete output exists" and never coloured, with nothing to say that it is another photo."""
    cards = [tmp_path / "card1", tmp_path / "card2"]
    for card in cards:
        card.mkdir()
        make_image(card / "IMG_0001.png", size=(32, 32), mode="L")
    dst = tmp_path / "colour"

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(cards[0], dst, colorizer)
        run(cards[0], dst, colorizer)  # a rerun of the same folder
    with pytest.warns(VidcolorWarning) as caught:
        report = run(cards[1], dst, colorizer)

    assert statuses(report) == {"IMG_0001.png": "skipped"}
    assert [str(warning.message) for warning in caught] == [
        f"{dst} holds the output of a folder run from {cards[0].resolve()}: a file of {cards[1]} whose output name "
        "is already there is skipped, not coloured; give another DST_DIR to colour this folder in full"]


def test_the_csv_report_shows_accented_names_in_a_spreadsheet(tmp_path: Path, colorizer: Colorizer) -> None:
    """Excel reads a CSV without a UTF-8 byte-order mark as ANSI: `Übersee/café.jpg` showed as
    `Ãœbersee/cafÃ©.jpg` in the report of a family archive."""
    src, dst = tmp_path / "Großmutter", tmp_path / "dst"
    (src / "Übersee 1952").mkdir(parents=True)
    make_image(src / "Übersee 1952" / "café.jpg", size=(40, 30), mode="L")

    run(src, dst, colorizer)

    raw = report_paths(dst)[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbffile,kind,status,")
    assert "Übersee 1952/café.jpg,image,done,1," in raw.decode("utf-8-sig")


def test_a_report_that_cannot_be_written_is_a_clear_error_and_ctrl_c_still_exits_130(
        tmp_path: Path, weights: Path, monkeypatch) -> None:
    """With the output drive gone (unplugged, full) at the end of a run, the run ended in "FileNotFoundError:
    ... .vidcolor-report.csv.tmp" with no summary, and after Ctrl-C with exit status 1, not 130."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    make_image(src / "a.png", size=(32, 32), mode="L")
    options = ["--weights", str(weights), "--device", "cpu", "--render-size", "64", "-q"]

    def colorize_then_lose_the_drive(*args, **kwargs):
        for path in sorted(dst.rglob("*"), reverse=True):
            path.unlink()
        dst.rmdir()
        raise KeyboardInterrupt if stop else batch_module.OutputError("the drive is gone")

    monkeypatch.setattr(batch_module, "colorize_image", colorize_then_lose_the_drive)
    for stop, exit_code in ((False, 1), (True, 130)):
        result = CliRunner().invoke(batch_command, [str(src), "-o", str(dst), *options])
        assert result.exit_code == exit_code
        assert re.fullmatch(
            rf"Error: {'interrupted; ' * stop}the report cannot be written to {re.escape(str(dst))} \(No such file or "
            rf"directory\); 0 done, 0 skipped, 1 failed, 0 ignored in \d+\.\d s"
            rf"{' [(]interrupted[)]; run again to carry on' * stop}", result.stderr.splitlines()[-1]), result.stderr


def test_nas_and_system_housekeeping_folders_are_not_walked(tmp_path: Path, colorizer: Colorizer) -> None:
    """A Synology share holds `@eaDir/NAME/SYNOPHOTO_THUMB_*.jpg` beside every photo: each thumbnail was coloured
    (and a damaged one failed the run), and so were the files in recycle bins and zip leftovers."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    housekeeping = ["@eaDir/a.png/SYNOPHOTO_THUMB_S.jpg", "photos/@eaDir/b.png/SYNOPHOTO_THUMB_M.jpg",
                    "#recycle/old.png", "#snapshot/GMT+01_2024-01-01/a.png", "@Recycle/old.png",
                    "$RECYCLE.BIN/S-1-5-21/$RA1B2C3.png", "$Recycle.Bin/S-1-5-18/$RX.png",
                    "System Volume Information/x.png", "__MACOSX/photos/b.png", "lost+found/#12345.png"]
    for name in ["a.png", "photos/b.png", "recycle/c.png", *housekeeping]:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        make_image(src / name, size=(32, 32), mode="L")
    (src / "photos/@eaDir/b.png/SYNOPHOTO_THUMB_XL.jpg").write_bytes(b"damaged thumbnail")

    assert walk_tree(src) == ([src / "a.png", src / "photos/b.png", src / "recycle/c.png"], {})
    report = run(src, dst, colorizer)
    assert statuses(report) == {"a.png": "done", "photos/b.png": "done", "recycle/c.png": "done"}
    assert not any((dst / name).exists() for name in housekeeping)


def test_two_runs_writing_their_reports_at_once_both_succeed(tmp_path: Path, monkeypatch) -> None:
    """Two folder runs into one DST_DIR wrote the report through one temporary name: the run that finished
    second wrote into the file the first had just renamed into place, then failed with "the report cannot
    be written ... (No such file or directory)"."""
    dst = tmp_path / "dst"
    dst.mkdir()
    first = batch_module.BatchReport(tmp_path / "one", dst, [batch_module.FileResult("a.png", "image", "done", 1)])
    second = batch_module.BatchReport(tmp_path / "two", dst, [batch_module.FileResult("b.png", "image", "done", 1)])
    real_dumps = json.dumps
    pending = [second]

    def dumps_while_the_other_run_writes(document, **kwargs):
        if pending:  # the other run writes its whole report while this one has its JSON file open
            batch_module.write_report(pending.pop())
        return real_dumps(document, **kwargs)

    monkeypatch.setattr(json, "dumps", dumps_while_the_other_run_writes)
    batch_module.write_report(first)

    assert json.loads(report_paths(dst)[1].read_text(encoding="utf-8"))["src_dir"] == str(tmp_path / "one")
    assert sorted(path.name for path in dst.iterdir()) == ["vidcolor-report.csv", "vidcolor-report.json"]


def test_a_report_that_fails_halfway_leaves_no_temporary_file(tmp_path: Path, monkeypatch) -> None:
    dst = tmp_path / "dst"
    dst.mkdir()
    report = batch_module.BatchReport(tmp_path / "src", dst, [batch_module.FileResult("a.png", "image", "done", 1)])

    def disk_full(document, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(json, "dumps", disk_full)
    with pytest.raises(batch_module.OutputError, match=r"No space left on device"):
        batch_module.write_report(report)
    assert [path.name for path in dst.iterdir()] == ["vidcolor-report.csv"]


def test_an_unexpected_error_is_one_line_in_the_report_and_its_traceback_shown_with_debug(
        tmp_path: Path, weights: Path, monkeypatch) -> None:
    """PyTorch's errors run to many lines: the report row and the log line of the file broke across lines,
    and the traceback of the failure was lost even with VIDCOLOR_DEBUG=1."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    make_image(src / "a.png", size=(32, 32), mode="L")
    make_image(src / "b.png", size=(32, 32), mode="L")
    options = ["--weights", str(weights), "--device", "cpu", "--render-size", "64", "-q"]

    def fail(source, *args, **kwargs):
        if Path(source).name == "a.png":
            raise RuntimeError("Error(s) in loading state_dict:\n\tMissing key(s): \"head.weight\"")
        raise InputError(f"{source} is damaged:\nFFmpeg said: invalid data")

    monkeypatch.setattr(batch_module, "colorize_image", fail)
    monkeypatch.delenv("VIDCOLOR_DEBUG", raising=False)
    result = CliRunner().invoke(batch_command, [str(src), "-o", str(dst), *options])

    assert result.exit_code == 1
    errors = {"a.png": "RuntimeError: Error(s) in loading state_dict:",
              "b.png": f"{src / 'b.png'} is damaged: FFmpeg said: invalid data"}
    assert result.stderr.splitlines()[:2] == [f"failed: {name}: {error}" for name, error in errors.items()]
    with open(report_paths(dst)[0], newline="", encoding="utf-8-sig") as stream:
        assert {row["file"]: row["error"] for row in csv.DictReader(stream)} == errors
    assert "Traceback" not in result.stderr

    debug = CliRunner().invoke(batch_command, [str(src), "-o", str(dst), *options], env={"VIDCOLOR_DEBUG": "1"})
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr and 'Missing key(s): "head.weight"' in debug.stderr
    assert debug.stderr.count("Traceback") == 1  # the expected failure needs none


def test_names_a_spreadsheet_would_run_as_formulas_are_text_in_the_csv(tmp_path: Path, colorizer: Colorizer,
                                                                       monkeypatch) -> None:
    """Excel read a file named `=HYPERLINK(...).png`, `-intro.png` or `@home.png` in report.csv as a formula
    (`#NAME?`, or a link it would follow); the CSV now starts such cells with `'`, the JSON keeps them as they are."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    names = ["+1 scan.png", "-intro.png", "=1+1.png", "@home.png", "a-b.png"]
    for name in names:
        make_image(src / name, size=(32, 32), mode="L")
    real = batch_module.colorize_image

    def fail_a_b(source, *args, **kwargs):
        if Path(source).name == "a-b.png":
            raise InputError("=HYPERLINK(\"http://example.invalid\")")
        return real(source, *args, **kwargs)

    monkeypatch.setattr(batch_module, "colorize_image", fail_a_b)
    run(src, dst, colorizer)

    with open(report_paths(dst)[0], newline="", encoding="utf-8-sig") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["file"] for row in rows] == ["'+1 scan.png", "'-intro.png", "'=1+1.png", "'@home.png", "a-b.png"]
    assert rows[-1]["error"] == "'=HYPERLINK(\"http://example.invalid\")"
    assert all(row["frames"] in ("1", "") and not row["seconds"].startswith("'") for row in rows)
    entries = json.loads(report_paths(dst)[1].read_text(encoding="utf-8"))["files"]
    assert [entry["file"] for entry in entries] == names
    assert entries[-1]["error"] == "=HYPERLINK(\"http://example.invalid\")"
    assert all((dst / name).exists() for name in names[:-1])


def test_a_song_with_its_cover_and_a_video_name_is_ignored_as_sound(tmp_path: Path, colorizer: Colorizer) -> None:
    """Music videos folders hold songs saved as .mp4 with their cover: a failed row, and exit 1, for sound."""
    from test_decode_inputs import make_song_with_cover

    src = tmp_path / "src"
    src.mkdir()
    make_song_with_cover(src / "song.mp4", codec="aac", seconds=0.5)
    report = run(src, tmp_path / "dst", colorizer)
    assert statuses(report) == {"song.mp4": "ignored"}
    assert report.files[0].error == batch_module.SOUND_ONLY


def test_a_rerun_carries_on_in_its_output_folder_inside_the_source_after_a_hard_kill(
        tmp_path: Path, colorizer: Colorizer, monkeypatch) -> None:
    """`vidcolor ARCHIVE -o ARCHIVE/colour` killed hard (power loss, SIGKILL) after its first outputs but before its
    report existed: the rerun of the same command took its own output folder for one holding originals and
    refused it. A folder of originals is still refused, and no mark is left in it."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.png", "b.png"):
        make_image(src / name, size=(32, 32), mode="L")
    dst = src / "colour"
    real = batch_module.colorize_image

    class Killed(BaseException):
        """A hard kill: nothing after it runs, so the report is not written either."""

    def colorize_then_die(source, *args, **kwargs):
        if Path(source).name == "b.png":
            raise Killed
        return real(source, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(batch_module, "colorize_image", colorize_then_die)
        patched.setattr(batch_module, "_write_final_report", lambda report: None)
        with pytest.raises(Killed):
            run(src, dst, colorizer)
    assert (dst / "a.png").is_file() and not any(path.exists() for path in report_paths(dst))

    assert statuses(run(src, dst, colorizer)) == {"a.png": "skipped", "b.png": "done"}

    (src / "photos").mkdir()
    make_image(src / "photos" / "c.png", size=(32, 32), mode="L")
    with pytest.raises(batch_module.OutputError, match=r"already holds files such as c\.png"):
        run(src, src / "photos", colorizer)
    assert [path.name for path in (src / "photos").iterdir()] == ["c.png"]


def test_classifying_a_file_opens_it_once(tmp_path: Path, monkeypatch) -> None:
    """A folder run opened every video three times before its render: for its kind, then to see whether its
    pictures were all cover art (and a file refused as not a picture once more, to see whether it was sound)."""
    from test_decode_inputs import make_song_with_cover

    files = {
        make_video(tmp_path / "clip.mp4", size=(64, 48), frames=4, audio="aac"): ("video", ""),
        make_image(tmp_path / "scan.png", size=(32, 32), mode="L"): ("image", ""),
        make_song_with_cover(tmp_path / "song.mp4", codec="aac", seconds=0.5): ("", batch_module.SOUND_ONLY),
        make_voice_memo(tmp_path / "memo.3gp"): ("", batch_module.SOUND_ONLY),
    }
    real_open = av.open
    opened: list[str] = []

    def counting_open(file, *args, **kwargs):
        opened.append(Path(file).name)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(av, "open", counting_open)
    for path, expected in files.items():
        assert batch_module.classify(path) == expected, path.name
    assert opened == [path.name for path in files]


def make_psd(path: Path, size: tuple[int, int]) -> Path:
    """A flat 8-bit greyscale Photoshop file (no layers, raw pixels) of ``size`` (w, h) showing a gradient."""
    width, height = size
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 1, height, width, 8, 1)  # 1 channel, 8 bits, greyscale
    sections = struct.pack(">III", 0, 0, 0)  # no colour mode data, image resources, layers
    pixels = np.linspace(20, 230, width * height).astype(np.uint8).tobytes()
    path.write_bytes(header + sections + struct.pack(">H", 0) + pixels)
    return path


def test_a_photoshop_master_is_coloured_as_a_photo_not_a_one_frame_video(tmp_path: Path,
                                                                          colorizer: Colorizer) -> None:
    """Archives keep their scans' Photoshop masters: `scan.psd` was taken for a video and written as a one-frame
    `scan.psd.mkv`; a damaged one was ignored as "not an image or video" instead of failing."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    make_psd(src / "scan.psd", (40, 30))
    (src / "damaged.psd").write_bytes(b"a master lost to a bad sector " * 4)

    report = run(src, dst, colorizer)

    assert [(r.file, r.kind, r.status) for r in report.files] == [("damaged.psd", "", "failed"),
                                                                  ("scan.psd", "image", "done")]
    with Image.open(dst / "scan.psd.png") as written:
        assert (written.size, written.mode) == ((40, 30), "RGB")
