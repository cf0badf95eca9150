"""`welfare corpus --out data/corpus`: generate the organism's pretraining corpus."""

from __future__ import annotations

import argparse
from typing import Any

from welfare.corpus.generate import write_corpus


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="data/corpus", help="directory for train/heldout.jsonl")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    counts = write_corpus(params, args.out)
    for split, per_genre in counts.items():
        print(
            f"{split}: {sum(per_genre.values())} rows "
            + ", ".join(f"{g}={n}" for g, n in per_genre.items())
        )
    return 0
