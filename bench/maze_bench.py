"""Benchmark the maze and the env stage: mazes/s, planner ms/plan, default extraction wall time.

    python bench/maze_bench.py [--mazes 2000] [--plans 100] [--per-class 5000] [--demos 100]

Not a test: prints numbers to record in bench/maze.md (machine, contention, command).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from welfare.env.extraction import ExtractionSpec, ExtractionStats, assign_splits, iter_trajectories
from welfare.env.sft import make_demonstration
from welfare.env.tables import extraction_columns, write_table
from welfare.maze import MazeConfig, generate_maze, new_episode, optimal_plan


def bench_mazes(n: int) -> float:
    started = time.perf_counter()
    for seed in range(n):
        generate_maze(seed)
    return n / (time.perf_counter() - started)


def bench_planner(n: int, config: MazeConfig) -> float:
    states = [new_episode(generate_maze(seed)) for seed in range(n)]
    started = time.perf_counter()
    for state in states:
        optimal_plan(state, config, config.turns)
    return 1000 * (time.perf_counter() - started) / n


def bench_sft(n: int, config: MazeConfig) -> float:
    started = time.perf_counter()
    for i in range(n):
        make_demonstration(700000 + i, config)
    return n / (time.perf_counter() - started)


def bench_extraction(per_class: int, config: MazeConfig) -> tuple[float, float, ExtractionStats]:
    """Wall and CPU seconds of the extraction set (sampling, splits, Parquet write)."""
    spec = ExtractionSpec(per_class=per_class)
    stats = ExtractionStats()
    cpu_started = time.process_time()
    started = time.perf_counter()
    trajectories = list(iter_trajectories(spec, config, stats))
    splits = assign_splits(trajectories, spec.heldout_fraction, spec.seed_base)
    with tempfile.TemporaryDirectory() as tmp:
        write_table(Path(tmp) / "extraction.parquet", extraction_columns(trajectories, splits), {})
    return time.perf_counter() - started, time.process_time() - cpu_started, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mazes", type=int, default=2000)
    parser.add_argument("--plans", type=int, default=100)
    parser.add_argument("--demos", type=int, default=100)
    parser.add_argument("--per-class", type=int, default=5000)
    args = parser.parse_args()
    config = MazeConfig()
    print(f"cpus visible: {os.cpu_count()}, load average: {os.getloadavg()}")
    print(f"generate_maze 100x100: {bench_mazes(args.mazes):.0f} mazes/s")
    print(f"optimal_plan 15 turns: {bench_planner(args.plans, config):.1f} ms/plan")
    print(f"SFT demos (wind, re-planning): {bench_sft(args.demos, config):.1f} demos/s")
    wall, cpu, stats = bench_extraction(args.per_class, config)
    print(
        f"extraction {3 * args.per_class} trajectories: {wall:.1f} s wall, {cpu:.1f} s CPU "
        f"({stats.mazes_drawn} mazes drawn, rejected {stats.rejected}) incl. Parquet write"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
