"""Chat messages of dataset rows: replay a row in its maze and render every turn.

Messages are ``[{"role": "user", ...}, {"role": "assistant", "content": "N"}, ...]`` with no system
prompt (docs/protocol.md §1.3); the chat template comes from the model's tokenizer. For extraction
the paper puts no end-of-turn token after the final assistant move: whoever tokenises must drop it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from welfare.maze import (
    EpisodeState,
    MazeConfig,
    TileMapping,
    generate_maze,
    new_episode,
    render_user_message,
    step,
)

Message = dict[str, str]


class ReplayError(ValueError):
    """A dataset row whose recorded positions do not match its replay."""


def play_and_render(
    state: EpisodeState,
    actions: Sequence[str],
    mapping: TileMapping,
    config: MazeConfig,
    wind_rng: np.random.Generator,
    render_rng_for_turn: Callable[[int], np.random.Generator],
) -> tuple[list[Message], list[tuple[int, int]]]:
    """Render the user message before each action, play it; return messages and positions."""
    messages: list[Message] = []
    positions: list[tuple[int, int]] = []
    for turn, action in enumerate(actions):
        text = render_user_message(state, mapping, render_rng_for_turn(turn), config)
        messages.append({"role": "user", "content": text})
        messages.append({"role": "assistant", "content": str(action)})
        state = step(state, str(action), wind_rng, config).state
        positions.append(state.pos)
    return messages, positions


def _check_positions(row: Mapping[str, Any], replayed: list[tuple[int, int]]) -> None:
    recorded = row.get("positions")
    if recorded is None:
        return
    recorded = [(int(p[0]), int(p[1])) for p in recorded]
    if recorded != replayed:
        raise ReplayError(
            f"row with maze_seed {row['maze_seed']}: recorded positions {recorded} "
            f"!= replay {replayed}"
        )


def render_trajectory_messages(
    row: Mapping[str, Any], params: Mapping[str, Any], mapping_name: str
) -> list[Message]:
    """Chat messages of one extraction trajectory (a row of extraction.parquet).

    The maze is regenerated from ``maze_seed``, the actions replayed without wind, and the clause
    shuffles drawn from one rng seeded by ``render_seed`` (consumed turn by turn). The last
    assistant content is the final direction letter. Raises ReplayError if the recorded
    positions disagree with the replay (a dataset from different maze params).
    """
    config = replace(MazeConfig.from_params(params["maze"]), wind_probability=0.0)
    config = replace(config, turns=max(config.turns, int(row["n_steps"])))
    mapping = TileMapping.from_params(params, mapping_name)
    state = new_episode(generate_maze(int(row["maze_seed"]), config=config))
    render_rng = np.random.default_rng(int(row["render_seed"]))
    calm_rng = np.random.default_rng(0)  # wind probability is 0: only consumed, never decides
    messages, positions = play_and_render(
        state, list(row["actions"]), mapping, config, calm_rng, lambda _t: render_rng
    )
    _check_positions(row, positions)
    return messages


def render_sft_messages(
    row: Mapping[str, Any], params: Mapping[str, Any], mapping_name: str
) -> list[Message]:
    """Chat messages of one SFT demonstration (a row of sft.parquet), wind sentences included.

    Wind is replayed from ``wind_seed`` (the same rng stream as when the demo was made) and the
    clauses of turn t are shuffled with ``render_seeds[t]``.
    """
    config = MazeConfig.from_params(params["maze"])
    mapping = TileMapping.from_params(params, mapping_name)
    state = new_episode(generate_maze(int(row["maze_seed"]), config=config))
    render_seeds = [int(s) for s in row["render_seeds"]]
    messages, positions = play_and_render(
        state,
        list(row["actions"]),
        mapping,
        config,
        np.random.default_rng(int(row["wind_seed"])),
        lambda t: np.random.default_rng(render_seeds[t]),
    )
    _check_positions(row, positions)
    return messages
