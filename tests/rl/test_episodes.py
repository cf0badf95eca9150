"""EpisodeBatch: fresh mazes, groups, rotations."""

from __future__ import annotations

from welfare.maze import MazeConfig, TileMapping
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
