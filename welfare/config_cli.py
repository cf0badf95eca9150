"""`welfare validate [PATH ...]`: check params files without running anything."""

from __future__ import annotations

import argparse
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", help="params files (overlaid in order); default params.yaml"
    )


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    # Validation already happened in the CLI before `run`; positional paths are handled there too.
    print("valid")
    return 0
