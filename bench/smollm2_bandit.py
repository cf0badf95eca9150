"""Can SmolLM2-135M-Instruct learn to read the emoji maze at all, and from which signal?

One decision a prompt: the first turn of a fresh maze (the protocol's user message, the model's
chat template), so every optimizer step sees `--batch` independent decisions. Three signals on the
same LoRA adapter, the same mazes and the same held-out probe:

- `sft`: cross-entropy to the best neighbours (Gold > Path > Mold, ties shared evenly) — the
  ceiling of what gradient descent on this adapter can do with that many decisions;
- `rl`: REINFORCE on a sampled direction (temperature 1), reward = the tile's reward, baseline =
  the mean reward of its micro-batch — the protocol's γ 0 signal per decision;
- `expected`: the exact policy gradient of E_a[r(a)] (every direction's reward is known from the
  observation), baseline V(s) = E_a[r(a)] — RL without the sampling noise.

The probe: the prior-free Gold − Mold gap of bench/smollm2_reading.py and the accuracy of the
argmax (best neighbour chosen) on `--probe` held-out first turns, every `--eval-every` steps,
beside the mean training loss. For `sft` that loss says how much is read: on first turns the best
direction's marginal is uniform, so a policy blind to the tiles cannot go below ln 4 = 1.386,
and one that reads them perfectly reaches 0.43 (ties between equal tiles stay uncertain).

    python -m bench.smollm2_bandit --mode sft --lr 3e-4 --top 0 --steps 150 --batch 32 \
        models/imported/smollm2
"""

from __future__ import annotations

import argparse
import re
import time

import numpy as np
import torch

from bench.smollm2_reading import gold_mold_gap
from welfare.config import load_params
from welfare.maze import MazeConfig, Tile, TileMapping
from welfare.model import load_model
from welfare.rl.chat import TurnFormat, encode_texts
from welfare.rl.episodes import EpisodeBatch
from welfare.rl.losses import equalized_entropy
from welfare.rl.policy import decision_logits, direction_ids

MODES = ("sft", "rl", "expected")
WORDS = ("north", "east", "south", "west")
CLAUSE_HEAD = re.compile(r"\b(to|To) the (north|east|south|west) there is")


DEFAULT_PARAMS = ["params.yaml", "params/smollm2.yaml"]
PARAMS_HELP = "a params file, repeatable; any given replace " + " + ".join(DEFAULT_PARAMS)


def first_turns(
    seeds: list[int], config: MazeConfig, mapping: TileMapping, fmt: TurnFormat, tokenizer, stream
):
    """Token ids of each maze's first turn and its N, E, S, W neighbour tiles [n, 4]."""
    texts, tiles = first_turn_texts(seeds, config, mapping, fmt, stream)
    return encode_texts(tokenizer, texts), tiles


def first_turn_texts(
    seeds: list[int],
    config: MazeConfig,
    mapping: TileMapping,
    fmt: TurnFormat,
    stream,
    rotate=False,
    turned_mazes=False,
) -> tuple[list[str], np.ndarray]:
    """First-turn texts and N, E, S, W tiles; with `rotate`, each maze in its 4 rotations (with
    `turned_mazes`, the trainer's shared-move copies, `EpisodeBatch(shared_moves=True)`)."""
    rotations = 4 if turned_mazes else 1
    batch = EpisodeBatch.fresh(seeds, 1, config, mapping, stream, rotations, turned_mazes)
    messages, tiles = batch.user_messages(), np.array([n[0] for n in batch.neighbours])
    if rotate and not turned_mazes:
        messages = [rotated(m, k) for m in messages for k in range(4)]
        tiles = np.stack([np.roll(t, k) for t in tiles for k in range(4)])
    return [fmt.turn_text(0, m) for m in messages], tiles


def rotated(message: str, k: int) -> str:
    """The message of the maze turned k quarter turns clockwise: each clause's direction word
    moves k places along north → east → south → west, its tile stays (the order of the clauses
    and the position are unchanged)."""

    def turn(match: re.Match) -> str:
        i = WORDS.index(match.group(2))
        return f"{match.group(1)} the {WORDS[(i + k) % 4]} there is"

    return CLAUSE_HEAD.sub(turn, message)


def tile_rewards(tiles: np.ndarray, config: MazeConfig) -> torch.Tensor:
    table = {
        int(Tile.GOLD): config.reward_gold,
        int(Tile.MOLD): config.reward_mold,
        int(Tile.PATH): config.reward_step,
    }
    return torch.tensor(np.vectorize(table.get)(tiles), dtype=torch.float32)


def direction_logits(model, tokens: list[list[int]], pad_id: int, answer_ids: list[int]):
    index = torch.tensor([[len(t) - 1] for t in tokens])
    return decision_logits(model, tokens, index, pad_id, answer_ids)[:, 0]


