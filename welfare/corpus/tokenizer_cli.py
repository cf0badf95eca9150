"""`welfare tokenizer --corpus data/corpus --out models/tokenizer`: train the tokenizer."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from welfare.corpus.generate import read_corpus
from welfare.corpus.tokenizer import corpus_texts, save_tokenizer, tokenizer_stats, train_tokenizer
from welfare.lm import check_tokenizer

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", default="data/corpus", help="directory with train.jsonl")
    parser.add_argument("--out", default="models/tokenizer", help="HF tokenizer directory")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    rows = read_corpus(Path(args.corpus) / "train.jsonl")
    tokenizer = train_tokenizer(corpus_texts(rows), params["tokenizer"], params)
    check_tokenizer(tokenizer)
    stats = tokenizer_stats(tokenizer, params)
    save_tokenizer(tokenizer, stats, args.out)
    log.info("tokenizer: %s", stats)
    print(
        f"{args.out}: {stats['vocab_size']} tokens, "
        f"{stats['tokens_per_maze_turn_mean']:.1f} tokens per maze turn"
    )
    return 0
