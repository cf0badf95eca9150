"""SFT demonstrations (docs/protocol.md §2.5): the optimal planner playing fresh mazes, wind
included.

Demo i plays maze ``seed_base + i`` for the full episode. The planner plans all remaining turns
without wind and the plan is followed until wind fires, then re-planned from where the agent
landed, so every move is optimal given what the agent knows. Wind, clause shuffles and the
planner's tie-breaks come from independent streams derived from the maze seed, recorded in the
row, so `welfare.env.render_sft_messages(row, ...)` re-renders the exact conversation.
"""

from __future__ import annotations

from dataclasses import dataclass

from welfare.env.seeds import Stream, derived_rng, derived_seed
from welfare.maze import MazeConfig, generate_maze, new_episode, optimal_plan, step


@dataclass(frozen=True)
class Demonstration:
    maze_seed: int
    wind_seed: int
    render_seeds: list[int]  # one per turn: the clause shuffle of that turn's user message
    actions: list[str]
    positions: list[tuple[int, int]]
    winds: list[str]  # per turn: the direction the wind pushed, "" when calm
    rewards: list[float]
    total_return: float


def make_demonstration(maze_seed: int, config: MazeConfig) -> Demonstration:
    maze = generate_maze(maze_seed, config=config)
    state = new_episode(maze)
    wind_seed = derived_seed(maze_seed, Stream.WIND)
    wind_rng = derived_rng(maze_seed, Stream.WIND)
    plan_rng = derived_rng(maze_seed, Stream.PLAN)
    actions, positions, winds, rewards = [], [], [], []
    plan: list[str] = []
    for turn in range(config.turns):
        if not plan:
            plan = optimal_plan(state, config, config.turns - turn, rng=plan_rng)
        action = plan.pop(0)
        result = step(state, action, wind_rng, config)
        if result.wind is not None:
            plan = []  # the world moved under the plan: re-plan from here
        state = result.state
        actions.append(action)
        positions.append(state.pos)
        winds.append(result.wind.push if result.wind else "")
        rewards.append(result.reward)
    return Demonstration(
        maze_seed=maze_seed,
        wind_seed=wind_seed,
        render_seeds=[derived_seed(maze_seed, Stream.RENDER, t) for t in range(config.turns)],
        actions=actions,
        positions=positions,
        winds=winds,
        rewards=rewards,
        total_return=float(sum(rewards)),
    )
