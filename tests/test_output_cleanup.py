"""Leftovers of killed runs in an output folder: the temporary files of a folder run's report, and the lock
that tells a leftover from a file another run is writing right now."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from image_media import make_image
from locks import fcntl

import vidcolor.batch_report as report_module
import vidcolor.io.output as output_module
from vidcolor.batch import colorize_tree
from vidcolor.batch_report import report_paths
from vidcolor.models import create_generator
from vidcolor.worker import Colorizer

LEFT_BY_KILLED_RUNS = [".vidcolor-report.csv.0123456789ab.tmp", ".vidcolor-report.json.ba9876543210.tmp"]


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer(create_generator("tiny-unet"), device="cpu", render_size=64)


@pytest.mark.skipif(fcntl is None, reason="no flock on this system: temporary files are never removed")
def test_a_folder_run_removes_report_temporaries_killed_runs_left_but_not_one_a_live_run_writes(
        tmp_path: Path, colorizer: Colorizer) -> None:
    """A run killed (SIGKILL, power loss) while it wrote its report left `.vidcolor-report.csv.HEX.tmp` in DST_DIR,
    and every later run left it there too."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    make_image(src / "a.jpg", size=(40, 30), mode="L")
    for name in LEFT_BY_KILLED_RUNS:
        (dst / name).write_text("half a report")
    live = dst / ".vidcolor-report.json.00000000cafe.tmp"
    kept = [".vidcolor-report.csv.notes.tmp", "vidcolor-report.csv.0123456789ab.tmp"]  # not names a run gives
    for name in kept:
        (dst / name).write_text("the user's")
    live.write_text("another run's report, half written")

    with open(live, "r+b") as other_run:
        fcntl.flock(other_run, fcntl.LOCK_EX)
        report = colorize_tree(src, dst, colorizer, batch_size=4, progress=False)

    assert [result.status for result in report.files] == ["done"]
    assert not any((dst / name).exists() for name in LEFT_BY_KILLED_RUNS)
    assert live.read_text() == "another run's report, half written"
    assert all((dst / name).read_text() == "the user's" for name in kept)
    assert sorted(path.name for path in dst.iterdir()) == sorted(
        [".vidcolor-output", "a.jpg", "vidcolor-report.csv", "vidcolor-report.json", live.name, *kept])


@pytest.mark.skipif(fcntl is None, reason="no flock on this system")
def test_a_report_temporary_another_runs_cleanup_takes_before_it_is_locked_is_given_up_for_a_new_one(
        tmp_path: Path, monkeypatch) -> None:
    """Another run's cleanup may find the report's temporary file between its creation and its lock, and remove
    it: the report is then written through a new one, locked, not through an unlocked file that the next
    cleanup could take as well."""
    dst = tmp_path / "dst"
    dst.mkdir()
    report = report_module.BatchReport(tmp_path / "src", dst, [report_module.FileResult("a.png", "image", "done", 1)])
    real_try_lock = output_module.try_lock
    created = []

    def removed_by_another_runs_cleanup_first(descriptor: int) -> bool | None:
        [temporary] = [path for path in dst.iterdir() if report_module.REPORT_TEMPORARY.fullmatch(path.name)]
        created.append(temporary.name)
        if len(created) == 1:
            assert output_module.remove_stale_working_file(temporary)
        locked = real_try_lock(descriptor)
        assert not output_module.remove_stale_working_file(temporary)  # held now (the first one: gone)
        return locked

    monkeypatch.setattr(report_module, "try_lock", removed_by_another_runs_cleanup_first)
    report_module.write_report(report)

    assert len(created) == 3 and created[0] != created[1]  # the CSV twice, then the JSON
    assert report_paths(dst)[0].read_text(encoding="utf-8-sig").splitlines()[1].startswith("a.png,image,done,1,")
    assert sorted(path.name for path in dst.iterdir()) == ["vidcolor-report.csv", "vidcolor-report.json"]


@pytest.mark.skipif(fcntl is None, reason="no flock on this system")
def test_try_lock_tells_a_lock_taken_from_one_held_elsewhere_and_from_a_file_system_without_locks(
        tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "working"
    path.write_bytes(b"")
    with open(path, "rb") as first, open(path, "rb") as second:
        assert output_module.try_lock(first.fileno()) is True
        assert output_module.try_lock(second.fileno()) is False

        def no_locks(descriptor: int, operation: int) -> None:
            raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

        monkeypatch.setattr(fcntl, "flock", no_locks)  # some network and FUSE mounts
        assert output_module.try_lock(second.fileno()) is None
