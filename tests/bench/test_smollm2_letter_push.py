"""bench/smollm2_letter_push.py: the per-letter split of one RL step, on a hand-made rollout whose
advantages are known."""

from __future__ import annotations

import pytest
import torch

from bench.smollm2_letter_push import letter_pushes
from welfare.maze import Tile
from welfare.rl.rollout import Trajectories

N, E, S, W = range(4)


def _traj(actions, rewards, entered) -> Trajectories:
    """Episodes of one group; `entered[i][t]` is the tile in the chosen direction (others Path)."""
    actions = torch.tensor(actions)
    tiles = torch.full((*actions.shape, 4), int(Tile.PATH))
    tiles.scatter_(-1, actions[..., None], torch.tensor(entered)[..., None])
    return Trajectories(
        episodes=None,
        tokens=[],
        decision_index=torch.zeros_like(actions),
        actions=actions,
        logp=torch.zeros(actions.shape),
        tiles=tiles,
        rewards=torch.tensor(rewards),
        mask=torch.ones(actions.shape),
        seconds=1.0,
    )


def test_the_letter_that_took_gold_is_pushed_up_and_pushes_sum_to_zero() -> None:
    gold, mold = int(Tile.GOLD), int(Tile.MOLD)
    # Two episodes of one group, two turns: S takes Gold twice, N enters Mold, E a Path.
    traj = _traj(
        actions=[[S, N], [S, E]],
        rewards=[[19.9, -10.1], [19.9, -0.1]],
        entered=[[gold, mold], [gold, int(Tile.PATH)]],
    )
    by_letter = {p.letter: p for p in letter_pushes(traj, group_size=2)}
    assert [by_letter[k].n for k in "NESW"] == [1, 1, 2, 0]
    assert by_letter["S"].share == pytest.approx(0.5)
    assert by_letter["S"].entered == {"gold": 2}
    assert by_letter["N"].entered == {"mold": 1}
    # REINFORCE γ 0: turn 2's baseline is −5.1, so N's advantage is −5 and E's +5.
    assert by_letter["N"].mean_advantage["reinforce γ0"] == pytest.approx(-5.0)
    assert by_letter["E"].mean_advantage["reinforce γ0"] == pytest.approx(5.0)
    # Dr. GRPO: returns 9.8 and 19.8, so episode 2's turns get +5 and episode 1's −5.
    assert by_letter["E"].mean_advantage["drgrpo"] == pytest.approx(5.0)
    assert by_letter["N"].push["drgrpo"] < 0 < by_letter["E"].push["drgrpo"]
    for algorithm in ("reinforce γ0", "drgrpo"):
        assert sum(p.push[algorithm] for p in by_letter.values()) == pytest.approx(0.0, abs=1e-5)
