"""`welfare env`: extraction trajectories, held-out eval mazes and SFT demonstrations.

    welfare env [--params P ...] --mapping M --out data/env/M \
        --metrics metrics/env/M/class_balance.json

Writes extraction.parquet, eval_mazes.parquet and sft.parquet under --out and the class-balance
metrics to --metrics. The datasets store tile classes, not symbols: the mapping only chooses which
emoji `welfare.env.render_*_messages` show, so the rows are the same for every mapping.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from welfare.config import params_hash
from welfare.env.balance import class_balance
from welfare.env.eval_mazes import evaluate_maze
from welfare.env.extraction import (
    ExtractionSpec,
    ExtractionStats,
    assign_splits,
    iter_trajectories,
)
from welfare.env.sft import make_demonstration
from welfare.env.tables import eval_columns, extraction_columns, sft_columns, write_table
from welfare.io import write_json
from welfare.maze import MazeConfig

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mapping", required=True, help="tile mapping name (params.mappings)")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--metrics", required=True, type=Path, help="class-balance JSON path")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    if args.mapping not in params["mappings"]:
        known = ", ".join(sorted(params["mappings"]))
        log.error("unknown mapping %r (params.mappings has: %s)", args.mapping, known)
        return 2
    config = MazeConfig.from_params(params["maze"])
    env = params["env"]
    meta = {
        "params_hash": params_hash(params, ["maze", "env"]),
        "mapping": args.mapping,
    }

    spec = ExtractionSpec.from_params(env)
    stats = ExtractionStats()
    started = time.perf_counter()
    trajectories = list(
        tqdm(iter_trajectories(spec, config, stats), total=spec.n_trajectories, desc="extraction")
    )
    splits = assign_splits(trajectories, spec.heldout_fraction, spec.seed_base)
    log.info(
        "%d trajectories from %d mazes in %.1f s",
        len(trajectories), stats.mazes_drawn, time.perf_counter() - started,
    )  # fmt: skip
    write_table(args.out / "extraction.parquet", extraction_columns(trajectories, splits), meta)
    write_json(args.metrics, class_balance(trajectories, splits, stats) | {"meta": meta})

    eval_spec = env["eval"]
    seeds = range(eval_spec["seed_base"], eval_spec["seed_base"] + eval_spec["n_mazes"])
    mazes = [evaluate_maze(s, config) for s in tqdm(seeds, desc="eval mazes")]
    write_table(args.out / "eval_mazes.parquet", eval_columns(mazes), meta)

    sft_spec = env["sft"]
    seeds = range(sft_spec["seed_base"], sft_spec["seed_base"] + sft_spec["n_demos"])
    demos = [make_demonstration(s, config) for s in tqdm(seeds, desc="sft demos")]
    write_table(args.out / "sft.parquet", sft_columns(demos), meta)
    return 0
