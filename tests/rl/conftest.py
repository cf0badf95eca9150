from __future__ import annotations

import pytest
import torch

from welfare.maze.config import MazeConfig
from welfare.maze.tiles import TileMapping
from welfare.model.load import load_model
from welfare.model.testing import tiny_model_dir
from welfare.rl.episodes import EpisodeBatch

RUNTIME = {"device": "cpu", "dtype": "float32", "threads": 1}
MAPPING = TileMapping(mold="📇", gold="📐", path="🧾")
# Small grid, frequent wind: turns of different lengths within one batch.
SMALL_MAZE = MazeConfig(size=20, turns=6, wind_probability=0.4)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory.mktemp("rl-model"), "qwen3")


@pytest.fixture
def tiny(tiny_dir):
    return load_model(tiny_dir, RUNTIME)


@pytest.fixture
def runtime():
    return dict(RUNTIME)


@pytest.fixture
def small_episodes():
    """Factory of small episode batches (2 mazes × 3 episodes by default)."""

    def make(
        seeds=(1, 2), group_size=3, stream_seed=7, config=SMALL_MAZE, rotations=1, **kw
    ) -> EpisodeBatch:
        return EpisodeBatch.fresh(
            list(seeds), group_size, config, MAPPING, stream_seed, rotations, **kw
        )

    return make
