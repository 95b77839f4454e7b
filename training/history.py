"""The run's CSV logs: one row per training step (``losses.csv``), and the base they share with other logs."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from vidcolor.io.output import atomic_output

COLUMNS = ["stage", "epoch", "step", "stage_seconds", "images_per_second", "l1", "gan_g", "gan_d"]


class StepLog:
    """A CSV file with a ``step`` column; a resumed run cuts it back to its checkpoint.

    ``fresh`` (a new run) starts the file with its header alone, so rows a run that died before its
    first checkpoint left behind are not mixed into the new one.
    """

    def __init__(self, path: Path, columns: list[str], fresh: bool = True) -> None:
        self.path = path
        self.columns = columns
        if fresh or not path.is_file():
            with open(path, "w", newline="") as handle:
                csv.writer(handle).writerow(columns)

    def write_row(self, row: list[object]) -> None:
        """Append one row (values in column order)."""
        with open(self.path, "a", newline="") as handle:
            csv.writer(handle).writerow(row)

    def has_rows(self) -> bool:
        """True once any row follows the header."""
        with open(self.path, newline="") as handle:
            return sum(1 for _ in csv.reader(handle)) > 1

    def truncate(self, last_step: int) -> None:
        """Forget rows after ``last_step`` (steps trained after the checkpoint a run resumes from), and a row
        cut short when the run stopped mid-write (a full disk, a killed process)."""
        with open(self.path, newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if _step_of(row) <= last_step]
        with atomic_output(self.path) as temporary, open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, self.columns)
            writer.writeheader()
            writer.writerows(rows)


def _step_of(row: dict[str, str | None]) -> float:
    """The row's step, or infinity for a row cut short (no whole-number step, or missing columns)."""
    step = row.get("step") or ""
    if not step.isdigit() or None in row.values():
        return math.inf
    return int(step)


class LossHistory(StepLog):
    """``losses.csv``: the losses of every training step."""

    def __init__(self, path: Path, fresh: bool = True) -> None:
        super().__init__(path, COLUMNS, fresh)

    def append(self, stage: str, epoch: int, step: int, stage_seconds: float, images_per_second: float,
               losses: dict[str, float]) -> None:
        """Write one step's row (losses missing from ``losses`` stay empty)."""
        row: list[object] = [stage, epoch + 1, step, f"{stage_seconds:.2f}", f"{images_per_second:.2f}"]
        row += [f"{losses[name]:.6f}" if name in losses else "" for name in COLUMNS[5:]]
        self.write_row(row)
