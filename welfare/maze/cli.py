"""`welfare maze show --seed S [--size N] [--mapping M] [--radius R]`: look at one maze.

Prints a window of the maze around the start (emoji of the mapping, the agent as 🙂), the
maze's tile counts, and the first user message the model would see.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from welfare.maze.config import MazeConfig
from welfare.maze.dynamics import new_episode
from welfare.maze.generate import generate_maze
from welfare.maze.render import render_user_message
from welfare.maze.show import window_picture
from welfare.maze.tiles import Tile, TileMapping


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    show = sub.add_parser("show", help="print a maze window around the start and the first message")
    show.add_argument("--seed", type=int, required=True, help="maze seed")
    show.add_argument(
        "--size", type=int, default=None, help="grid side (default: params maze.size)"
    )
    show.add_argument("--mapping", default="office", help="tile mapping name (default: office)")
    show.add_argument("--radius", type=int, default=7, help="cells shown on each side of the start")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    config = MazeConfig.from_params(params["maze"])
    if args.size is not None and args.size < 3:
        raise SystemExit(f"welfare maze show: --size must be ≥ 3, got {args.size}")
    try:
        mapping = TileMapping.from_params(params, args.mapping)
    except KeyError as exc:
        raise SystemExit(f"welfare maze show: {exc.args[0]}") from None
    maze = generate_maze(args.seed, args.size, config=config)
    counts = {t.label: int(np.count_nonzero(maze.grid == t)) for t in Tile}
    legend = ", ".join(f"{mapping.symbol(t)} {t.label}" for t in (Tile.MOLD, Tile.GOLD, Tile.PATH))
    print(f"maze seed {maze.seed}, size {maze.size}, start {maze.start}; tiles {counts}")
    print(f"legend: {legend}, 🙂 agent")
    print(window_picture(maze.grid, maze.start, mapping, args.radius))
    print()
    message = render_user_message(
        new_episode(maze), mapping, np.random.default_rng(args.seed), config
    )
    print(message)
    return 0
