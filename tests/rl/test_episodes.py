"""EpisodeBatch: fresh mazes, groups, rotations, shared moves."""

from __future__ import annotations

import numpy as np
import pytest

from welfare.maze import MazeConfig, TileMapping
from welfare.maze.tiles import DIRECTION_WORDS, DIRECTIONS, turned
from welfare.rl.episodes import EpisodeBatch

MAPPING = TileMapping(mold="🧾", gold="📐", path="🗂")


def test_rotations_put_each_maze_in_every_quarter_turn_one_after_the_other():
    config = MazeConfig(size=20, turns=4)
    plain = EpisodeBatch.fresh([5, 9], 2, config, MAPPING, 0)
    turned = EpisodeBatch.fresh([5, 9], 2, config, MAPPING, 0, rotations=4)
    assert len(plain) == 4 and len(turned) == 16
    plain.user_messages(), turned.user_messages()
    first = [n[0] for n in plain.neighbours]  # N, E, S, W tiles of each episode's first turn
    for maze in range(2):
        for k in range(4):
            for member in range(2):  # a group shares its (turned) maze
                tiles = turned.neighbours[(maze * 4 + k) * 2 + member][0]
                assert tiles == first[maze * 2][-k:] + first[maze * 2][:-k]  # k = 0: as is
    half = EpisodeBatch.fresh([5], 1, config, MAPPING, 0, rotations=2)
    half.user_messages()
    n, e, s, w = first[0]
    assert [t[0] for t in half.neighbours] == [[n, e, s, w], [s, w, n, e]]


def _turned_message(message: str, quarter_turns: int) -> str:
    """`message` with every direction name turned (the wind sentence's capitalised ones too)."""
    for words in (DIRECTION_WORDS, {d: w.capitalize() for d, w in DIRECTION_WORDS.items()}):
        for d in DIRECTIONS:
            message = message.replace(words[d], f"<{d}>")
        for d in DIRECTIONS:
            message = message.replace(f"<{d}>", words[turned(d, quarter_turns)])
    return message


@pytest.mark.parametrize("rotations", [2, 4])
def test_shared_moves_replay_the_first_copy_turned_as_a_minimal_pair(rotations):
    """Copies replay their lead turned (moves, wind, clause order) and show its coordinates, so
    each message is the lead's with only the direction names turned."""
    config = MazeConfig(size=12, turns=8, wind_probability=0.5)  # windy: its draws are shared
    batch = EpisodeBatch.fresh([3, 8], 2, config, MAPPING, 7, rotations, shared_moves=True)
    rng = np.random.default_rng(0)
    for _ in range(config.turns):
        batch.user_messages()
        sampled = rng.integers(4, size=len(batch)).tolist()  # copies' own samples are ignored
        moves = batch.follow_leads(sampled)
        batch.act(moves)
        g = 2
        for i, move in enumerate(moves):
            assert move == (sampled[batch.leads[i]] + batch.quarter_turns[i]) % 4
            assert batch.leads[i] == (i // (g * rotations)) * g * rotations + i % g
    assert sum(batch.winds) > 0
    for i in range(len(batch)):
        lead, q = batch.leads[i], batch.quarter_turns[i]
        assert batch.rewards[i] == batch.rewards[lead]
        assert batch.entered[i] == batch.entered[lead]
        for mine, theirs in zip(batch.neighbours[i], batch.neighbours[lead], strict=True):
            assert mine == theirs[-q:] + theirs[:-q] if q else mine == theirs
        for mine, theirs in zip(batch.messages[i], batch.messages[lead], strict=True):
            assert mine == _turned_message(theirs, q)  # the lead's text, directions turned
    independent = EpisodeBatch.fresh([3, 8], 2, config, MAPPING, 7, rotations)
    assert independent.leads == list(range(len(independent)))
    with pytest.raises(ValueError, match="lack their leads"):
        batch.follow_leads([0], rows=[1 * g])  # copy 1 of maze 0 without its lead
