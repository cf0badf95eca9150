"""Reading in isolation: how fast does a small Qwen3 learn the scene questions alone?

    python bench/organism_reading.py --lr 0.005 --hidden 64 --layers 4 --steps 300

Pretrains only on `spatial_reading` rows (single scenes, a question every turn) with the
organism tokenizer, loss on assistant tokens, and prints held-out where/what accuracy every
`--every` steps: the quickest test of a reading lever.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from welfare.config import deep_merge, load_params, validate_params
from welfare.corpus.generate import generate_rows
from welfare.corpus.tokenizer import corpus_texts, train_tokenizer
from welfare.model.acceptance import reading_checks
from welfare.model.data import BlockSchedule, encode_rows
from welfare.model.organism import build_organism
from welfare.model.pretrain import param_groups, weighted_loss
from welfare.model.pretrain_config import PretrainConfig


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.005)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--max-turns", type=int, default=1)
    parser.add_argument("--clause-tokens", type=int, default=1)
    parser.add_argument("--describe-rate", type=float, default=0.0)
    parser.add_argument("--n-objects", type=int, default=46)
    parser.add_argument("--head-dim", type=int, default=0, help="0 = hidden / heads")
    args = parser.parse_args()
    torch.set_num_threads(1)
    overlay = {
        "corpus": {"genres": {g: {"n": 0} for g in load_params()["corpus"]["genres"]}},
        "tokenizer": {"clause_tokens": bool(args.clause_tokens)},
    }
    overlay["corpus"]["genres"]["spatial_reading"] = {
        "n": 20000,
        "max_turns": args.max_turns,
        "question_rate": 1.0,
        "describe_rate": args.describe_rate,
        "n_objects": args.n_objects,
    }
    params = validate_params(deep_merge(load_params(), overlay))
    train = [r.to_json() for r in generate_rows(params, "train")]
    heldout = [r.to_json() for r in generate_rows(params, "heldout")]
    tokenizer = train_tokenizer(corpus_texts(train), params["tokenizer"], params)
    schedule_params = dict(params["pretrain"], lr=args.lr, steps=args.steps, warmup_steps=20)
    cfg = PretrainConfig.from_params({**params, "pretrain": schedule_params})
    model = build_organism(
        {
            **cfg.model,
            "hidden_size": args.hidden,
            "intermediate_size": 3 * args.hidden,
            "num_layers": args.layers,
            "num_heads": args.heads,
            "num_kv_heads": max(args.heads // 2, 1),
            "head_dim": args.head_dim or args.hidden // args.heads,
        },
        tokenizer,
        0,
    )
    opt = torch.optim.AdamW(param_groups(model, 0.1), lr=args.lr, betas=(0.9, 0.95))
    schedule = BlockSchedule(
        encode_rows(tokenizer, train, "assistant"), args.seq, args.batch, tokenizer.pad_token_id, 0
    )
    start = time.perf_counter()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = cfg.learning_rate(step)
        ids, w = (torch.from_numpy(a) for a in schedule.batch(step))
        loss, _ = weighted_loss(model, ids, w)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % args.every == 0:
            model.eval()
            r = reading_checks(model, tokenizer, heldout, 100)["spatial_reading"]
            model.train()
            print(
                json.dumps(
                    {
                        "step": step + 1,
                        "s": round(time.perf_counter() - start),
                        "loss": round(float(loss), 3),
                        "where": round(r["where"], 2),
                        "what": round(r["what"], 2),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
