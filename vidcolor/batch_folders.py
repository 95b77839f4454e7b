"""The folders of a folder run: the checks of the source and output folder before anything is written, the
mark that tells a folder run's own output folder (and its source), and the working files killed runs left
there."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from .batch_plan import MEDIA_EXTENSIONS, is_hidden_folder
from .batch_report import REPORT_STEM, report_name
from .errors import InputError, OutputError, VidcolorWarning
from .io.output import PARTIAL_NAME, partial_path, remove_stale_working_file

# a hidden file made in DST_DIR before any output: a folder run's own output folder, even when it was killed
# (power loss, SIGKILL) before its report was written
OUTPUT_MARK = ".vidcolor-output"
OUTPUT_MARK_TEXT = "This folder holds the output of a vidcolor folder run; a rerun of that run carries on here.\n"
MARKED_SOURCE = "source: "  # the mark's last line: the source folder of the run that made DST_DIR


def check_folders(src_dir: Path, dst_dir: Path) -> None:
    """Refuse a missing source, a source that is a file, a new destination named like a photo or video
    (``-o colour.mp4``), a destination equal to the source or holding it (outputs would land among the
    originals), and a destination that cannot be written."""
    if not src_dir.exists():
        raise InputError(f"source folder {src_dir} does not exist; check the path")
    if not src_dir.is_dir():
        raise InputError(f"source {src_dir} is a file, not a folder; use `vidcolor FILE -o OUT` for one file")
    if dst_dir.exists() and not dst_dir.is_dir():
        raise OutputError(f"output {dst_dir} is a file; give a folder")
    if not dst_dir.exists() and dst_dir.suffix.lower() in MEDIA_EXTENSIONS:
        raise OutputError(f"output {dst_dir} is named like a file, but the folder {src_dir} is coloured into a folder; "
                          f"give a folder name (or create {dst_dir} first to use that name)")
    if dst_dir.resolve() == src_dir.resolve():
        raise OutputError(f"output folder {dst_dir} is the source folder; choose another folder")
    if dst_dir.resolve() in src_dir.resolve().parents:
        raise OutputError(f"output folder {dst_dir} holds the source folder {src_dir}: colour files would be written "
                          "among the originals; choose a folder outside it")
    if src_dir.resolve() in dst_dir.resolve().parents:
        _check_no_originals_in(dst_dir)
    if dst_dir.is_symlink() and not dst_dir.exists():
        raise OutputError(f"output folder {dst_dir} is a link to nothing ({os.readlink(dst_dir)}); choose another folder")
    existing = next(folder for folder in (dst_dir, *dst_dir.absolute().parents) if folder.exists())
    if not existing.is_dir():
        raise OutputError(f"output folder {dst_dir} cannot be made: {existing} is a file; choose another folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {dst_dir} cannot be written ({existing} is read-only or not ours); "
                          "choose another output folder")


def _check_no_originals_in(dst_dir: Path) -> None:
    """Refuse a destination inside the source that already holds files but is not an earlier run's output
    folder (it has neither :data:`OUTPUT_MARK` nor a report): it is not walked, so its photos would be neither
    coloured nor kept apart."""
    if not dst_dir.is_dir() or (dst_dir / OUTPUT_MARK).exists() or any(dst_dir.glob(f"{REPORT_STEM}.*")):
        return
    held = next((path for path in dst_dir.rglob("*") if path.is_file() and not path.name.startswith(".")), None)
    if held is not None:
        raise OutputError(f"output folder {dst_dir} is inside the source folder and already holds files such as "
                          f"{held.relative_to(dst_dir)}, which would be neither coloured nor kept apart from the "
                          "colour ones; choose a new folder")


def make_output_folder(src_dir: Path, dst_dir: Path) -> None:
    """Create ``dst_dir`` and mark it as the output of a folder run from ``src_dir`` with :data:`OUTPUT_MARK`,
    before any output is written there; an :class:`OutputError` when it cannot be made. A mark naming another
    source folder is warned about (see :func:`_warn_of_other_source`)."""
    try:
        dst_dir.mkdir(parents=True, exist_ok=True)
        with open(dst_dir / OUTPUT_MARK, "x", encoding="utf-8") as mark:
            mark.write(f"{OUTPUT_MARK_TEXT}{MARKED_SOURCE}{src_dir.resolve()}\n")
    except FileExistsError:
        if not dst_dir.is_dir():
            raise OutputError(f"output {dst_dir} is a file; give a folder") from None
        _warn_of_other_source(src_dir, dst_dir)
    except OSError as error:
        raise OutputError(f"output folder {dst_dir} cannot be made ({error.strerror or error}); choose another "
                          "output folder") from error


def _warn_of_other_source(src_dir: Path, dst_dir: Path) -> None:
    """Warn when ``dst_dir`` was made by a folder run from another source folder (two camera cards into one
    folder): a file whose output name is already there is skipped as done, though it is another photo."""
    source = _marked_source(dst_dir)
    if source is not None and source != str(src_dir.resolve()):
        warnings.warn(f"{dst_dir} holds the output of a folder run from {source}: a file of {src_dir} whose output "
                      "name is already there is skipped, not coloured; give another DST_DIR to colour this folder "
                      "in full", VidcolorWarning, stacklevel=2)


def _marked_source(dst_dir: Path) -> str | None:
    """The source folder that :data:`OUTPUT_MARK` in ``dst_dir`` names; None without a readable mark."""
    try:
        marked = (dst_dir / OUTPUT_MARK).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    _, found, source = marked.partition(f"\n{MARKED_SOURCE}")
    return source.removesuffix("\n") if found else None


def remove_stale_partials(src_dir: Path, dst_dir: Path) -> None:
    """Remove the working files (``.NAME.partial.EXT``) that a killed run (power loss, SIGKILL) left in
    ``dst_dir`` and this run did not write over, as when their source was deleted meanwhile, and warn naming them.

    Only in an output folder whose :data:`OUTPUT_MARK` names ``src_dir``, only outside hidden and housekeeping
    folders, and only a working file whose output is not there (a finished result kept beside an output that
    appeared meanwhile stays) and that no run holds locked (see :func:`remove_stale_working_file`).
    """
    if _marked_source(dst_dir) != str(src_dir.resolve()):
        return
    removed = []
    for root, folders, files in os.walk(dst_dir):
        folder = Path(root)
        stale = [name for name in files if PARTIAL_NAME.fullmatch(name)]
        if stale:
            working = {partial_path(folder / name).name for name in (*folders, *files)}
            removed.extend(report_name((folder / name).relative_to(dst_dir)) for name in stale
                           if name not in working and remove_stale_working_file(folder / name))
        folders[:] = [name for name in folders if not is_hidden_folder(name)]
    if removed:
        shown = ", ".join(removed[:3]) + (f" and {len(removed) - 3} more" if len(removed) > 3 else "")
        warnings.warn(f"removed {len(removed)} unfinished working file{'s' * (len(removed) > 1)} that an earlier run, "
                      f"stopped before it finished them, left in {dst_dir}: {shown}", VidcolorWarning, stacklevel=2)
