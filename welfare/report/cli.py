"""`welfare report --out report`: the HTML report with the paper's figures and tables for every
organism in params, plus `metrics.json` (headline numbers) and `plots/` (DVC plots data).

Reads `metrics/` (every stage's metrics files, see docs/conventions.md); any missing file costs
only the figures that need it, which then say "not available".
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from welfare.report.build import ReportPaths, build_report


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="report", type=Path, help="report directory")
    parser.add_argument("--metrics", default="metrics", type=Path, help="metrics directory")
    parser.add_argument(
        "--root",
        default=".",
        type=Path,
        help="working directory of the pipeline (for dvc.lock and the git commit)",
    )


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    root = args.root.resolve()
    metrics = args.metrics if args.metrics.is_absolute() else root / args.metrics
    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    build_report(params, ReportPaths(root=root, metrics=metrics, out=out))
    print(f"{out / 'index.html'}")
    return 0
