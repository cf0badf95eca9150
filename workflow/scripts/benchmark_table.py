#!/usr/bin/env python3
"""Summarise Snakemake's `logs/benchmarks/` (one TSV per job) as a Markdown table.

    python workflow/scripts/benchmark_table.py [logs/benchmarks/]

Columns: job (rule file path without .tsv), wall seconds, CPU seconds (user+system as Snakemake's
benchmark records them, `cpu_time`), peak RSS in MB. Rows in pipeline order, then a total.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ORDER = [
    "env",
    "corpus",
    "tokenizer",
    "pretrain",
    "train",
    "activations",
    "axis",
    "steer",
    "track",
    "report",
]


def rows(root: Path) -> list[tuple[str, float, float, float]]:
    out = []
    for path in root.rglob("*.tsv"):
        with open(path, newline="") as fh:
            record = next(csv.DictReader(fh, delimiter="\t"), None)
        if record is None:
            continue

        def number(key: str, record: dict = record) -> float:
            try:
                return float(record.get(key) or "nan")
            except ValueError:
                return float("nan")

        job = path.relative_to(root).with_suffix("").as_posix()
        out.append((job, number("s"), number("cpu_time"), number("max_rss")))

    def key(row: tuple) -> tuple[int, str]:
        stage = row[0].split("/")[0]
        return (ORDER.index(stage) if stage in ORDER else len(ORDER), row[0])

    return sorted(out, key=key)


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "logs/benchmarks")
    table = rows(root)
    print("| job | wall (s) | CPU (s) | peak RSS (MB) |")
    print("|---|---:|---:|---:|")
    for job, wall, cpu, rss in table:
        print(f"| {job} | {wall:.1f} | {cpu:.1f} | {rss:.0f} |")
    print(
        f"| **sum of jobs** | {sum(r[1] for r in table):.1f} | {sum(r[2] for r in table):.1f} | |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
