"""The hidden working file's name beside an output: kept whole while it fits the file system's longest name."""

from __future__ import annotations

import os
from pathlib import Path

from vidcolor.io.output import longest_name, partial_path


def test_a_working_name_of_exactly_the_longest_length_is_kept_whole(tmp_path: Path) -> None:
    """A working name that fits exactly must not be cut and hashed: a user seeing it could no longer tell its output."""
    longest = longest_name(tmp_path)
    stem = "a" * (longest - len(".") - len(".partial.mp4"))
    working = partial_path(tmp_path / f"{stem}.mp4")
    assert working == tmp_path / f".{stem}.partial.mp4"
    assert len(os.fsencode(working.name)) == longest
    longer = partial_path(tmp_path / f"{stem}a.mp4")
    assert len(os.fsencode(longer.name)) == longest and "~" in longer.name
