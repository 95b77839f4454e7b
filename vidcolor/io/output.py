"""Safe output paths: checked before any work starts, written to a temporary file, renamed at the end."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import OutputBusyError, OutputError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


def check_output_path(input_path: Path, output_path: Path, overwrite: bool) -> None:
    """Refuse an output that equals the input (or whose temporary file would be the input), whose name,
    temporary file's name or path is too long, that sits in a missing or unwritable folder, or exists without
    ``overwrite``."""
    if not output_path.name:  # `-o .`, `-o /`: a folder, and no name to give the working file
        raise OutputError(f"output {output_path} is a folder; give a file name")
    longest = longest_name(output_path.parent)
    if len(os.fsencode(output_path.name)) > longest:
        raise OutputError(f"output name {output_path.name!r} is over the {longest} bytes a file name may have here; "
                          "choose a shorter name")
    check_name_length(partial_path(output_path), output_path)
    try:
        _check_output_place(input_path, output_path, overwrite)
    except OSError as error:
        if error.errno != errno.ENAMETOOLONG:
            raise
        raise OutputError(f"output {output_path.name!r} cannot be written: its path is too long for the file system "
                          f"({error.strerror}); choose an output folder with a shorter path") from error


def _check_output_place(input_path: Path, output_path: Path, overwrite: bool) -> None:
    """The checks of :func:`check_output_path` that look at the file system (an ``OSError`` for a path too long)."""
    for written in (output_path, partial_path(output_path)):
        same_file = written.exists() and input_path.exists() and written.samefile(input_path)
        if written.resolve() == input_path.resolve() or same_file:
            raise OutputError(f"output {output_path} would overwrite the input file {input_path}; choose another output path")
    if not output_path.parent.is_dir():
        if output_path.parent.exists():
            raise OutputError(f"{output_path.parent} is a file, not a folder, so {output_path.name} cannot be "
                              "written in it; choose another output path")
        raise OutputError(f"output folder {output_path.parent} does not exist; create it first")
    if not os.access(output_path.parent, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {output_path.parent} is not writable (read-only or no permission); "
                          "choose another output folder")
    if output_path.is_dir():
        raise OutputError(f"output {output_path} is a folder; give a file name")
    if output_path.exists() and not overwrite:
        raise OutputError(f"output {output_path} already exists; pass --overwrite to replace it")


def check_name_length(path: Path, output_path: Path) -> None:
    """Refuse, before any work, an output whose working file or folder ``path`` (a longer name beside it)
    would exceed the file system's longest name."""
    longest = longest_name(path.parent)
    if len(os.fsencode(path.name)) > longest:
        raise OutputError(f"output name {output_path.name!r} is too long: its working name {path.name!r} is over "
                          f"the {longest} bytes a name may have here; choose a shorter name")


def longest_name(folder: Path) -> int:
    """The most bytes a file name may have in ``folder`` (255 where the system does not say)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # a missing folder, an unknown name; Windows has no pathconf
        return 255


def partial_path(output_path: Path) -> Path:
    """The hidden temporary file beside ``output_path``: ``.NAME.partial.EXT``, keeping the suffix so formats
    are detected. For a name too long for that (a batch cannot choose its names), NAME is cut short and
    ends in ``~`` and a hash of the whole name, so two long names sharing a start still differ."""
    name = f".{output_path.stem}.partial{output_path.suffix}"
    room = longest_name(output_path.parent) - len(os.fsencode(name))
    if room >= 0:
        return output_path.with_name(name)
    stem = os.fsencode(output_path.stem)
    digest = hashlib.sha256(stem).hexdigest()[:8]
    kept = stem[: max(len(stem) + room - len(digest) - 1, 0)].decode("utf-8", "ignore")
    return output_path.with_name(f".{kept}~{digest}.partial{output_path.suffix}")


# the name :func:`partial_path` gives: ``.NAME.partial.EXT``, ``.NAME.partial`` without a suffix
PARTIAL_NAME = re.compile(r"\..+\.partial(\.[^.]+)?", re.DOTALL)


def remove_stale_working_file(path: Path) -> bool:
    """Remove ``path``, a working file left by a killed run, when it is a regular file no process holds locked;
    whether it was removed. A file another run is writing (locked), a link, and any file where locks cannot be
    taken (Windows, file systems without locks: no telling whether another run writes it) are left alone."""
    if fcntl is None:  # and no O_NOFOLLOW either
        return False
    try:  # O_NONBLOCK: a pipe of that name must not block the open
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode) or not try_lock(descriptor):  # a run writes it, or no locks
            return False
        os.unlink(path)  # the lock is held until the name is gone
    except OSError:  # the folder is read-only
        return False
    finally:
        os.close(descriptor)
    return True


def try_lock(descriptor: int) -> bool | None:
    """Take an exclusive lock on the open file or folder ``descriptor`` without waiting, held until it is closed:
    True when taken, False when another process holds it, None where locks cannot be taken (Windows has no
    ``flock``; some network and FUSE mounts refuse it)."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # a file system without locks
        return None
    return True


