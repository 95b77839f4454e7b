"""The run's loss log: one CSV row per training step."""

from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = ["stage", "epoch", "step", "stage_seconds", "images_per_second", "l1", "gan_g", "gan_d"]


class LossHistory:
    """Appends rows to ``losses.csv``; rows past a resumed checkpoint's step are dropped first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            with open(path, "w", newline="") as handle:
                csv.writer(handle).writerow(COLUMNS)

    def append(self, stage: str, epoch: int, step: int, stage_seconds: float, images_per_second: float,
               losses: dict[str, float]) -> None:
        """Write one step's row (losses missing from ``losses`` stay empty)."""
        row = [stage, epoch + 1, step, f"{stage_seconds:.2f}", f"{images_per_second:.2f}"]
        row += [f"{losses[name]:.6f}" if name in losses else "" for name in COLUMNS[5:]]
        with open(self.path, "a", newline="") as handle:
            csv.writer(handle).writerow(row)

    def truncate(self, last_step: int) -> None:
        """Forget rows after ``last_step`` (steps trained after the checkpoint a run resumes from)."""
        with open(self.path, newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= last_step]
        with open(self.path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
