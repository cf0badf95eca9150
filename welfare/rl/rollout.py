"""Batched, action-masked, KV-cached rollouts: the hot path of maze training.

All episodes of a step advance together, one forward call per turn. With the cache, turn t feeds
only its new tokens (previous answer, glue, user message, assistant header). The cache is packed
per row (`welfare.rl.kv.PackedCache`): every token sits at its own absolute position, so no
padding is ever stored or attended to, and one causal mask by position is exact for every row.
A turn's chunks are mostly one length, a few longer by a wind sentence; rather than padding every
row to the longest, a long chunk is split into two rows of the common width (`split_turn`), except
when a `before_forward` hook is given, which sees one right-padded row per episode (steering
masks are per episode). `use_cache=False` is the re-encoding loop (the whole history every
turn, right-padded, with its padding mask, as a plain model call): the benchmark baseline and the
equivalence test's oracle."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch

from welfare.lm import head_logits, right_pad
from welfare.maze.config import MazeConfig
from welfare.maze.tiles import TileMapping
from welfare.rl.chat import TurnFormat, encode_texts
from welfare.rl.episodes import EpisodeBatch
from welfare.rl.kv import PackedCache, native_gqa, split_turn
from welfare.rl.last_layer import last_layer_at_decisions
from welfare.rl.policy import choose, direction_ids, hidden_states, log_probs
from welfare.rl.prefix import PrefixCapture, fit_width


@dataclass
class Chunk:
    """What one forward call of a rollout feeds; given to `before_forward` hooks (steering)."""

    turn: int
    input_ids: torch.Tensor  # [batch, new tokens]
    position_ids: torch.Tensor  # absolute positions of those tokens in each episode
    # [batch, cached + new]: 1 marks a row's real tokens, its earlier ones first (the cache packs
    # them per row), this call's in the last `width` columns; None when rows are segments
    # (and when no hook reads it).
    attention_mask: torch.Tensor | None


@dataclass
class Trajectories:
    """A finished rollout, in the turn-indexed layout the losses take."""

    episodes: EpisodeBatch
    tokens: list[list[int]]  # each episode's full token sequence, final answer included
    decision_index: torch.Tensor  # [B, T]: position whose next-token logits chose the action
    actions: torch.Tensor  # [B, T] index into N, E, S, W
    logp: torch.Tensor  # [B, T] behaviour log-prob (temperature-scaled masked distribution)
    tiles: torch.Tensor  # [B, T, 4] neighbour tile classes before the move
    rewards: torch.Tensor  # [B, T]
    mask: torch.Tensor  # [B, T] 1 where the turn exists
    seconds: float
    # The frozen prefix's output at every token, [B, positions, d] (`welfare.rl.prefix`), and
    # the first block it feeds; None / 0 when the rollout did not keep it.
    prefix: torch.Tensor | None = None
    prefix_start: int = 0

    @property
    def decisions_per_second(self) -> float:
        return self.actions.numel() / max(self.seconds, 1e-9)

    @property
    def returns(self) -> torch.Tensor:
        return (self.rewards * self.mask).sum(-1)


@torch.no_grad()
def rollout(
    model: Any,
    tokenizer: Any,
    episodes: EpisodeBatch,
    *,
    temperature: float = 0.7,
    greedy: bool = False,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    before_forward: Callable[[Chunk], None] | None = None,
    decisions_only: bool = True,
    keep_prefix: int = 0,
    batch_size: int = 0,
) -> Trajectories:
    """Play every episode of `episodes` to the end with `model` as the policy.

    `decisions_only`: the cached rollout runs the last layer at the decision tokens only
    (`welfare.rl.last_layer`; the same numbers, less work); off for the benchmark's comparison.
    `keep_prefix` > 0: keep the output of the blocks below that index at every token
    (`Trajectories.prefix`), for an update that trains only the blocks above (`welfare.rl.prefix`).
    `batch_size`: episodes played together (0: all). The KV cache grows with the batch (~144 KiB
    a token at Qwen3-4B's size: the paper's 512 episodes of ~1,200 tokens need more than an
    H200's memory), so consecutive groups of `batch_size` episodes play one after the other, each
    to the end, drawing from the same generator: the samples, not their distribution, depend on
    it. A `before_forward` hook then sees one group's rows per call. With shared moves
    (`EpisodeBatch.shared_moves`) a group holds whole blocks of turned copies, whose sampled moves
    are replaced by their lead's, turned; `logp` is then each copy's log-prob of that move.
    """
    if keep_prefix and not use_cache:
        raise ValueError("rollout: keep_prefix needs the cached rollout")
    started = time.perf_counter()
    n = len(episodes)
    size = batch_size if 0 < batch_size < n else n
    block = episodes.rotations * episodes.group_size
    if episodes.shared_moves and size % block:
        raise ValueError(f"rollout: batch_size {size} must hold whole blocks of {block} episodes")
    parts = [
        _play(
            model,
            tokenizer,
            episodes,
            None if size == n else range(first, min(first + size, n)),
            temperature=temperature,
            greedy=greedy,
            generator=generator,
            use_cache=use_cache,
            before_forward=before_forward,
            decisions_only=decisions_only,
            keep_prefix=keep_prefix,
        )
        for first in range(0, n, size)
    ]
    prefix = None
    if keep_prefix:
        width = max(part.prefix.shape[1] for part in parts)
        prefix = torch.cat([fit_width(part.prefix, width) for part in parts])
    return Trajectories(
        episodes=episodes,
        tokens=[tokens for part in parts for tokens in part.tokens],
        decision_index=torch.cat([part.decisions for part in parts]),
        actions=torch.cat([part.actions for part in parts]),
        logp=torch.cat([part.logp for part in parts]),
        tiles=torch.tensor(episodes.neighbours, dtype=torch.long),
        rewards=torch.tensor(episodes.rewards, dtype=torch.float32),
        mask=torch.ones(n, episodes.turns),
        seconds=time.perf_counter() - started,
        prefix=prefix,
        prefix_start=keep_prefix,
    )


@dataclass
class _Played:
    """One group of episodes played to the end (rows of `Trajectories`)."""

    tokens: list[list[int]]
    decisions: torch.Tensor
    actions: torch.Tensor
    logp: torch.Tensor
    prefix: torch.Tensor | None


def _play(
    model: Any,
    tokenizer: Any,
    episodes: EpisodeBatch,
    members: range | None,
    *,
    temperature: float,
    greedy: bool,
    generator: torch.Generator | None,
    use_cache: bool,
    before_forward: Callable[[Chunk], None] | None,
    decisions_only: bool,
    keep_prefix: int,
) -> _Played:
    """Play the episodes `members` of `episodes` (None: all) together, one forward call per
    turn."""
    fmt = TurnFormat.from_tokenizer(tokenizer)
    answer_ids = direction_ids(tokenizer)
    device = next(model.parameters()).device
    batch, turns = len(episodes if members is None else members), episodes.turns
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    tokens: list[list[int]] = [[] for _ in range(batch)]
    decisions: list[list[int]] = [[] for _ in range(batch)]  # position of each turn's decision
    actions = torch.zeros(batch, turns, dtype=torch.long)
    logps = torch.zeros(batch, turns)
    cache: PackedCache | None = None  # sized at turn 0 (growing it copies the whole buffer)
    seen = torch.zeros(batch, dtype=torch.long)  # real tokens per row so far

    capture = PrefixCapture(model, keep_prefix, batch) if keep_prefix else None
    with capture or nullcontext():
        for turn in range(turns):
            # (all episodes: the plain calls, which callers may wrap)
            observed = (
                episodes.user_messages() if members is None else episodes.user_messages(members)
            )
            texts = [fmt.turn_text(turn, m) for m in observed]
            encoded = encode_texts(tokenizer, texts)
            if turn:
                previous = actions[:, turn - 1].tolist()
                encoded = [[answer_ids[a], *ids] for a, ids in zip(previous, encoded, strict=True)]
            for row, ids in enumerate(encoded):
                tokens[row].extend(ids)
                decisions[row].append(len(tokens[row]) - 1)

            rows = None
            if use_cache:
                if cache is None:  # later turns add the answer, glue and maybe a wind sentence
                    width = max(len(ids) for ids in encoded)
                    cache = PackedCache(model, capacity=turns * (width + 16))
                # Segment the turn only when no hook needs one row per episode (steering masks).
                seg = split_turn(encoded, seen, pad_id, segment=before_forward is None)
                new_ids, positions, rows = seg.input_ids, seg.position_ids, seg.rows
                lengths = torch.tensor([len(ids) for ids in encoded])
                seen_mask = None
                if rows is None and before_forward is not None:
                    # Hooks see each row's real tokens, earlier ones packed left in the cache: the
                    # last `width` columns mark this call's real tokens.
                    earlier = torch.arange(int(seen.max())) < seen[:, None]
                    new_mask = torch.arange(new_ids.shape[1]) < lengths[:, None]
                    seen_mask = torch.cat([earlier, new_mask], dim=1).long()
                pick = (seg.last[:, 0], seg.last[:, 1])
                seen = seen + lengths
            else:  # re-encode the whole history
                new_ids, seen_mask = right_pad(tokens, pad_id)
                positions = torch.arange(new_ids.shape[1]).expand_as(new_ids)
                pick = (torch.arange(batch), seen_mask.sum(-1) - 1)
            chunk = Chunk(turn, new_ids.to(device), positions.to(device), _to(seen_mask, device))
            if before_forward is not None:
                before_forward(chunk)
            # The packed cache takes its own 4D mask (causal by absolute position); the
            # re-encoding loop takes the padding mask as any model call would.
            if cache is None:  # re-encoding
                mask = chunk.attention_mask
            else:
                mask = cache.plan(chunk.position_ids, _to(rows, device))
            pick = (pick[0].to(device), pick[1].to(device))
            # The last layer's output is needed at the decisions only (its keys and values are
            # still cached everywhere); the re-encoding loop stays the plain model call.
            enabled = decisions_only and cache is not None
            only = last_layer_at_decisions(model, pick[1][:, None], pick[0], enabled=enabled)
            with native_gqa(device), only:
                hidden = hidden_states(model, chunk.input_ids, mask, chunk.position_ids, cache)
            if capture is not None:  # the frozen prefix at this call's real tokens
                episode_of = torch.arange(batch) if rows is None else rows
                capture.keep(episode_of, positions, positions < seen[episode_of][:, None])
            decision = hidden[pick]
            logits = head_logits(model, decision, answer_ids)
            chosen, logp = choose(logits, temperature, greedy, generator)
            if episodes.shared_moves:  # copies replay their lead's move, turned
                chosen = torch.tensor(episodes.follow_leads(chosen.tolist(), members))
                logp = log_probs(logits, temperature).gather(-1, chosen[:, None].to(device))[:, 0]
            actions[:, turn], logps[:, turn] = chosen.cpu(), logp.cpu()
            if members is None:
                episodes.act(actions[:, turn].tolist())
            else:
                episodes.act(actions[:, turn].tolist(), members)

    for row in range(batch):
        tokens[row].append(answer_ids[int(actions[row, -1])])
    hidden = None if capture is None else capture.hidden
    return _Played(tokens, torch.tensor(decisions, dtype=torch.long), actions, logps, hidden)


def _to(tensor: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if tensor is None else tensor.to(device)


def play(
    model: Any,
    tokenizer: Any,
    maze_seeds: Sequence[int],
    params: dict[str, Any],
    mapping: str,
    *,
    group_size: int = 1,
    greedy: bool = True,
    temperature: float = 0.7,
    seed: int = 0,
    before_forward: Callable[[Chunk], None] | None = None,
) -> Trajectories:
    """Play the mazes `maze_seeds` (each `group_size` times) with `model`: the reusable entry
    point for measuring maze behaviour (evaluation, or under a steering hook)."""
    episodes = EpisodeBatch.fresh(
        maze_seeds,
        group_size,
        MazeConfig.from_params(params["maze"]),
        TileMapping.from_params(params, mapping),
        stream_seed=seed,
    )
    generator = torch.Generator().manual_seed(seed)
    return rollout(
        model,
        tokenizer,
        episodes,
        temperature=temperature,
        greedy=greedy,
        generator=generator,
        before_forward=before_forward,
    )
