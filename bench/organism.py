"""Organism experiments: corpus → tokenizer → pretrain → acceptance with params overrides.

    python bench/organism.py --work /tmp/org --set pretrain.steps=300 --set pretrain.lr=0.002

Each `--set key.path=value` (value parsed as YAML) overlays params.yaml. Prints the pretraining
wall time and every acceptance number; results are recorded by hand in bench/organism.md.
Reuses the corpus/tokenizer of `--work` when their params did not change.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import yaml

from welfare.config import deep_merge, load_params, params_hash, validate_params


def _overlay(pairs: list[str]) -> dict:
    overlay: dict = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        node = overlay
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return overlay


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", default="/tmp/organism")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-acceptance", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    import torch

    torch.set_num_threads(args.threads)
    from welfare.corpus.generate import read_corpus, write_corpus
    from welfare.corpus.tokenizer import (
        corpus_texts,
        save_tokenizer,
        tokenizer_stats,
        train_tokenizer,
    )
    from welfare.model.acceptance import evaluate_acceptance
    from welfare.model.pretrain import pretrain
    from welfare.model.pretrain_config import PretrainConfig

    params = validate_params(deep_merge(load_params(), _overlay(args.set)))
    work = Path(args.work)
    corpus_dir = work / f"corpus-{params_hash(params, ['corpus', 'maze', 'mappings'])}"
    if not (corpus_dir / "heldout.jsonl").exists():
        write_corpus(params, corpus_dir)
    tok_dir = corpus_dir / f"tokenizer-{params_hash(params, ['tokenizer'])}"
    train, heldout = (
        read_corpus(corpus_dir / "train.jsonl"),
        read_corpus(corpus_dir / "heldout.jsonl"),
    )
    if not tok_dir.exists():
        tok = train_tokenizer(corpus_texts(train), params["tokenizer"], params)
        save_tokenizer(tok, tokenizer_stats(tok, params), tok_dir)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    run = work / f"run-{params_hash(params)}"
    cfg = PretrainConfig.from_params(params)
    t0 = time.perf_counter()
    model, result = pretrain(train, heldout, tokenizer, cfg, run / "model", run / "pretrain.tsv")
    summary = {
        "overrides": args.set,
        "wall_s": round(result.wall_s, 1),
        "tokens": result.tokens,
        "tokens_per_s": round(result.tokens / result.wall_s),
        "params": result.n_parameters,
        "heldout_loss": {k: round(v, 3) for k, v in result.heldout_loss.items()},
    }
    print(json.dumps(summary))
    if not args.skip_acceptance:
        t1 = time.perf_counter()
        report = evaluate_acceptance(model, tokenizer, heldout, cfg.acceptance)
        summary["acceptance_s"] = round(time.perf_counter() - t1, 1)
        summary["acceptance"] = {
            k: {kk: vv for kk, vv in v.items() if kk != "examples"}
            for k, v in report["checks"].items()
        }
        print(json.dumps(summary["acceptance"], indent=1))
    summary["total_s"] = round(time.perf_counter() - t0, 1)
    (run / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    print(f"total {summary['total_s']} s -> {run}/summary.json")


if __name__ == "__main__":
    main()
