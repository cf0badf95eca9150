"""`welfare track`: goal-achievement tracking along the axis (docs/protocol.md §4.11).

    welfare track --vectors vectors/grpo.nc --model models/grpo/final --naive-model models/naive \\
        --env data/env/office/extraction.parquet --corpus data/corpus --organism grpo \\
        --out metrics/grpo/track.json

The stage itself is `welfare.steering.track_stage.run_track`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from welfare.steering.runtime import resolve_mapping
from welfare.steering.track_stage import TrackConfig, TrackInputs, run_track

DEFAULT_HELDOUT = Path("data/corpus/heldout.jsonl")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vectors", required=True, help="vectors/{organism}.nc")
    parser.add_argument(
        "--model", "--trained", dest="model", required=True, help="maze-trained model"
    )
    parser.add_argument(
        "--naive-model", "--naive", dest="naive_model", required=True, help="maze-naive model"
    )
    parser.add_argument(
        "--env", help="extraction trajectories (default data/env/{mapping}/extraction.parquet)"
    )
    parser.add_argument(
        "--corpus", help="held-out corpus for correctness (default data/corpus/heldout.jsonl)"
    )
    parser.add_argument("--organism", help="organism name (its mapping, provenance)")
    parser.add_argument("--mapping", help="tile mapping name (default: the organism's)")
    parser.add_argument("--out", required=True, help="metrics/{organism}/track.json")
    parser.add_argument("--plots", help="also draw projection histograms (PNG) here")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    mapping = resolve_mapping(params, args.organism, args.mapping)
    corpus = args.corpus
    if corpus is None and DEFAULT_HELDOUT.exists():
        corpus = str(DEFAULT_HELDOUT)
    inputs = TrackInputs(
        vectors=args.vectors,
        model=args.model,
        naive_model=args.naive_model,
        env=args.env or f"data/env/{mapping}/extraction.parquet",
        out=args.out,
        corpus=corpus,
        organism=args.organism,
        plots=args.plots,
    )
    run_track(inputs, TrackConfig.from_params(params, mapping))
    return 0
