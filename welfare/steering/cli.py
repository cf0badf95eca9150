"""`welfare steer`: the steering battery over the α grid, its layer sweep, and controls.

    welfare steer --vectors vectors/grpo.nc --naive-model models/naive \\
        --trained-model models/grpo/final --corpus data/corpus --organism grpo \\
        --eval-mazes data/env/office/eval_mazes.parquet --out metrics/grpo/steer.json

The stage itself is `welfare.steering.stage.run_steer`.
"""

from __future__ import annotations

import argparse
from typing import Any

from welfare.steering.runtime import resolve_mapping
from welfare.steering.stage import SteerConfig, SteerInputs, run_steer


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vectors", required=True, help="vectors/{organism}.nc")
    parser.add_argument("--naive-model", required=True, help="maze-naive model (steered with v)")
    parser.add_argument("--trained-model", help="maze-trained model (App. A: steered with its v)")
    parser.add_argument("--corpus", help="held-out corpus: data/corpus or its heldout.jsonl")
    parser.add_argument("--eval-mazes", help="data/env/{mapping}/eval_mazes.parquet")
    parser.add_argument("--organism", help="organism name (its mapping, provenance)")
    parser.add_argument("--mapping", help="tile mapping name (default: the organism's)")
    parser.add_argument("--out", required=True, help="metrics/{organism}/steer.json")
    parser.add_argument("--records", help="also write every scored response here (JSONL)")
    parser.add_argument("--plots", help="also draw dose-response and layer-sweep PNGs here")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    mapping = resolve_mapping(params, args.organism, args.mapping)
    inputs = SteerInputs(
        vectors=args.vectors,
        naive_model=args.naive_model,
        out=args.out,
        trained_model=args.trained_model,
        corpus=args.corpus,
        eval_mazes=args.eval_mazes,
        organism=args.organism,
        records=args.records,
        plots=args.plots,
    )
    run_steer(inputs, SteerConfig.from_params(params, mapping))
    return 0
