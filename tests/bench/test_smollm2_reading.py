"""bench/smollm2_reading.py: the Gold − Mold gap is 0 for a letter prior, 1 for a policy that
always steps onto Gold, and `measure` reads a real rollout's distributions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.smollm2_reading import gold_mold_gap, measure, reading, turn_split
from welfare.maze import MazeConfig, Tile, TileMapping
from welfare.model.load import load_model
from welfare.model.testing import tiny_model_dir
from welfare.rl.episodes import EpisodeBatch


def _tiles(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 3, size=(n, 4))


def test_a_letter_prior_reads_nothing() -> None:
    tiles = _tiles(4000)
    prior = np.tile([0.4, 0.1, 0.4, 0.1], (len(tiles), 1))  # whatever lies each way
    assert gold_mold_gap(prior, tiles) == pytest.approx(0.0, abs=1e-12)


def test_a_gold_seeker_reads_fully_and_its_se_is_small() -> None:
    tiles = _tiles(4000)
    tiles[:, 0] = Tile.GOLD  # one Gold neighbour everywhere...
    tiles[::2, 0] = Tile.MOLD  # ...or none: then the policy avoids Mold uniformly
    gold = tiles == Tile.GOLD
    probs = np.where(gold, 1.0, 0.0) / np.maximum(gold.sum(1, keepdims=True), 1)
    none = ~gold.any(1)
    probs[none] = (tiles[none] != Tile.MOLD) / np.maximum((tiles[none] != Tile.MOLD).sum(1), 1)[
        :, None
    ]
    result = reading(probs, tiles, np.arange(len(tiles)) // 8, n_boot=100)
    assert result.gap > 0.5 and result.gap_se < 0.05
    assert result.by_tile["N"]["mold"] == 0.0


def test_measure_reads_a_tiny_models_rollout(tmp_path) -> None:
    torch.set_num_threads(1)
    model, tokenizer = load_model(
        tiny_model_dir(tmp_path, "qwen3"), {"device": "cpu", "dtype": "float32", "threads": 1}
    )
    mapping = TileMapping(mold="📇", gold="📐", path="🧾")
    episodes = EpisodeBatch.fresh([1, 2, 3], 1, MazeConfig(size=20, turns=4), mapping, 7)
    result = measure(model, tokenizer, episodes, micro_batch=2, split=True)
    assert result.decisions == 12
    assert "(3 decisions)" in result.by_turn[0] and "(9 decisions)" in result.by_turn[1]
    assert "back left out" in result.by_turn[2] and "(9 decisions)" in result.by_turn[2]
    assert result.by_turn[3].startswith("   repeats its last move")
    probs = [p for row in result.by_tile.values() for p in row.values() if not np.isnan(p)]
    assert probs and all(0.0 < p < 1.0 for p in probs)
    assert abs(result.gap) < 1.0


def test_turn_split_separates_first_turns_and_counts_repeats() -> None:
    g, m, p = int(Tile.GOLD), int(Tile.MOLD), int(Tile.PATH)
    tiles = np.array([[[g, m, m, m], [g, m, p, p]], [[m, g, m, m], [m, g, p, p]]])
    probs = np.full((2, 2, 4), 0.25)
    probs[0, 0], probs[1, 0] = [0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1]  # reads at turn 0 only
    actions = np.array([[0, 0], [1, 2]])
    first, later, _, repeats = turn_split(probs, tiles, np.ones((2, 2), bool), actions)
    assert "gap +0.600 (2 decisions)" in first  # N and E: 0.7 towards Gold, 0.1 towards Mold
    assert "gap +0.000 (2 decisions)" in later
    assert repeats.endswith("0.50")


def test_turn_split_leaves_the_way_back_out_of_the_later_gap() -> None:
    """A policy that only avoids turning back (into the Mold it left) has a positive later-turn
    gap, and none once the way back is left out."""
    g, m, p = int(Tile.GOLD), int(Tile.MOLD), int(Tile.PATH)
    later = np.array([[g, p, m, p], [m, p, g, p], [m, g, m, m]])  # back: S, N, W
    tiles = np.stack([np.full((3, 4), p), later], axis=1)
    probs = np.full((3, 2, 4), 0.3)
    probs[[0, 1, 2], 1, [2, 0, 3]] = 0.1  # less on the way back, the rest alike
    actions = np.array([[0, 0], [2, 2], [1, 1]])  # N, S, E: back is S, N, W
    _, with_back, without, _ = turn_split(probs, tiles, np.ones((3, 2), bool), actions)
    assert "gap +0.100 (3 decisions)" in with_back
    assert "back left out Gold − Mold gap +0.000" in without
