"""Typed errors the library raises; the CLI turns each into a one-line message."""


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
