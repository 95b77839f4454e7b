"""The report of a folder run: one row per file met, its totals, and writing it as ``vidcolor-report.csv``
and ``.json`` into the output folder, each through a locked hidden temporary file renamed into place (and the
temporaries that killed runs left there removed)."""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal, TextIO

from .errors import OutputError, shown_name
from .io.output import remove_stale_working_file, try_lock

# a CSV cell starting with one of these is a formula to a spreadsheet (`=`, `+`, `-`, `@`, tab, carriage return)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_TEXT_FIELDS = ("file", "error")
REPORT_STEM = "vidcolor-report"
# the hidden file a report is written through (see _locked_temporary): `.vidcolor-report.csv.0123456789ab.tmp`
REPORT_TEMPORARY = re.compile(rf"\.{REPORT_STEM}\.(csv|json)\.[0-9a-f]{{12}}\.tmp")
REPORT_FIELDS = ("file", "kind", "status", "frames", "seconds", "error")

Status = Literal["done", "skipped", "failed", "ignored", "not reached"]
STATUSES: tuple[Status, ...] = ("done", "skipped", "failed", "ignored", "not reached")  # not reached: after Ctrl-C


@dataclass(frozen=True)
class FileResult:
    """What happened to one file of the tree; ``file`` is relative to the source folder (POSIX form)."""

    file: str
    kind: str  # "image", "video", or "" when the file is not media
    status: Status
    frames: int | None = None
    seconds: float = 0.0
    error: str = ""


@dataclass
class BatchReport:
    """Every file the walk met, in walk order, and the totals."""

    src_dir: Path
    dst_dir: Path
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    def count(self, status: Status) -> int:
        return sum(result.status == status for result in self.files)

    @property
    def counts(self) -> dict[str, int]:
        return {status: self.count(status) for status in STATUSES}

    @property
    def failed(self) -> list[FileResult]:
        return [result for result in self.files if result.status == "failed"]

    def summary(self) -> str:
        """``N done, N skipped, N failed, N ignored in T s`` (and ``N not reached`` after Ctrl-C)."""
        counts = ", ".join(f"{number} {status}" for status, number in self.counts.items()
                           if number or status != "not reached")
        return f"{counts} in {self.seconds:.1f} s" + (" (interrupted)" if self.interrupted else "")


def report_name(relative: Path) -> str:
    """A file's relative path for the report and messages: POSIX form, with bytes that are not UTF-8 (names
    from old Latin-1 archives, kept by Python as surrogates that no UTF-8 file can hold) shown as ``\\xe9``."""
    return shown_name(relative.as_posix())


