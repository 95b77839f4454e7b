"""Command-line plumbing shared by the benchmark scripts: one-line errors and checked option values."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from vidcolor.errors import DEBUG_ENV, VidcolorError, debug_enabled, described


def run(main: Callable[[], None]) -> None:
    """Run a script's ``main``; an error ends it with one ``error: ...`` line on stderr and exit status 1
    (Ctrl-C: 130). ``VIDCOLOR_DEBUG=1`` shows the traceback of an error that is not a ``VidcolorError``."""
    try:
        main()
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except VidcolorError as error:
        _fail(str(error))
    except Exception as error:  # noqa: BLE001 - a bug or a library's error: still one line, with the way to see more
        if debug_enabled():
            raise
        _fail(f"{described(error)} (set {DEBUG_ENV}=1 for details)")


def _fail(message: str, status: int = 1) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def frame_size(text: str) -> tuple[int, int]:
    """An argparse type: ``WxH`` with an even, positive width and height (the 4:2:0 encoders need both even)."""
    try:
        width, height = (int(side) for side in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 1280x720, got {text!r}") from None
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"width and height must be even and at least 2, got {text!r}")
    return width, height
