"""Typed errors the library raises; the CLI turns each into a one-line message."""

import os

DEBUG_ENV = "VIDCOLOR_DEBUG"  # set (and not 0): tracebacks instead of one-line messages


class VidcolorError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


class InputError(VidcolorError):
    """The input file is missing, empty, not media, truncated or otherwise unusable."""


class OutputError(VidcolorError):
    """The output path cannot be written (exists, same as input, folder missing, encoder refused)."""


class OutputBusyError(OutputError):
    """Another run is writing the same output right now (its working file is locked)."""


class WeightsError(VidcolorError):
    """A weights file is missing, corrupt, or was made for another architecture."""


class ArgumentError(VidcolorError, ValueError):
    """A library call was given a value out of range (a batch size of 0, a NaN saturation); also a
    ``ValueError``. Arguments of the wrong type raise ``TypeError``."""


class VidcolorWarning(UserWarning):
    """Something about one file the user should know (a page, a sound track or metadata left out); the CLI
    shows every one, also when two files of a batch give the same message."""


def first_line(error: BaseException) -> str:
    """An error's message up to its first line break (PyTorch's state-dict errors run to many lines), or its
    type's name when it has none."""
    message = str(error).strip()
    return message.splitlines()[0] if message else type(error).__name__


def debug_enabled() -> bool:
    """Whether ``VIDCOLOR_DEBUG`` asks for tracebacks (set, and not ``0``)."""
    return os.environ.get(DEBUG_ENV, "0") not in ("", "0")


def joined_lines(message: str) -> str:
    """``message`` on one line: a library's text quoted in it may hold line breaks."""
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


def shown_name(text: str) -> str:
    """``text`` (a file or folder name) as a message, a table or a UTF-8 file can hold it: bytes that are not UTF-8
    (names from old Latin-1 archives, kept by Python as surrogates) shown as ``\\xe9``."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def described(error: Exception) -> str:
    """An unexpected error's type and the first line of its message (OpenCV's end in a line break, PyTorch's
    state-dict errors run to many lines: the rest is in the traceback)."""
    return f"{type(error).__name__}: {first_line(error)}" if str(error).strip() else type(error).__name__
