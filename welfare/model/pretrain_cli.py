"""`welfare pretrain --corpus data/corpus --tokenizer models/tokenizer --out models/naive
--metrics metrics/naive`: pretrain the maze-naive organism, then measure its acceptance.

Metrics: `pretrain.json` (summary), `pretrain.tsv` (loss curve of the kept try),
`reading_probe.tsv` (held-out reading of every try as it trained), `acceptance.json`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from welfare.corpus.generate import genre_configs, read_corpus
from welfare.io import exclusive, remove_leftovers, write_json
from welfare.lm import check_tokenizer
from welfare.model.acceptance import evaluate_acceptance, neighbour_probe
from welfare.model.data import fresh_blocks
from welfare.model.load import resolve_device
from welfare.model.pretrain import (
    PROBE_COLUMNS,
    PretrainResult,
    discard_resume,
    pretrain,
    write_curve,
)
from welfare.model.pretrain_config import PretrainConfig
from welfare.model.reading_probe import reading_probe

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", default="data/corpus", help="train.jsonl and heldout.jsonl")
    parser.add_argument("--tokenizer", default="models/tokenizer", help="HF tokenizer directory")
    parser.add_argument("--out", default="models/naive", help="HF model directory to write")
    parser.add_argument(
        "--metrics",
        default="metrics/naive",
        help="pretrain.json/.tsv, reading_probe.tsv, acceptance.json",
    )
    parser.add_argument("--skip-acceptance", action="store_true", help="train and save only")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    # One writer of the organism at a time; what a killed one left (`.naive.tmp-*`,
    # `.naive.resume.tmp-*`) goes before the resume state is read.
    with exclusive(args.out):
        remove_leftovers(Path(args.out).parent, Path(args.out).name)
        return _pretrain(args, params)


def _pretrain(args: argparse.Namespace, params: dict[str, Any]) -> int:
    import torch
    from transformers import AutoTokenizer

    # Params become typed values here, once; only those travel on.
    cfg = PretrainConfig.from_params(params)
    configs = genre_configs(params)
    device = resolve_device(str(params["runtime"]["device"]))
    if params["runtime"]["threads"] > 0:
        torch.set_num_threads(int(params["runtime"]["threads"]))
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer, local_files_only=True)
    check_tokenizer(tokenizer)
    corpus, metrics = Path(args.corpus), Path(args.metrics)
    train, heldout = read_corpus(corpus / "train.jsonl"), read_corpus(corpus / "heldout.jsonl")
    n_probe = cfg.probe.n
    probe = reading_probe(configs, tokenizer, n_probe, cfg.seed) if n_probe else None
    n_neighbours = cfg.probe.neighbours if n_probe else 0
    neighbours = neighbour_probe(cfg.acceptance, tokenizer, n_neighbours) if n_neighbours else None
    model, result = pretrain(
        train,
        heldout,
        tokenizer,
        cfg,
        args.out,
        metrics / "pretrain.tsv",
        fresh=fresh_blocks(cfg, configs, tokenizer),
        device=device,
        probe=probe,
        neighbours=neighbours,
        keep_resume=not args.skip_acceptance,  # until acceptance.json is written
    )
    write_curve(result.probes, metrics / "reading_probe.tsv", PROBE_COLUMNS)
    write_json(metrics / "pretrain.json", _summary(result, torch.get_num_threads()))
    print(
        f"{args.out}: {result.n_parameters} parameters, {result.steps} steps "
        f"(try {result.tries}, seed {result.seed}), {result.wall_s:.0f} s, "
        f"held-out loss {result.heldout_loss}"
    )
    if not args.skip_acceptance:
        report = evaluate_acceptance(model, tokenizer, heldout, cfg.acceptance)
        write_json(metrics / "acceptance.json", report)
        print(
            f"acceptance: {'PASS' if report['passed'] else 'FAIL'} "
            + ", ".join(f"{k}={_fmt(v['value'])}" for k, v in report["checks"].items())
        )
        discard_resume(args.out)
    return 0


def _summary(result: PretrainResult, threads: int) -> dict[str, Any]:
    """metrics/naive/pretrain.json."""
    return {
        "steps": result.steps,
        "tokens": result.tokens,
        "wall_s": round(result.wall_s, 1),
        "tokens_per_s": round(result.tokens / max(result.wall_s, 1e-9), 1),
        "n_parameters": result.n_parameters,
        "final_train_loss": result.final_train_loss,
        "heldout_loss": result.heldout_loss,
        "torch_threads": threads,
        "tries": result.tries,
        "seed": result.seed,
        "reading_probe": result.probes[-1] if result.probes else None,
    }


def _fmt(value: float | None) -> str:
    # A check can be undefined (null in the JSON), e.g. an AUROC with one class on a tiny corpus.
    return "n/a" if value is None else f"{value:.3f}"
