"""Chat messages of extraction rows and SFT demonstrations."""

from __future__ import annotations

import numpy as np
import pytest

from welfare.config import load_params
from welfare.env import ReplayError, render_sft_messages, render_trajectory_messages
from welfare.env.extraction import ExtractionSpec, iter_trajectories
from welfare.env.sft import make_demonstration
from welfare.maze import MazeConfig, TileMapping, generate_maze, new_episode, render_user_message


@pytest.fixture(scope="module")
def params():
    return load_params()


@pytest.fixture(scope="module")
def rows():
    out = []
    for t in iter_trajectories(ExtractionSpec(per_class=15), MazeConfig()):
        out.append(
            {
                "trajectory_id": t.trajectory_id,
                "maze_seed": t.maze_seed,
                "n_steps": t.n_steps,
                "actions": t.actions,
                "positions": [list(p) for p in t.positions],
                "final_tile": t.final_tile,
                "render_seed": t.render_seed,
            }
        )
    return out


def test_turn_structure_and_final_letter(rows, params) -> None:
    for row in rows:
        messages = render_trajectory_messages(row, params, "office")
        assert len(messages) == 2 * row["n_steps"]
        assert [m["role"] for m in messages] == ["user", "assistant"] * row["n_steps"]
        assert [m["content"] for m in messages[1::2]] == row["actions"]
        assert messages[-1]["content"] == row["actions"][-1]
        assert all("A strong wind" not in m["content"] for m in messages)  # no wind off-policy


def test_first_message_is_the_start_observation(rows, params) -> None:
    row = rows[0]
    config = MazeConfig.from_params(params["maze"])
    maze = generate_maze(row["maze_seed"], config=config)
    expected = render_user_message(
        new_episode(maze),
        TileMapping.from_params(params, "office"),
        np.random.default_rng(row["render_seed"]),
        config,
    )
    assert render_trajectory_messages(row, params, "office")[0]["content"] == expected


def test_final_user_message_shows_the_class_emoji_in_the_chosen_direction(rows, params) -> None:
    mapping = TileMapping.from_params(params, "office")
    words = {"N": "north", "E": "east", "S": "south", "W": "west"}
    for row in rows:
        last_user = render_trajectory_messages(row, params, "office")[-2]["content"]
        symbol = getattr(mapping, row["final_tile"])
        assert f"to the {words[row['actions'][-1]]} there is {symbol}" in last_user.lower()


def test_rendering_is_deterministic_and_seeded_by_the_row(rows, params) -> None:
    row = next(r for r in rows if r["n_steps"] >= 4)
    a = render_trajectory_messages(row, params, "office")
    assert a == render_trajectory_messages(row, params, "office")
    other = dict(row, render_seed=row["render_seed"] + 1)
    assert a != render_trajectory_messages(other, params, "office")


def test_mapping_changes_only_the_symbols(rows, params) -> None:
    row = rows[5]
    office = render_trajectory_messages(row, params, "office")
    swap = render_trajectory_messages(row, params, "office_swap")
    swapped_back = [
        {**m, "content": m["content"].replace("📐", "\0").replace("📇", "📐").replace("\0", "📇")}
        for m in swap
    ]
    assert swapped_back == office


def test_tampered_row_raises_replay_error(rows, params) -> None:
    row = dict(rows[3], positions=[[0, 0]] * rows[3]["n_steps"])
    with pytest.raises(ReplayError):
        render_trajectory_messages(row, params, "office")


def test_sft_messages_replay_the_demo_with_wind_sentences(params) -> None:
    config = MazeConfig.from_params(params["maze"])
    demos = [make_demonstration(700000 + i, config) for i in range(12)]
    windy = [d for d in demos if any(d.winds[:-1])]
    assert windy, "expected wind on some turn among 12 demos (p = 0.1 per turn)"
    for demo in demos:
        row = {
            "maze_seed": demo.maze_seed,
            "wind_seed": demo.wind_seed,
            "render_seeds": demo.render_seeds,
            "actions": demo.actions,
            "positions": [list(p) for p in demo.positions],
        }
        messages = render_sft_messages(row, params, "office")
        assert len(messages) == 2 * config.turns
        for turn, push in enumerate(demo.winds[:-1]):
            has_wind = messages[2 * (turn + 1)]["content"].startswith("A strong wind")
            assert has_wind == bool(push)
