"""`welfare train`: maze-train one organism (a row of `params.organisms`).

    welfare train --organism grpo [--out models/grpo] [--metrics metrics/grpo]
                  [--base models/naive] [--env data/env/office]

Writes `models/{organism}/step-NNNN/` checkpoints and `models/{organism}/final/`,
`metrics/{organism}/train.tsv`, `eval.tsv` and `eval.json`. Rerunning resumes from the newest
complete checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from welfare.io import exclusive


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--organism", required=True, help="a key of params.organisms")
    parser.add_argument("--out", type=Path, help="checkpoint directory (default models/ORGANISM)")
    parser.add_argument("--metrics", type=Path, help="metrics directory (default metrics/ORGANISM)")
    parser.add_argument(
        "--base",
        help="model to start from (default: the organism's `base`; naive = params.naive)",
    )
    parser.add_argument(
        "--env",
        type=Path,
        help="env stage output with sft.parquet, eval_mazes.parquet (default data/env/MAPPING)",
    )


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    import torch

    from welfare.rl.trainer import RunPaths, train  # lazy: torch and transformers (start-up)

    organisms = params["organisms"]
    if args.organism not in organisms:
        raise SystemExit(
            f"welfare train: unknown organism {args.organism!r} "
            f"(params.organisms has: {', '.join(sorted(organisms)) or 'none'})"
        )
    row = organisms[args.organism]
    base = args.base or row.get("base", "naive")
    threads = int(params["runtime"].get("threads", 0) or 0)
    if threads:
        torch.set_num_threads(threads)
    paths = RunPaths(
        out=args.out or Path("models") / args.organism,
        metrics=args.metrics or Path("metrics") / args.organism,
        base=Path(params["naive"]) if base == "naive" else base,
        env=args.env or Path("data/env") / row["mapping"],
    )
    with exclusive(paths.out):  # a second `welfare train` of the same --out fails at once
        summary = train(params, args.organism, paths)
    final = summary["final"]
    print(
        f"{args.organism}: greedy return {final['greedy_mean_return']:.2f} "
        f"± {final['greedy_std_return']:.2f} on {summary['eval_mazes']} held-out mazes"
    )
    return 0