@contextmanager
def atomic_output(output_path: Path, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``output_path``; rename it into place only if the block succeeds.

    On any error, Ctrl-C included, the temporary file is removed and ``output_path`` is untouched. The
    temporary file is locked while it is written (see :func:`held_exclusively`), so a second run writing
    the same output at the same time stops with an :class:`OutputError` instead of writing into it.
    With ``replace=False`` a file that appeared at ``output_path`` since it was checked absent (see
    :func:`check_output_path`) is kept: found when the lock is taken, :class:`OutputDoneError` before any work
    (another run finished it); found at the end, :class:`OutputAppearedError` (see :func:`move_into_place`).
    """
    temporary = partial_path(output_path)
    with held_exclusively(temporary, output_path):
        try:
            if not replace and os.path.lexists(output_path):
                raise OutputDoneError(f"output {output_path} was written by another run meanwhile; it was left alone and "
                                      "this run did not start")
            yield temporary
            if replace:
                os.replace(temporary, output_path)
            else:
                move_into_place(temporary, output_path)
        except OutputAppearedError:
            raise
        except BaseException:
            try:
                temporary.unlink(missing_ok=True)
            except OSError:  # e.g. a read-only folder where it was never created: keep the first error
                pass
            raise


class OutputDoneError(OutputError):
    """The output was written by another run between its check and the start of the work; nothing was done."""


class OutputAppearedError(OutputError):
    """A file appeared at the output path while the output was written; the finished work was kept beside it."""


def move_into_place(temporary: Path, output_path: Path) -> None:
    """Rename ``temporary`` to ``output_path`` unless a file of that name exists by now (another program
    wrote it during a render of hours): then :class:`OutputAppearedError`, keeping ``temporary``, the finished
    work, under its own name. A hard link makes the check and the rename one step; file systems without
    hard links (FAT, exFAT, some network shares) check, then rename."""
    try:
        os.link(temporary, output_path)
    except FileExistsError:
        raise _appeared(temporary, output_path) from None
    except OSError:  # no hard links here
        if os.path.lexists(output_path):
            raise _appeared(temporary, output_path) from None
        os.replace(temporary, output_path)
    else:
        temporary.unlink()


def _appeared(temporary: Path, output_path: Path) -> OutputAppearedError:
    return OutputAppearedError(f"output {output_path} was created by something else while this run wrote it, so it "
                               f"was left alone; the finished result is kept as {temporary}: rename it yourself")


@contextmanager
def held_exclusively(temporary: Path, output_path: Path) -> Iterator[None]:
    """Create ``temporary`` (or open a stale one a killed run left) and hold an exclusive lock on it.

    The writers open the same file by its name, so the lock covers what they write, and it moves with
    the file when it is renamed into place. Where another process holds it (two runs, or two folder
    runs, colouring into one place at once), :class:`OutputBusyError`; the other run's file is left alone.
    Systems without ``flock`` (Windows) and file systems that refuse it (some network mounts) are not locked.
    """
    if fcntl is None:
        yield
        return
    try:
        descriptor = os.open(temporary, os.O_CREAT | os.O_WRONLY, 0o666)
    except OSError as error:
        raise OutputError(f"cannot write {temporary} ({error.strerror}); choose another output folder") from error
    try:
        if try_lock(descriptor) is False:  # None: a file system without locks (some network and FUSE mounts)
            raise OutputBusyError(f"output {output_path} is being written by another run right now (its working file "
                                  f"{temporary.name} is locked); wait for that run or choose another output")
        yield
    finally:
        os.close(descriptor)
