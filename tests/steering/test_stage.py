"""The steering stage's typed config (built once from validated params) and its prompt plan."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from welfare.config import load_params
from welfare.io import InputError
from welfare.steering.inputs import PromptPlan, build_inputs
from welfare.steering.stage import SteerConfig
from welfare.steering.track_stage import TrackConfig

PARAMS = load_params()


def _params(**steer):
    params = copy.deepcopy(PARAMS)
    for key, value in steer.items():
        params["steer"][key] = (
            value if not isinstance(value, dict) else params["steer"][key] | value
        )
    return params


def test_config_is_frozen_and_carries_what_the_stage_needs():
    cfg = SteerConfig.from_params(PARAMS, "office")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.mapping = "office_swap"  # type: ignore[misc]
    steer = PARAMS["steer"]
    assert cfg.alphas == steer["alphas"] and cfg.evals == tuple(steer["evals"])
    assert cfg.battery.maze is not None and cfg.battery.maze.mapping == "office"
    assert cfg.battery.generation.max_new_tokens == steer["generation"]["max_new_tokens"]
    assert cfg.sweep is not None and cfg.sweep.alphas == steer["layer_sweep"]["alphas"]
    # the sweep generates one sample per prompt of its reduced sets
    assert set(cfg.sweep.battery.samples.values()) == {steer["layer_sweep"]["samples"]}
    assert cfg.judge is None  # organism scale: rule scorers only


def test_sweep_off_and_judge_only_at_paper_scale_with_a_model():
    assert SteerConfig.from_params(_params(layer_sweep={"enabled": False}), "office").sweep is None
    no_model = _params(scale="paper")
    assert SteerConfig.from_params(no_model, "office").judge is None
    judged = _params(scale="paper", paper={"judge_model": "models/judge"})
    judge = SteerConfig.from_params(judged, "office").judge
    assert judge is not None and judge.model == "models/judge"
    assert judge.thinking == PARAMS["steer"]["paper"]["judge_thinking"]


def test_prompt_plan_sizes_full_and_sweep():
    steer = PARAMS["steer"]
    full = PromptPlan.from_params(PARAMS, "office", sweep=False)
    sweep = PromptPlan.from_params(PARAMS, "office", sweep=True)
    assert full.sizes["sentiment"] is None  # every sentiment prompt
    assert full.sizes["refusal"] == steer["refusal"]["n_prompts"]
    assert full.sizes["maze"] == steer["maze"]["n_mazes"]
    assert sweep.sizes["confidence"] == steer["layer_sweep"]["n_prompts"]["confidence"]
    assert sweep.sizes["mmlu"] == sweep.sizes["simpleqa"] == sweep.sizes["confidence"]
    assert sweep.evals == tuple(steer["layer_sweep"]["evals"])
    assert full.tile_symbols == PARAMS["mappings"]["office"]


def test_organism_scale_needs_the_corpus_builtin_does_not():
    plan = PromptPlan.from_params(PARAMS, "office", sweep=False)
    with pytest.raises(InputError, match="--corpus is required"):
        build_inputs(plan, None, None)
    builtin = PromptPlan.from_params(_params(prompt_set="builtin"), "office", sweep=False)
    inputs = build_inputs(builtin, None, None)
    assert inputs.backtracking["builtin"] and inputs.refusal["builtin"]
    assert 0 < len(inputs.confidence["builtin"]) <= PARAMS["steer"]["confidence"]["n_prompts"]
    assert inputs.maze_seeds == []  # no --eval-mazes: the maze evaluation is skipped


def test_track_config_refuses_an_unset_paper_file_before_any_work():
    params = copy.deepcopy(PARAMS)
    params["track"]["correctness"]["source"] = "mmlu"
    with pytest.raises(InputError, match="track.paper.mmlu"):
        TrackConfig.from_params(params, "office")
    params["track"]["paper"]["mmlu"] = "data/mmlu.parquet"
    assert TrackConfig.from_params(params, "office").correctness.paper_file == "data/mmlu.parquet"
