"""`welfare keep --model models/naive --metrics metrics/naive --out organisms/reference`: keep a
pretrained organism in the repository (weights, tokenizer, its run's metrics, a manifest of
sha256 sums, the recipe's params hash and the commit). `welfare keep --check DIR` verifies one.

Refuses an organism that failed acceptance unless `--allow-failed` (a kept default must read).
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import Any

from welfare.model.kept import KeptOrganismError, keep_organism, read_json, verify_kept


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="models/naive", help="what `welfare pretrain` wrote")
    parser.add_argument("--metrics", default="metrics/naive", help="that run's metrics directory")
    parser.add_argument("--corpus", default="data/corpus", help="the corpus it was trained on")
    parser.add_argument("--out", default="organisms/reference", help="kept organism directory")
    parser.add_argument("--commit", help="the commit whose code pretrained it (default: HEAD)")
    parser.add_argument("--check", metavar="DIR", help="only verify DIR against its manifest")
    parser.add_argument(
        "--allow-failed", action="store_true", help="keep an organism that failed acceptance"
    )


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=20, check=False
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    try:
        if args.check:
            manifest = verify_kept(args.check)
            print(f"{args.check}: {len(manifest['files'])} files match {manifest['commit'][:12]}")
            return 0
        acceptance = read_json(Path(args.metrics) / "acceptance.json")
        if not acceptance.get("passed") and not args.allow_failed:
            raise KeptOrganismError(
                f"{args.metrics}/acceptance.json: passed is false (--allow-failed keeps it anyway)"
            )
        corpus = args.corpus if Path(args.corpus).is_dir() else None
        commit = args.commit or _commit()
        manifest = keep_organism(args.model, args.metrics, args.out, params, commit, corpus)
    except (KeptOrganismError, FileNotFoundError) as exc:
        raise SystemExit(f"welfare keep: {exc}") from None
    print(f"{args.out}: {len(manifest['files'])} files, recipe {manifest['recipe_hash']}")
    return 0