def probe(model, tokens, tiles, pad_id, answer_ids, micro: int) -> tuple[float, float]:
    with torch.no_grad():
        logits = torch.cat(
            [
                direction_logits(model, tokens[i : i + micro], pad_id, answer_ids)
                for i in range(0, len(tokens), micro)
            ]
        )
    probs = logits.softmax(-1).numpy()
    rank = np.where(tiles == int(Tile.GOLD), 2, np.where(tiles == int(Tile.PATH), 1, 0))
    chosen = np.take_along_axis(rank, probs.argmax(1)[:, None], 1)[:, 0]
    return gold_mold_gap(probs, tiles), float((chosen == rank.max(1)).mean())


def loss_of(mode: str, logits: torch.Tensor, rewards: torch.Tensor, generator) -> torch.Tensor:
    logp = logits.log_softmax(-1)
    if mode == "sft":
        best = (rewards == rewards.max(-1, keepdim=True).values).float()
        return -((best / best.sum(-1, keepdim=True)) * logp).sum(-1).mean()
    if mode == "expected":
        p = logp.exp()
        value = (p * rewards).sum(-1, keepdim=True).detach()
        return -(p * (rewards - value)).sum(-1).mean()
    actions = torch.multinomial(logp.exp().detach(), 1, generator=generator).squeeze(-1)
    r = rewards.gather(-1, actions[:, None]).squeeze(-1)
    return -((r - r.mean()) * logp.gather(-1, actions[:, None]).squeeze(-1)).mean()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--mode", choices=MODES, required=True)
    ap.add_argument("--params", action="append", help=PARAMS_HELP)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--top", type=int, default=10, help="LoRA on the top N blocks (0: every)")
    ap.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    ap.add_argument("--rank", type=int, default=32)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--micro", type=int, default=16)
    ap.add_argument("--probe", type=int, default=96)
    ap.add_argument("--eval-every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--entropy", type=float, default=0.0, help="equalized entropy bonus β")
    ap.add_argument(
        "--loss-scale",
        type=float,
        default=1.0,
        help="multiply the loss (the protocol's 1/loss_z at one turn a sequence: 1/2048)",
    )
    ap.add_argument(
        "--turned-mazes",
        action="store_true",
        help="with --rotate: the trainer's shared-move copies instead of turned words",
    )
    ap.add_argument(
        "--rotate",
        action="store_true",
        help="each step: batch/4 mazes, each in its 4 rotations (a blind policy's gradient is 0)",
    )
    args = ap.parse_args()

    params = load_params(args.params or DEFAULT_PARAMS)
    config = MazeConfig.from_params(params["maze"])
    mapping = TileMapping.from_params(params, "office")
    lora = {
        "rank": args.rank,
        "alpha": 2 * args.rank,
        "dropout": 0.0,
        "target_modules": "all-linear",
        "top_layers": args.top,
    }
    model, tokenizer = load_model(args.model, params["runtime"], None if args.full else lora)
    model.eval()
    if args.full:
        model.requires_grad_(True)
    fmt = TurnFormat.from_tokenizer(tokenizer)
    answer_ids, pad_id = direction_ids(tokenizer), tokenizer.pad_token_id
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    probe_tokens, probe_tiles = first_turns(
        list(range(args.probe)), config, mapping, fmt, tokenizer, 7
    )

    def report(step: int, extra: str = "") -> None:
        gap, acc = probe(model, probe_tokens, probe_tiles, pad_id, answer_ids, args.micro)
        print(f"step {step:3d}  gap {gap:+.3f}  best-chosen {acc:.3f}{extra}", flush=True)

    report(0)
    started, losses = time.perf_counter(), []
    for step in range(1, args.steps + 1):
        n_mazes = args.batch // 4 if args.rotate else args.batch
        seeds = [int(s) for s in rng.integers(10**9, 2**31 - 1, size=n_mazes)]
        stream = int(rng.integers(2**31))
        texts, tiles = first_turn_texts(
            seeds, config, mapping, fmt, stream, args.rotate, args.turned_mazes
        )
        tokens = encode_texts(tokenizer, texts)
        rewards = tile_rewards(tiles, config)
        optimizer.zero_grad(set_to_none=True)
        for i in range(0, args.batch, args.micro):
            logits = direction_logits(model, tokens[i : i + args.micro], pad_id, answer_ids)
            part = loss_of(args.mode, logits, rewards[i : i + args.micro], generator)
            if args.entropy:
                h_eq = equalized_entropy(logits, torch.from_numpy(tiles[i : i + args.micro]))
                part = part - args.entropy * h_eq.mean()
            (part * args.loss_scale * len(logits) / args.batch).backward()
            losses.append(float(part.detach()) * len(logits) / args.batch)
        optimizer.step()
        if step % args.eval_every == 0:
            per_step = (time.perf_counter() - started) / step
            loss = sum(losses) / args.eval_every
            report(step, f"  loss {loss:.3f}  ({per_step:.1f} s/step)")
            losses.clear()


if __name__ == "__main__":
    main()
