"""What a folder run colours and where: the sorted walk of the source tree (hidden, housekeeping and linked
folders left out), each file's kind by content, the output name of a file whose own extension no photo
format or muxer takes, and the check that no two sources share one output."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError, OutputError
from .io.images import IMAGE_SUFFIXES
from .io.output import longest_name
from .io.probe import probe_media

# a damaged file with one of these names is a failed photo or video, not an ignored file: pictures FFmpeg
# reads (phones, film scans, web downloads, Photoshop masters), and camcorder, phone, DVD, raw-stream and web video names
IMAGE_EXTENSIONS = frozenset(
    {*IMAGE_SUFFIXES, ".jpe", ".jfif", ".jp2", ".j2k", ".heic", ".heif", ".avif", ".jxl", ".dpx", ".exr",
     ".tga", ".pcx", ".ppm", ".pgm", ".pbm", ".qoi", ".sgi", ".psd", ".dds", ".ras", ".xpm", ".pfm", ".fits"}
)
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".mov", ".qt", ".mkv", ".mk3d", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".mpe", ".m2p", ".wmv",
     ".flv", ".ts", ".m2t", ".vob", ".vro", ".3gp", ".3g2", ".mts", ".m2ts", ".mod", ".tod", ".dv", ".ogv",
     ".gif", ".m1v", ".m2v", ".h264", ".264", ".h265", ".265", ".hevc", ".asf", ".mxf", ".divx", ".f4v", ".rm",
     ".rmvb", ".y4m", ".lrv", ".nut"}
)
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
# folders that NAS systems, Windows, macOS and Linux keep for themselves: thumbnails (Synology `@eaDir` holds
# SYNOPHOTO_THUMB_*.jpg for every photo), recycle bins, snapshots, zip leftovers, fsck's finds; matched ignoring case
HOUSEKEEPING_FOLDERS = frozenset(
    {"@eadir", "#recycle", "#snapshot", "@recycle", "@recently-snapshot", "$recycle.bin",
     "system volume information", "__macosx", "lost+found"}
)
LINKED_FOLDER = "a link to a folder, not followed (links can loop)"
SOUND_ONLY = "sound only, no picture"


def walk_tree(src_dir: Path, exclude: Path | None = None) -> tuple[list[Path], dict[Path, str]]:
    """Files under ``src_dir``, sorted by relative path, and the folders left out with the reason: those
    that could not be listed (no permission, gone meanwhile) and symlinked folders, which are not followed
    (links can loop). Hidden files and folders, housekeeping folders (:data:`HOUSEKEEPING_FOLDERS`) and
    ``exclude`` are left out silently; symlinked files are included.
    """
    excluded = exclude.resolve() if exclude is not None else None
    found: list[Path] = []
    unreadable: dict[Path, str] = {}

    def note_unreadable(error: OSError) -> None:
        unreadable[Path(error.filename)] = error.strerror or str(error)

    for root, folders, files in os.walk(src_dir, onerror=note_unreadable):
        root_path = Path(root)
        folders[:] = sorted(
            name for name in folders
            if not is_hidden_folder(name) and (excluded is None or (root_path / name).resolve() != excluded)
        )
        unreadable.update({root_path / name: LINKED_FOLDER for name in folders if (root_path / name).is_symlink()})
        found.extend(root_path / name for name in files if not name.startswith("."))
    return sorted(found, key=lambda path: path.relative_to(src_dir).parts), unreadable


def is_hidden_folder(name: str) -> bool:
    """Whether a folder is hidden (``.name``) or one a system keeps for itself (:data:`HOUSEKEEPING_FOLDERS`)."""
    return name.startswith(".") or name.casefold() in HOUSEKEEPING_FOLDERS


def classify(path: Path) -> tuple[str, str]:
    """``(kind, error)``: kind is "image"/"video" for media, "" otherwise, with the reason in ``error``.

    A file with a media extension (:data:`MEDIA_EXTENSIONS`) is meant to be media, so the caller fails it
    when kind is "", unless it holds sound alone (:data:`SOUND_ONLY`: a phone's `.3gp` voice memo, a song saved
    as `.mp4` with its cover); any
    other file is used only when its content is a picture or a video (audio files whose only picture is
    cover art are not). A file that cannot be read (no permission) is an error, whatever its name.
    """
    try:
        probe = probe_media(path)
    except InputError as error:
        if isinstance(error.__cause__, PermissionError):
            raise InputError(f"{path} cannot be read ({error.__cause__.strerror or 'no permission'}); fix its "
                             "permissions and run again") from error
        return "", str(error)
    if probe.kind is None:
        return "", SOUND_ONLY if probe.sound and not probe.moving else probe.reason
    if probe.kind == "video" and not probe.moving:
        if path.suffix.lower() in MEDIA_EXTENSIONS:  # a song saved as .mp4 with its cover
            return "", SOUND_ONLY
        return "", f"{path} is audio with cover art, not a video"
    return probe.kind, ""


def links_to_a_media_name(link: Path) -> bool:
    """Whether ``link`` is a symbolic link to a name with a media extension (`tape -> /mnt/old/tape.mov`)."""
    try:
        return Path(os.readlink(link)).suffix.lower() in MEDIA_EXTENSIONS
    except OSError:
        return False


def claim_output(output: Path, name: str, claimed: dict[tuple[int, int], str]) -> None:
    """Record ``output`` as the output of ``name``; an error when it is the file an earlier source of the run
    wrote or found there: a drive that ignores case (exFAT, macOS) makes one file of `A.jpg` and `a.jpg`.
    Hard links are names of their own (outputs deduplicated on purpose), so they are not compared."""
    status = output.stat()
    if not status.st_ino or status.st_nlink > 1:  # no file numbers on this file system, or hard links
        return
    owner = claimed.setdefault((status.st_dev, status.st_ino), name)
    if owner != name:
        raise OutputError(f"the output {output} of {name} is already the output of {owner} (the output folder "
                          "does not tell their names apart, as on a drive that ignores case); rename one of them")


def renamed_output(source: Path, output: Path, name: str, suffix: str) -> Path:
    """``output`` with ``suffix`` added (``scan.gif`` -> ``scan.gif.png``); an error when that name is too
    long, or when a source file beside ``source`` already has it, since its own output goes there."""
    renamed = output.with_name(output.name + suffix)
    longest = longest_name(output.parent)
    if len(os.fsencode(renamed.name)) > longest:
        raise OutputError(f"{name} would be written as {renamed.name}, over the {longest} bytes a file name may "
                          "have; shorten its name")
    if source.with_name(renamed.name).exists():  # `scan` and `scan.png` side by side
        raise OutputError(f"{name} would be written as {renamed.name}, the output of the source file of "
                          "that name; rename one of them")
    return renamed
