"""Per-step metrics as a TSV (a DVC plot), rewritten atomically after every row.

On resume, rows past the resumed step are dropped: they came from steps that will run again.
The rows up to the resumed step come from the checkpoint's copy (`saved`) when there is one, so
a curve deleted since (Snakemake removes a failed job's outputs) comes back whole.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from welfare.io import atomic_path


class MetricsLog:
    """Rows of named numbers keyed by `step`; the column set is fixed by the first row."""

    def __init__(
        self, path: str | Path, resume_after: int | None = None, saved: Path | None = None
    ) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []
        if resume_after is not None:
            by_step = {}
            for source in (self.path, saved):  # the checkpoint's copy is complete to its step
                for row in _read(source):
                    if int(row["step"]) <= resume_after:
                        by_step[int(row["step"])] = row
            self.rows = [by_step[step] for step in sorted(by_step)]

    def append(self, row: dict[str, Any]) -> None:
        """Add `row`, replacing any rows at or after its step (a step run again)."""
        self.rows = [r for r in self.rows if int(r["step"]) < int(row["step"])]
        self.rows.append(row)
        self.write()

    def write(self, path: Path | None = None) -> None:
        """Write the rows to the curve's file (or to `path`, a copy)."""
        if not self.rows:
            return
        columns = list(self.rows[0])
        with (
            atomic_path(path or self.path) as tmp,
            open(tmp, "w", newline="", encoding="utf-8") as fh,
        ):
            writer = csv.DictWriter(fh, columns, delimiter="\t", extrasaction="ignore")
            writer.writeheader()
            for row in self.rows:
                writer.writerow({k: _format(row.get(k, "")) for k in columns})


def _read(path: Path | None) -> list[dict[str, Any]]:
    if path is None or not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _format(value: Any) -> Any:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return value
