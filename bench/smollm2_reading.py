"""Does a policy read its maze? The probability it gives each direction, split by the tile that
lies that way (Gold, Path, Mold), on sampled episodes of held-out mazes.

A policy that only has a letter prior gives direction d the same probability whatever lies
there, so P(d | Gold that way) − P(d | Mold that way), taken per direction and averaged over the
four (which cancels the prior), is 0; a policy that reads its maze makes it positive (the
optimal policy: ~1). The gap's standard error is a bootstrap over episodes. Used to ask whether
SmolLM2-135M-Instruct reads the emoji maze before and after RL (bench/smollm2.md).

    python bench/smollm2_reading.py --params params.yaml --params params/smollm2.yaml \
        --organism smollm2-grpo --mazes 32 MODEL_DIR [MODEL_DIR ...]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from welfare.config import load_params
from welfare.maze import DIRECTIONS, MazeConfig, Tile, TileMapping
from welfare.model import load_model
from welfare.rl.config import TrainConfig
from welfare.rl.episodes import EpisodeBatch
from welfare.rl.policy import decision_logits, direction_ids
from welfare.rl.rollout import rollout

CLASSES = (Tile.GOLD, Tile.PATH, Tile.MOLD)


@dataclass(frozen=True)
class Reading:
    """Mean P(direction) by the tile that lies that way, and the prior-free Gold − Mold gap."""

    by_tile: dict[str, dict[str, float]]  # direction -> tile label -> mean P (nan: never seen)
    gap: float  # mean over directions of P(d | Gold) − P(d | Mold)
    gap_se: float  # bootstrap over episodes
    decisions: int
    by_turn: tuple[str, ...] = ()  # `turn_split` lines, when asked for

    def lines(self) -> list[str]:
        head = "   dir  " + "  ".join(f"P(d | {t.label:4s})" for t in CLASSES)
        rows = [
            f"   {d}    " + "  ".join(f"{self.by_tile[d][t.label]:13.3f}" for t in CLASSES)
            for d in DIRECTIONS
        ]
        gap = f"   Gold − Mold gap {self.gap:+.3f} ± {self.gap_se:.3f} ({self.decisions} decisions)"
        return [head, *rows, gap, *self.by_turn]


def gold_mold_gap(probs: np.ndarray, tiles: np.ndarray) -> float:
    """Mean over directions of mean P(d | Gold that way) − mean P(d | Mold that way).

    `probs`, `tiles`: [decisions, 4]. Directions that never had both a Gold and a Mold neighbour
    are left out; nan if none had.
    """
    gaps = []
    for d in range(probs.shape[1]):
        gold, mold = tiles[:, d] == Tile.GOLD, tiles[:, d] == Tile.MOLD
        if gold.any() and mold.any():
            gaps.append(probs[gold, d].mean() - probs[mold, d].mean())
    return float(np.mean(gaps)) if gaps else float("nan")


def reading(
    probs: np.ndarray, tiles: np.ndarray, episode: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> Reading:
    """`probs`, `tiles`: [decisions, 4]; `episode`: [decisions], the episode of each decision."""
    by_tile = {
        d: {
            t.label: float(probs[tiles[:, i] == t, i].mean())
            if (tiles[:, i] == t).any()
            else np.nan
            for t in CLASSES
        }
        for i, d in enumerate(DIRECTIONS)
    }
    rng = np.random.default_rng(seed)
    ids = np.unique(episode)
    rows = [np.flatnonzero(episode == e) for e in ids]
    boot = []
    for _ in range(n_boot):
        pick = np.concatenate([rows[i] for i in rng.integers(0, len(ids), len(ids))])
        boot.append(gold_mold_gap(probs[pick], tiles[pick]))
    return Reading(by_tile, gold_mold_gap(probs, tiles), float(np.nanstd(boot)), len(probs))


def turn_split(probs: np.ndarray, tiles: np.ndarray, mask: np.ndarray, actions: np.ndarray):
    """Lines: the gap at first turns and at later ones, and how often a move repeats the last.

    `probs`, `tiles`: [episodes, turns, 4]; `mask`, `actions`: [episodes, turns]. At later turns
    the tile just left has melted into Mold, so a policy that repeats its moves shows a positive
    gap there without reading anything; the "back left out" line drops the direction opposite
    the last move from the gap (its tile is Mold whatever the policy reads; wind aside)."""
    back = np.full(tiles.shape, False)
    np.put_along_axis(back[:, 1:], ((actions[:, :-1] + 2) % 4)[..., None], True, axis=-1)
    lines = []
    for name, turns, drop in (
        ("turn 0", slice(0, 1), False),
        ("turns 1+", slice(1, None), False),
        ("turns 1+, back left out", slice(1, None), True),
    ):
        m = mask[:, turns].reshape(-1)
        p, t = probs[:, turns].reshape(-1, 4)[m], tiles[:, turns].reshape(-1, 4)[m]
        if drop:  # neither Gold nor Mold: out of the gap
            t = np.where(back[:, turns].reshape(-1, 4)[m], -1, t)
        gap = gold_mold_gap(p, t)
        lines.append(f"   {name:8s} Gold − Mold gap {gap:+.3f} ({m.sum()} decisions)")
    repeats = (actions[:, 1:] == actions[:, :-1])[mask[:, 1:]].mean()
    return [*lines, f"   repeats its last move {repeats:.2f}"]


def measure(
    model, tokenizer, episodes: EpisodeBatch, micro_batch: int, split: bool = False
) -> Reading:
    """Sample the episodes (temperature 0.7, as in training), then read the policy's
    temperature-1 distribution over N, E, S, W at every decision (`split`: also by turn)."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        traj = rollout(model, tokenizer, episodes, generator=generator, batch_size=micro_batch)
        ids, pad = direction_ids(tokenizer), tokenizer.pad_token_id or 0
        parts = []
        for start in range(0, len(traj.tokens), micro_batch):
            rows = slice(start, start + micro_batch)
            logits = decision_logits(model, traj.tokens[rows], traj.decision_index[rows], pad, ids)
            parts.append(logits.float().softmax(-1).cpu())
    probs, mask = torch.cat(parts), traj.mask.bool()
    episode = torch.arange(len(traj.tokens))[:, None].expand_as(mask)
    result = reading(probs[mask].numpy(), traj.tiles[mask].numpy(), episode[mask].numpy())
    if split:
        arrays = (probs, traj.tiles, mask, traj.actions)
        result = replace(result, by_turn=tuple(turn_split(*(a.numpy() for a in arrays))))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", action="append", type=Path, required=True)
    parser.add_argument("--organism", required=True)
    parser.add_argument("--mazes", type=int, default=32)
    parser.add_argument("--seed-base", type=int, default=990_000, help="held-out maze seeds")
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--split-turns", action="store_true", help="first turns vs later ones")
    parser.add_argument("models", nargs="+", type=Path)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = TrainConfig.for_organism(params, args.organism)
    maze = MazeConfig.from_params(params["maze"])
    mapping = TileMapping.from_params(params, cfg.mapping)
    seeds = range(args.seed_base, args.seed_base + args.mazes)
    for path in args.models:
        model, tokenizer = load_model(path, params["runtime"])
        episodes = EpisodeBatch.fresh(seeds, 1, maze, mapping, stream_seed=args.seed_base)
        print(f"== {path}")
        result = measure(model, tokenizer, episodes, args.micro_batch, args.split_turns)
        print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