def report_paths(dst_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Where :func:`write_report` puts the CSV and the JSON report."""
    dst_dir = Path(dst_dir)
    return dst_dir / f"{REPORT_STEM}.csv", dst_dir / f"{REPORT_STEM}.json"


def write_report(report: BatchReport) -> tuple[Path, Path]:
    """Write ``vidcolor-report.csv`` and ``vidcolor-report.json`` into the report's output folder, first removing
    the temporary files of reports that killed runs left there (see :func:`_remove_stale_report_temporaries`); an
    :class:`OutputError` with the run's summary when they cannot be written (the drive full or gone)."""
    csv_path, json_path = report_paths(report.dst_dir)
    _remove_stale_report_temporaries(report.dst_dir)
    try:
        write_report_csv(report, csv_path)
        write_report_json(report, json_path)
    except OSError as error:
        raise OutputError(f"the report cannot be written to {report.dst_dir} ({error.strerror or error}); "
                          f"{report.summary()}") from error
    return csv_path, json_path


def write_report_csv(report: BatchReport, path: Path) -> None:
    """One row per file: file, kind, status, frames, seconds, error. UTF-8 with a byte-order mark, which
    spreadsheet programs need to show accented names right (Excel reads a CSV without one as ANSI); a file
    or error that a spreadsheet would run as a formula starts with ``'`` (see :func:`_spreadsheet_text`)."""
    rows = []
    for result in report.files:
        row = asdict(result)
        row.update({name: _spreadsheet_text(row[name]) for name in CSV_TEXT_FIELDS})
        row["frames"] = "" if result.frames is None else result.frames
        row["seconds"] = f"{result.seconds:.3f}"
        rows.append(row)

    def write(stream: TextIO) -> None:
        writer = csv.DictWriter(stream, fieldnames=REPORT_FIELDS)
        writer.writeheader()
        writer.writerows(rows)

    _write_replacing(path, write, "utf-8-sig")


def _spreadsheet_text(cell: str) -> str:
    """``cell`` with ``'`` in front when it starts like a formula (:data:`FORMULA_STARTS`: `=1+1.jpg`,
    `-intro.mp4`, `@home.jpg`), so that Excel, LibreOffice and Google Sheets show it as text instead of running
    it (a name can hold a ``=HYPERLINK(...)``). Only the CSV: the JSON report has every name as it is."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def write_report_json(report: BatchReport, path: Path) -> None:
    """The whole report: folders, totals, interruption flag and one object per file."""
    document = {
        "src_dir": str(report.src_dir),
        "dst_dir": str(report.dst_dir),
        "seconds": round(report.seconds, 3),
        "interrupted": report.interrupted,
        "counts": report.counts,
        "files": [{**asdict(result), "seconds": round(result.seconds, 3)} for result in report.files],
    }
    _write_replacing(path, lambda stream: stream.write(json.dumps(document, indent=2) + "\n"), "utf-8")


def _remove_stale_report_temporaries(dst_dir: Path) -> None:
    """Remove the temporary files of reports (:data:`REPORT_TEMPORARY`) that runs killed while writing their report
    (SIGKILL, power loss) left in ``dst_dir``; the one another run is writing right now is locked and stays."""
    try:
        names = os.listdir(dst_dir)
    except OSError:  # the folder is gone or unreadable: writing the report says so
        return
    for name in names:
        if REPORT_TEMPORARY.fullmatch(name):
            remove_stale_working_file(dst_dir / name)


def _write_replacing(path: Path, write: Callable[[TextIO], object], encoding: str) -> None:
    """Write ``path`` through a hidden temporary file renamed over it, so that a report is never half
    written; the temporary file is removed when writing fails. Its name is new for each write, so that two
    runs into one folder finishing at once each rename a whole report of their own (the last one stays), and it
    is locked until then, so that another run's cleanup leaves it alone (see :func:`_locked_temporary`)."""
    with _locked_temporary(path) as temporary:
        try:
            # names are readable already (report_name); an error message may still quote a raw one
            with open(temporary, "w", newline="", encoding=encoding, errors="backslashreplace") as stream:
                write(stream)
            os.replace(temporary, path)
        except BaseException:
            try:
                temporary.unlink(missing_ok=True)
            except OSError:  # the folder is gone or read-only: keep the first error
                pass
            raise


@contextmanager
def _locked_temporary(path: Path) -> Iterator[Path]:
    """Create a new hidden file ``.NAME.HEX.tmp`` beside ``path`` (never a file of another run; its mode follows the
    umask, as the report's did) and yield its name, locked until the block ends, so that another run's cleanup
    (:func:`_remove_stale_report_temporaries`) leaves it alone. A name that such a cleanup took between the file's
    creation and the lock is given up for a new one. Where locks cannot be taken nothing is held (and a file held
    open could not be renamed on Windows)."""
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        descriptor = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        locked = try_lock(descriptor)
        if locked is None or locked and os.fstat(descriptor).st_nlink:  # not removed by a cleanup before the lock
            break
        os.close(descriptor)
    if locked is None:
        os.close(descriptor)
    try:
        yield temporary
    finally:
        if locked:
            os.close(descriptor)
