"""`welfare axis`: reward concept vectors, ℓ*, and the geometry of docs/protocol.md §3–4.5, with
nulls.

    welfare axis --trained activations/grpo/final.zarr --naive activations/grpo/naive.zarr \
        --model models/grpo/final --naive-model models/naive --corpus data/corpus \
        --out vectors/grpo.nc --metrics metrics/grpo/axis.json
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from welfare.axis.stage import AxisInputs, run_axis
from welfare.io import InputError
from welfare.rl.config import TrainConfig


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trained", required=True, type=Path, help="trained checkpoint's store")
    parser.add_argument("--naive", required=True, type=Path, help="maze-naive model's store")
    parser.add_argument("--out", required=True, type=Path, help="vectors file (.nc)")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics JSON")
    parser.add_argument("--model", default=None, help="trained checkpoint (logit lens of v)")
    parser.add_argument(
        "--naive-model",
        default=None,
        help="maze-naive model (logit lens of u, emotion and sentiment vectors)",
    )
    parser.add_argument(
        "--corpus",
        default=None,
        type=Path,
        help="directory with the corpus JSONL (emotion / sentiment texts)",
    )
    parser.add_argument("--organism", default=None, help="default: the --out file stem")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    import torch

    if params["runtime"]["threads"]:
        torch.set_num_threads(int(params["runtime"]["threads"]))
    check_inputs(args, params)
    organism = args.organism or args.out.stem
    run_axis(
        AxisInputs(
            trained_store=args.trained,
            naive_store=args.naive,
            out_vectors=args.out,
            out_metrics=args.metrics,
            model=args.model,
            naive_model=args.naive_model,
            corpus=args.corpus,
            organism=organism,
            top_layers=adapted_top_layers(params, organism),
        ),
        params,
    )
    return 0


def check_inputs(args: argparse.Namespace, params: dict[str, Any]) -> None:
    """Refuse, before any work, a corpus that is not there (a typo would otherwise skip the
    emotion geometry with only a note in axis.json). The stores are verified by `run_axis`."""
    if args.corpus is not None:
        split = params["axis"]["emotion"]["corpus_split"]
        corpus_file = Path(args.corpus) / f"{split}.jsonl"
        if not corpus_file.is_file():
            raise InputError(
                f"{corpus_file}: not found (--corpus {args.corpus}, axis.emotion.corpus_split)"
            )


def adapted_top_layers(params: dict[str, Any], organism: str) -> int:
    """N when the organism trained LoRA on its top N blocks only, else 0 (every block could move;
    also for a store whose organism is not in the table)."""
    if organism not in params["organisms"]:
        return 0
    cfg = TrainConfig.for_organism(params, organism)
    return int(cfg.lora["top_layers"]) if cfg.adapter == "lora" else 0
