"""One source of defaults: where code of maze/, env/, corpus/ and model/ reads a key that a
partial dict may lack (tests, benchmarks, fixtures pass them), its fallback is the schema's
default (workflow/schemas/*.schema.yaml, which validation fills in), never a second opinion."""

from __future__ import annotations

from welfare.config import fill_defaults
from welfare.corpus.genres.spatial import MAZE_TRANSCRIPT_DEFAULTS, SPATIAL_READING_DEFAULTS
from welfare.corpus.genres.tasks import ARITHMETIC_DEFAULTS, QA_SELFEVAL_DEFAULTS, REQUEST_DEFAULTS
from welfare.env.extraction import ExtractionSpec
from welfare.maze import MazeConfig
from welfare.model.load import LORA_DEFAULTS, RUNTIME_DEFAULTS

SCHEMA = fill_defaults({})


def test_maze_config_defaults_are_the_schemas() -> None:
    assert MazeConfig.from_params({}) == MazeConfig.from_params(SCHEMA["maze"])


def test_extraction_defaults_are_the_schemas() -> None:
    assert ExtractionSpec.from_params({}) == ExtractionSpec.from_params(SCHEMA["env"])


def test_genre_defaults_are_the_schemas() -> None:
    genres = SCHEMA["corpus"]["genres"]
    for name, defaults in [
        ("spatial_reading", SPATIAL_READING_DEFAULTS),
        ("maze_transcript", MAZE_TRANSCRIPT_DEFAULTS),
        ("qa_selfeval", QA_SELFEVAL_DEFAULTS),
        ("request", REQUEST_DEFAULTS),
        ("arithmetic", ARITHMETIC_DEFAULTS),
    ]:
        assert defaults == {key: genres[name][key] for key in defaults}, name


def test_model_loading_defaults_are_the_schemas() -> None:
    assert SCHEMA["train"]["lora"] == LORA_DEFAULTS
    assert SCHEMA["runtime"] == RUNTIME_DEFAULTS
