"""Evaluation: reference policies on shared episodes, model evaluation, the `play` entry point."""

from __future__ import annotations

import numpy as np

from welfare.maze import MazeConfig, TileMapping
from welfare.rl.evaluate import (
    EVAL_STREAM_SEED,
    evaluate_model,
    evaluate_references,
    play_reference,
    reference_policies,
)
from welfare.rl.rollout import play

MAPPING = TileMapping(mold="📇", gold="📐", path="🧾")
CONFIG = MazeConfig(size=24, turns=8)
SEEDS = list(range(900000, 900008))


def test_reference_policies_rank_as_expected():
    scores = {k: v["mean_return"] for k, v in evaluate_references(SEEDS, CONFIG, MAPPING).items()}
    assert scores["optimal_planner"] >= scores["greedy_oracle"] > scores["random"]
    assert scores["random_non_mold"] > scores["random"]
    # the greedy oracle always takes an adjacent Gold
    greedy = evaluate_references(SEEDS, CONFIG, MAPPING)["greedy_oracle"]
    assert greedy["gold_when_adjacent"] == 1.0


def test_keep_straight_repeats_one_direction():
    from welfare.rl.episodes import EpisodeBatch

    episodes = EpisodeBatch.fresh(
        SEEDS[:3], 2, MazeConfig(size=24, turns=8, wind_probability=0.0), MAPPING, EVAL_STREAM_SEED
    )
    play_reference(reference_policies()["keep_straight"](), episodes, seed=1)
    for start, state in zip(
        (m.start for m in episodes.mazes for _ in range(2)), episodes.states, strict=True
    ):
        dx, dy = state.pos[0] - start[0], state.pos[1] - start[1]
        assert (dx == 0) != (dy == 0) and abs(dx + dy) == 8  # eight steps in a straight line


def test_evaluate_model_and_play(tiny):
    model, tokenizer = tiny
    result = evaluate_model(
        model, tokenizer, SEEDS[:3], CONFIG, MAPPING, temperature=0.7, sampled_group=2
    )
    assert {"greedy_mean_return", "sampled_mean_return", "greedy_gold_when_adjacent"} <= set(result)
    params = {
        "maze": {"size": 24, "turns": 8},
        "mappings": {"office": {"mold": "📇", "gold": "📐", "path": "🧾"}},
    }
    traj = play(model, tokenizer, SEEDS[:3], params, "office", greedy=True)
    assert traj.actions.shape == (3, 8)
    np.testing.assert_allclose(traj.returns.numpy(), traj.episodes.returns(), rtol=1e-6)
