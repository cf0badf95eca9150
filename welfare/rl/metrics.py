"""Per-step metrics as a TSV (a DVC plot), rewritten atomically after every row.

On resume, rows past the resumed step are dropped: they came from steps that will run again.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from welfare.io import atomic_path


class MetricsLog:
    """Rows of named numbers keyed by `step`; the column set is fixed by the first row."""

    def __init__(self, path: str | Path, resume_after: int | None = None) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []
        if resume_after is not None and self.path.exists():
            with open(self.path, newline="", encoding="utf-8") as fh:
                self.rows = [
                    row
                    for row in csv.DictReader(fh, delimiter="\t")
                    if int(row["step"]) <= resume_after
                ]

    def append(self, row: dict[str, Any]) -> None:
        """Add `row`, replacing any rows at or after its step (a step run again)."""
        self.rows = [r for r in self.rows if int(r["step"]) < int(row["step"])]
        self.rows.append(row)
        self.write()

    def write(self) -> None:
        if not self.rows:
            return
        columns = list(self.rows[0])
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, columns, delimiter="\t", extrasaction="ignore")
            writer.writeheader()
            for row in self.rows:
                writer.writerow({k: _format(row.get(k, "")) for k in columns})


def _format(value: Any) -> Any:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return value
