"""Another run writing an output, for tests of the working file's lock."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from vidcolor.io.output import partial_path

try:
    import fcntl
except ImportError:  # Windows: no flock, the tests that need it are skipped
    fcntl = None

CONTENT = b"the other run's bytes"


@contextmanager
def written_by_another_run(output: Path) -> Iterator[Path]:
    """Hold the lock on ``output``'s working file, as a run writing it holds it; yields the working file,
    which holds :data:`CONTENT`."""
    working = partial_path(output)
    working.write_bytes(CONTENT)
    with open(working, "r+b") as other_run:
        fcntl.flock(other_run, fcntl.LOCK_EX)
        yield working
