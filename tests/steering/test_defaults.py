"""One source of defaults: where a dataclass or function of the upper layers mirrors a params
key, its code default equals the schema's (the stages always pass the validated value; the code
default only serves direct callers, and must not tell them something else)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from welfare.activations.capture import ActivationSettings
from welfare.config import fill_defaults
from welfare.steering.battery import BatterySettings, summarize, summarize_metric
from welfare.steering.generate import GenerationSettings
from welfare.steering.judge import LLMJudge
from welfare.steering.maze_eval import maze_rates
from welfare.steering.tracking import block_activations
from welfare.steering.vectors import vector_set

SCHEMA = fill_defaults({})


def _at(path: str):
    value = SCHEMA
    for key in path.split("."):
        value = value[key]
    return value


def _field_default(cls, name: str):
    return {f.name: f for f in dataclasses.fields(cls)}[name].default


def _arg_default(fn, name: str):
    return inspect.signature(fn).parameters[name].default


def _normal(value):
    return list(value) if isinstance(value, tuple) else value


MIRRORS = [
    *[(ActivationSettings, f.name, f"activations.{f.name}")
      for f in dataclasses.fields(ActivationSettings)],
    *[(GenerationSettings, f.name, f"steer.generation.{f.name}")
      for f in dataclasses.fields(GenerationSettings)],
    (BatterySettings, "answer_max_new_tokens", "steer.confidence.answer_max_new_tokens"),
    (BatterySettings, "probe_steer_turns", "steer.confidence.steer_turns"),
    (BatterySettings, "probe_batch_size", "steer.confidence.batch_size"),
    (LLMJudge, "max_new_tokens", "steer.paper.judge_max_new_tokens"),
    (LLMJudge, "batch_size", "steer.paper.judge_batch_size"),
]  # fmt: skip
ARGS = [
    (summarize, "mask_threshold", "steer.incoherent_mask_threshold"),
    (summarize_metric, "mask_threshold", "steer.incoherent_mask_threshold"),
    (vector_set, "concepts", "steer.concepts"),
    (vector_set, "controls", "steer.controls"),
    (vector_set, "control_layer", "steer.control_layer"),
    (vector_set, "seed", "steer.random_seed"),
    (maze_rates, "greedy", "steer.maze.greedy"),
    (maze_rates, "temperature", "steer.maze.temperature"),
    (maze_rates, "seed", "steer.random_seed"),
    (block_activations, "batch_size", "track.batch_size"),
]


@pytest.mark.parametrize(("cls", "name", "path"), MIRRORS, ids=[m[2] for m in MIRRORS])
def test_dataclass_defaults_are_the_schemas(cls, name, path):
    assert _normal(_field_default(cls, name)) == _at(path)


@pytest.mark.parametrize(
    ("fn", "name", "path"), ARGS, ids=[f"{a[0].__name__}.{a[1]}" for a in ARGS]
)
def test_argument_defaults_are_the_schemas(fn, name, path):
    assert _normal(_arg_default(fn, name)) == _at(path)
