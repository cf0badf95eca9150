"""`welfare steer` end to end: the battery on the maze-naive model (and its layer sweep), on the
trained model with its own v, scoring (rule-based, and the judge at paper scale), summaries, and
`metrics/{organism}/steer.json` (its layout: `SteerMetrics`, docs/metrics.md).

`SteerConfig.from_params` reads the params once; from there only typed fields travel.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from welfare.config import params_hash
from welfare.corpus import lexicon
from welfare.io import atomic_path, write_json
from welfare.steering import plots
from welfare.steering.agreement import record_agreement
from welfare.steering.battery import (
    TEXT_EVALS,
    BatteryInputs,
    BatterySettings,
    MazeSettings,
    MetricSummary,
    collect,
    conditions,
    grade_with_judge,
    score_records,
    summarize,
)
from welfare.steering.generate import GenerationSettings
from welfare.steering.inputs import PromptPlan, build_inputs
from welfare.steering.judge import LLMJudge
from welfare.steering.runtime import load_for_eval, release_memory, set_threads
from welfare.steering.stats import finite_or_none
from welfare.steering.vectors import (
    SteeringVector,
    check_vectors_fit,
    extra_vectors,
    load_vectors_file,
    vector_set,
)

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- steer.json (the contract)


class SweepRow(TypedDict):
    """One layer of the layer sweep for one metric and vector."""

    layer: int
    slope: float | None
    se: float | None
    n: int
    any_masked: bool


class LayerSweep(TypedDict):
    alphas: list[float]
    naive: dict[str, dict[str, list[SweepRow]]]  # metric → vector name → one row per layer


class SteerMetrics(TypedDict):
    """`metrics/{organism}/steer.json`. `runs[run][metric][vector]`: run is naive (every
    vector) or trained (its own v only); metric e.g. sentiment, p_true, refusal_benign."""

    organism: str | None
    mapping: str
    scale: str  # organism | paper
    scorer: str  # judge | rule
    rule_scorer: str  # lexicon | natural
    prompt_set: str  # scale | builtin
    alphas: list[float]
    vectors: dict[str, dict[str, Any]]  # name → SteeringVector.describe()
    runs: dict[str, dict[str, dict[str, MetricSummary]]]
    models: dict[str, str | None]  # naive, trained
    n_prompts: dict[str, int]  # sentiment, backtracking, confidence, refusal, maze
    params_hash: str
    layer_sweep: NotRequired[LayerSweep]  # when steer.layer_sweep.enabled
    agreement: NotRequired[dict[str, Any]]  # judge vs rule scorer, with a judge
    timings: dict[str, float]  # seconds per phase and total_s


# ---------------------------------------------------------------- inputs and config


@dataclass(frozen=True)
class SteerInputs:
    """The files the stage reads and writes."""

    vectors: str
    naive_model: str
    out: str
    trained_model: str | None = None
    corpus: str | None = None  # held-out corpus file or its directory (organism scale)
    eval_mazes: str | None = None
    organism: str | None = None
    records: str | None = None  # every scored response (JSONL)
    plots: str | None = None  # dose-response and layer-sweep PNGs


@dataclass(frozen=True)
class JudgeConfig:
    model: str
    thinking: Mapping[str, bool]
    max_new_tokens: int
    batch_size: int


@dataclass(frozen=True)
class SweepConfig:
    """docs/protocol.md §4.13: v of each concept at every layer (`layers`; empty: all), α without
    0."""

    layers: tuple[int, ...]
    concepts: tuple[str, ...]
    alphas: list[float]
    evals: tuple[str, ...]
    prompts: PromptPlan
    battery: BatterySettings


@dataclass(frozen=True)
class SteerConfig:
    mapping: str
    scale: str
    prompt_set: str
    rule_scorer: str
    alphas: list[float]
    concepts: tuple[str, ...]
    controls: tuple[str, ...]
    control_layer: str
    random_seed: int
    extra_vectors: tuple[Mapping[str, Any], ...]
    evals: tuple[str, ...]
    steer_trained: bool
    mask_threshold: float
    prompts: PromptPlan
    battery: BatterySettings
    sweep: SweepConfig | None  # None: steer.layer_sweep.enabled is false
    judge: JudgeConfig | None  # paper scale with a judge model only
    runtime: Mapping[str, Any]
    params_hash: str

    @classmethod
    def from_params(cls, params: Mapping[str, Any], mapping: str) -> SteerConfig:
        steer = params["steer"]
        sweep = steer["layer_sweep"]
        paper = steer["paper"]
        maze = MazeSettings(
            params=params,
            mapping=mapping,
            greedy=bool(steer["maze"]["greedy"]),
            temperature=float(steer["maze"]["temperature"]),
            seed=int(steer["random_seed"]),
        )
        judge = None
        if steer["scale"] == "paper" and paper["judge_model"]:
            judge = JudgeConfig(
                paper["judge_model"],
                paper["judge_thinking"],
                paper["judge_max_new_tokens"],
                paper["judge_batch_size"],
            )
        return cls(
            mapping=mapping,
            scale=steer["scale"],
            prompt_set=steer["prompt_set"],
            rule_scorer=steer["rule_scorer"],
            alphas=steer["alphas"],
            concepts=tuple(steer["concepts"]),
            controls=tuple(steer["controls"]),
            control_layer=steer["control_layer"],
            random_seed=steer["random_seed"],
            extra_vectors=tuple(steer["extra_vectors"]),
            evals=tuple(steer["evals"]),
            steer_trained=steer["steer_trained"],
            mask_threshold=steer["incoherent_mask_threshold"],
            prompts=PromptPlan.from_params(params, mapping, sweep=False),
            battery=battery_settings(steer, maze, sweep=False),
            sweep=SweepConfig(
                layers=tuple(sweep["layers"]),
                concepts=tuple(steer["concepts"]),
                alphas=sweep["alphas"],
                evals=tuple(sweep["evals"]),
                prompts=PromptPlan.from_params(params, mapping, sweep=True),
                battery=battery_settings(steer, maze, sweep=True),
            )
            if sweep["enabled"]
            else None,
            judge=judge,
            runtime=params["runtime"],
            params_hash=params_hash(params, ["steer", "runtime", "maze", "mappings"]),
        )


def battery_settings(steer: Mapping[str, Any], maze: MazeSettings, sweep: bool) -> BatterySettings:
    """How the battery generates and probes (the sweep: one sample per prompt by default)."""
    samples = {e: steer[e]["samples"] for e in TEXT_EVALS}
    if sweep:
        samples = dict.fromkeys(samples, steer["layer_sweep"]["samples"])
    return BatterySettings(
        samples=samples,
        generation=GenerationSettings.from_params(steer["generation"]),
        answer_max_new_tokens=steer["confidence"]["answer_max_new_tokens"],
        probe_question=lexicon.CONFIDENCE_QUESTION,
        probe_steer_turns=steer["confidence"]["steer_turns"],
        template_kwargs=dict(steer["template_kwargs"]),
        maze=maze,
        probe_batch_size=steer["confidence"]["batch_size"],
    )


# ---------------------------------------------------------------- the stage


@dataclass
class Collected:
    """Unscored records per run (naive, trained) and of the naive layer sweep."""

    runs: dict[str, list[dict]]
    sweep: list[dict]
    timings: dict[str, float]


def run_steer(inputs: SteerInputs, cfg: SteerConfig) -> SteerMetrics:
    """The whole stage: collect, score, summarize, write steer.json (and records, plots)."""
    started = time.perf_counter()
    set_threads(cfg.runtime["threads"])
    ds_vectors = load_vectors_file(inputs.vectors)
    vectors = battery_vectors(ds_vectors, cfg)
    prompts = build_inputs(cfg.prompts, inputs.corpus, inputs.eval_mazes)
    collected = collect_runs(inputs, cfg, ds_vectors, vectors, prompts)
    judge = load_judge(cfg.judge, cfg.runtime)
    t = time.perf_counter()
    for records in [*collected.runs.values(), collected.sweep]:
        score_records(records, judge, cfg.rule_scorer)
        if judge is not None:
            grade_with_judge(records, judge)
    collected.timings["scoring_s"] = time.perf_counter() - t
    result = steer_metrics(inputs, cfg, vectors, collected.runs, prompts, judge is not None)
    if collected.sweep:
        result["layer_sweep"] = sweep_summary(collected.sweep, ds_vectors, cfg)
    if judge is not None:
        result["agreement"] = record_agreement([r for rs in collected.runs.values() for r in rs])
    collected.timings["total_s"] = time.perf_counter() - started
    result["timings"] = collected.timings
    result = finite_or_none(result)
    write_outputs(inputs, result, collected)
    log.info("steer: wrote %s in %.0f s", inputs.out, collected.timings["total_s"])
    return result


def battery_vectors(ds_vectors: Any, cfg: SteerConfig) -> list[SteeringVector]:
    """v of each concept at its ℓ*, its controls, and the extra directions."""
    vectors = vector_set(
        ds_vectors,
        cfg.concepts,
        cfg.controls,
        None,
        cfg.control_layer,  # type: ignore[arg-type]
        cfg.random_seed,
    )
    return vectors + extra_vectors(cfg.extra_vectors, ds_vectors)


def collect_runs(
    inputs: SteerInputs,
    cfg: SteerConfig,
    ds_vectors: Any,
    vectors: Sequence[SteeringVector],
    prompts: BatteryInputs,
) -> Collected:
    """The naive model's battery and layer sweep, then the trained model's battery with its
    own v (never with controls); one model in memory at a time."""
    out = Collected(runs={}, sweep=[], timings={})
    model, tokenizer = load_for_eval(inputs.naive_model, cfg.runtime)
    check_vectors_fit(ds_vectors, inputs.vectors, model)
    t = time.perf_counter()
    conds = conditions(vectors, cfg.alphas)
    out.runs["naive"] = collect(
        model, tokenizer, prompts, conds, cfg.battery, cfg.evals, "steer naive"
    )
    out.timings["naive_battery_s"] = time.perf_counter() - t
    if cfg.sweep is not None:
        t = time.perf_counter()
        out.sweep = layer_sweep(model, tokenizer, ds_vectors, cfg.sweep, inputs)
        out.timings["layer_sweep_s"] = time.perf_counter() - t
    del model, tokenizer
    release_memory()
    if inputs.trained_model and cfg.steer_trained:
        model, tokenizer = load_for_eval(inputs.trained_model, cfg.runtime)
        t = time.perf_counter()
        conds = conditions(trained_only(vectors), cfg.alphas)
        out.runs["trained"] = collect(
            model, tokenizer, prompts, conds, cfg.battery, cfg.evals, "steer trained"
        )
        out.timings["trained_battery_s"] = time.perf_counter() - t
        del model, tokenizer
        release_memory()
    return out


def trained_only(vectors: Sequence[SteeringVector]) -> list[SteeringVector]:
    return [v for v in vectors if v.kind == "trained"]


def sweep_layers(ds_vectors: Any, sweep: SweepConfig) -> list[int]:
    return list(sweep.layers) or [int(x) for x in ds_vectors["layer"].values]


def layer_sweep(
    model: Any, tokenizer: Any, ds_vectors: Any, sweep: SweepConfig, inputs: SteerInputs
) -> list[dict]:
    """docs/protocol.md §4.13: v of each concept at every layer, α without 0, reduced prompt
    sets."""
    prompts = build_inputs(sweep.prompts, inputs.corpus, inputs.eval_mazes)
    records: list[dict] = []
    for layer in sweep_layers(ds_vectors, sweep):
        vectors = vector_set(ds_vectors, sweep.concepts, controls=(), layer=layer)
        conds = conditions(vectors, sweep.alphas)
        desc = f"sweep L{layer}"
        for r in collect(model, tokenizer, prompts, conds, sweep.battery, sweep.evals, desc):
            r["sweep_layer"] = layer
            records.append(r)
    return records


def load_judge(judge: JudgeConfig | None, runtime: Mapping[str, Any]) -> LLMJudge | None:
    """The paper-scale LLM judge, loaded after the steered models are released."""
    if judge is None:
        return None
    model, tokenizer = load_for_eval(judge.model, runtime)
    return LLMJudge(model, tokenizer, judge.thinking, judge.max_new_tokens, judge.batch_size)


def steer_metrics(
    inputs: SteerInputs,
    cfg: SteerConfig,
    vectors: Sequence[SteeringVector],
    runs: Mapping[str, list[dict]],
    prompts: BatteryInputs,
    judged: bool,
) -> dict[str, Any]:
    """steer.json without the layer sweep, agreement and timings."""
    summaries = {"naive": summarize(runs["naive"], vectors, cfg.mask_threshold)}
    if "trained" in runs:
        summaries["trained"] = summarize(runs["trained"], trained_only(vectors), cfg.mask_threshold)
    return {
        "organism": inputs.organism,
        "mapping": cfg.mapping,
        "scale": cfg.scale,
        "scorer": "judge" if judged else "rule",
        "rule_scorer": cfg.rule_scorer,
        "prompt_set": cfg.prompt_set,
        "alphas": cfg.alphas,
        "vectors": {v.name: v.describe() for v in vectors},
        "runs": summaries,
        "models": {"naive": str(inputs.naive_model), "trained": inputs.trained_model},
        "n_prompts": {
            "sentiment": sum(map(len, prompts.sentiment.values())),
            "backtracking": sum(map(len, prompts.backtracking.values())),
            "confidence": sum(map(len, prompts.confidence.values())),
            "refusal": sum(map(len, prompts.refusal.values())),
            "maze": len(prompts.maze_seeds),
        },
        "params_hash": cfg.params_hash,
    }


def sweep_summary(records: list[dict], ds_vectors: Any, cfg: SteerConfig) -> LayerSweep:
    """Per metric and v, one row per swept layer: the slope over the sweep's nonzero α."""
    assert cfg.sweep is not None
    alphas = cfg.sweep.alphas
    out: dict[str, dict[str, list[SweepRow]]] = {}
    for layer in sorted({r["sweep_layer"] for r in records}):
        vectors = vector_set(ds_vectors, cfg.sweep.concepts, controls=(), layer=layer)
        mine = [r for r in records if r["sweep_layer"] == layer]
        for metric, per_vector in summarize(mine, vectors, cfg.mask_threshold, alphas).items():
            for name, s in per_vector.items():
                row: SweepRow = {
                    "layer": layer,
                    "slope": s["slope"],
                    "se": s["se"],
                    "n": s["n"],
                    "any_masked": any(p["masked"] for p in s["points"]),
                }
                out.setdefault(metric, {}).setdefault(name, []).append(row)
    return {"alphas": alphas, "naive": out}


def write_outputs(inputs: SteerInputs, result: Mapping[str, Any], collected: Collected) -> None:
    """steer.json, then the optional plots and the scored records (JSONL)."""
    write_json(inputs.out, result)
    if inputs.plots:
        for run_name in result["runs"]:
            plots.dose_response(result, inputs.plots, run_name)
        plots.layer_sweep(result, inputs.plots)
    if inputs.records:
        named = [*collected.runs.items(), ("naive_sweep", collected.sweep)]
        with atomic_path(inputs.records) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for run_name, records in named:
                for r in records:
                    line = json.dumps({"run": run_name, **r}, ensure_ascii=False, default=str)
                    fh.write(line + "\n")
