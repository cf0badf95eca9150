"""RL hot-path speed: cached vs re-encoding rollouts, update vs bare forward+backward, step time.

    python bench/rl_speed.py --model models/naive [--organism grpo] [--repeats 2]
    python bench/rl_speed.py --tokenizer models/tokenizer      # random-init organism architecture

Same model, same batch (the organism's `mazes_per_step × group_size` episodes of the default
params), one process, one thread unless --threads says otherwise; a warm-up run first, then
cached / one-row-per-episode / re-encoding rollouts interleaved `--repeats` times (medians).
Prints one JSON object; the numbers are recorded by hand in bench/rl.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch

from welfare.config import load_params
from welfare.maze import MazeConfig, TileMapping
from welfare.model import load_model
from welfare.rl.config import TrainConfig
from welfare.rl.episodes import EpisodeBatch
from welfare.rl.kv import split_turn
from welfare.rl.losses import drgrpo_advantages
from welfare.rl.policy import direction_ids, right_pad
from welfare.rl.rollout import rollout
from welfare.rl.trainer import step_seeds
from welfare.rl.update import PolicyGradientConfig, policy_update


def _model(args: argparse.Namespace, params: dict) -> tuple:
    runtime = {"device": "cpu", "dtype": "float32"}
    if args.model:
        return load_model(args.model, runtime)
    from transformers import AutoTokenizer

    from welfare.model.organism import build_organism

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    model = build_organism(params["pretrain"]["model"], tokenizer, seed=0)
    out = Path(tempfile.mkdtemp()) / "random-organism"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return load_model(out, runtime)


def _timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _work(traj) -> dict[str, float]:
    """Tokens fed and attention scores (query × key pairs) of both rollouts, per decision.

    The re-encoding loop feeds every row its whole history, right-padded to the longest row,
    and SDPA with a mask computes every query × key pair of the padded square; the cached
    rollout feeds the turn's segment rows (`split_turn`) against the packed cache.
    """
    history = traj.decision_index + 1  # [B, T] tokens up to each decision
    batch, turns = history.shape
    re_tokens = re_pairs = cached_tokens = cached_pairs = 0
    seen = torch.zeros(batch, dtype=torch.long)
    for t in range(turns):
        width = int(history[:, t].max())
        re_tokens += batch * width
        re_pairs += batch * width * width
        seg = split_turn([[0] * int(n) for n in history[:, t] - seen], seen, 0)
        rows, w = seg.input_ids.shape
        cached_tokens += rows * w
        cached_pairs += rows * w * (int(seg.position_ids.max()) + 1)
        seen = history[:, t].clone()
    n = traj.actions.numel()
    return {
        "reencode_tokens_fed_per_decision": re_tokens / n,
        "cached_tokens_fed_per_decision": cached_tokens / n,
        "reencode_attention_pairs_per_decision": re_pairs / n,
        "cached_attention_pairs_per_decision": cached_pairs / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="HF model directory (default: random-init organism)")
    parser.add_argument("--tokenizer", default="models/tokenizer")
    parser.add_argument("--organism", help="a row of params.organisms (default: the first)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-reencode", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    params = load_params(args.params)
    cfg = TrainConfig.for_organism(params, args.organism or next(iter(params["organisms"])))
    maze_config = MazeConfig.from_params(params["maze"])
    mapping = TileMapping.from_params(params, cfg.mapping)
    model, tokenizer = _model(args, params)
    seeds, stream, sample = step_seeds(cfg.seed, 0, cfg.mazes_per_step)
    mazes = EpisodeBatch.fresh(seeds, cfg.group_size, maze_config, mapping, stream).mazes

    def play(use_cache: bool, hook=None, decisions_only: bool = True):
        episodes = EpisodeBatch(mazes, cfg.group_size, maze_config, mapping, stream)
        return rollout(
            model,
            tokenizer,
            episodes,
            temperature=cfg.temperature,
            generator=torch.Generator().manual_seed(sample),
            use_cache=use_cache,
            before_forward=hook,
            decisions_only=decisions_only,
        )

    results: dict[str, object] = {
        "episodes": cfg.mazes_per_step * cfg.group_size,
        "threads": args.threads,
    }
    traj = play(True)  # warm-up (lazy imports, allocator), not timed
    # Interleaved repeats: on a shared machine the load drifts, so each ratio compares runs
    # made side by side; medians of those.
    cached, whole, rows, reencode = [], [], [], []
    for _ in range(args.repeats):
        cached.append(_timed(lambda: play(True), 1)[0])
        # the last layer at every position (before `welfare.rl.last_layer`)
        whole.append(_timed(lambda: play(True, decisions_only=False), 1)[0])
        # one right-padded row per episode, as under a steering hook
        rows.append(_timed(lambda: play(True, hook=lambda _chunk: None), 1)[0])
        if not args.skip_reencode:
            reencode.append(_timed(lambda: play(False), 1)[0])
    cached_s = statistics.median(cached)
    decisions = traj.actions.numel()
    results["tokens_per_episode"] = statistics.mean(len(t) for t in traj.tokens)
    results["cached_rollout_s"] = cached_s
    results["cached_decisions_per_s"] = decisions / cached_s
    results["cached_whole_last_layer_s"] = statistics.median(whole)
    results["cached_one_row_per_episode_s"] = statistics.median(rows)
    if reencode:
        reencode_s = statistics.median(reencode)
        results["reencode_rollout_s"] = reencode_s
        results["reencode_decisions_per_s"] = decisions / reencode_s
        results["cached_speedup"] = reencode_s / cached_s
        results["cached_speedup_per_repeat"] = [
            round(r / c, 2) for r, c in zip(reencode, cached, strict=True)
        ]

    results |= _work(traj)

    # The update versus a bare forward + backward over the same token batch.
    pg = PolicyGradientConfig.from_train(
        cfg, kl_coef=0.0, ppo_epochs=1, minibatches=1, grad_clip=1.0
    )
    advantages = drgrpo_advantages(traj.rewards, traj.mask, cfg.group_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # time the math, keep the weights
    ids = direction_ids(tokenizer)
    policy_update(
        model, optimizer, traj, advantages, cfg.entropy_coef, pg, ids, tokenizer.pad_token_id
    )  # warm-up
    update_s, stats = _timed(
        lambda: policy_update(
            model, optimizer, traj, advantages, cfg.entropy_coef, pg, ids, tokenizer.pad_token_id
        ),
        args.repeats,
    )
    tokens = sum(len(t) for t in traj.tokens)

    def bare() -> None:
        optimizer.zero_grad(set_to_none=True)
        for start in range(0, len(traj.tokens), cfg.micro_batch):
            input_ids, mask = right_pad(
                traj.tokens[start : start + cfg.micro_batch], tokenizer.pad_token_id
            )
            out = model(input_ids=input_ids, attention_mask=mask, labels=input_ids)
            out.loss.backward()

    bare_s, _ = _timed(bare, args.repeats)
    results |= {
        "update_s": update_s,
        "update_tokens_per_s": tokens / update_s,
        "bare_fwd_bwd_s": bare_s,
        "bare_tokens_per_s": tokens / bare_s,
        "update_vs_bare": bare_s / update_s,
        "step_s": cached_s + update_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(
        json.dumps(
            {k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}, indent=1
        )
    )


if __name__ == "__main__":
    main()
