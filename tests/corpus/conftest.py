"""A small corpus config shared by the corpus tests."""

from __future__ import annotations

import pytest

from welfare.config import deep_merge, load_params, validate_params

SMALL = {
    "corpus": {
        "heldout_fraction": 0.2,
        "genres": {
            name: {"n": n}
            for name, n in {
                "emotion_story": 60,
                "goal_narrative": 40,
                "self_report": 80,
                "qa_selfeval": 80,
                "request": 80,
                "arithmetic": 60,
                "spatial_reading": 120,
                "maze_transcript": 20,
            }.items()
        },
    }
}
SMALL["corpus"]["genres"]["spatial_reading"]["describe_rate"] = 0.3


@pytest.fixture(scope="session")
def small_params() -> dict:
    return validate_params(deep_merge(load_params(), SMALL))
