"""`welfare steer`: the steering battery over the α grid, its layer sweep, and controls.

    welfare steer --vectors vectors/grpo.nc --naive-model models/naive \\
        --trained-model models/grpo/final --corpus data/corpus --organism grpo \\
        --eval-mazes data/env/office/eval_mazes.parquet --out metrics/grpo/steer.json
"""

from __future__ import annotations

import argparse
import gc
import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vectors", required=True, help="vectors/{organism}.nc")
    parser.add_argument("--naive-model", required=True, help="maze-naive model (steered with v)")
    parser.add_argument("--trained-model", help="maze-trained model (App. A: steered with its v)")
    parser.add_argument("--corpus", help="held-out corpus: data/corpus or its heldout.jsonl")
    parser.add_argument("--eval-mazes", help="data/env/{mapping}/eval_mazes.parquet")
    parser.add_argument("--organism", help="organism name (its mapping, provenance)")
    parser.add_argument("--mapping", help="tile mapping name (default: the organism's)")
    parser.add_argument("--out", required=True, help="metrics/{organism}/steer.json")
    parser.add_argument("--records", help="also write every scored response here (JSONL)")
    parser.add_argument("--plots", help="also draw dose-response and layer-sweep PNGs here")


def mapping_name(args: argparse.Namespace, params: dict[str, Any]) -> str:
    """--mapping, else the --organism's row's mapping, else `office`; an unknown name is an
    error, never a silent fallback."""
    from welfare.io import InputError

    organisms, mappings = params["organisms"], params["mappings"]
    if args.organism and args.organism not in organisms:
        raise InputError(
            f"--organism {args.organism!r}: not in params.organisms "
            f"(has: {', '.join(sorted(organisms)) or 'none'})"
        )
    name = args.mapping or (organisms[args.organism]["mapping"] if args.organism else "office")
    if name not in mappings:
        raise InputError(f"mapping {name!r}: not in params.mappings (has: {', '.join(mappings)})")
    return name


def _heldout(corpus: str | None) -> Path:
    if corpus is None:
        raise SystemExit(
            "welfare steer: --corpus is required at organism scale (or steer.prompt_set: builtin)"
        )
    path = Path(corpus)
    return path / "heldout.jsonl" if path.is_dir() else path


def build_inputs(
    params: dict[str, Any],
    mapping: str,
    corpus: str | None,
    eval_mazes: str | None,
    sweep: bool = False,
):
    """The battery's prompt sets for the params' scale (sweep: the reduced sets)."""
    from welfare.steering import datasets as ds
    from welfare.steering.battery import BatteryInputs

    steer = params["steer"]
    seed = int(steer["random_seed"])
    n_sweep = steer["layer_sweep"]["n_prompts"]
    evals = steer["layer_sweep"]["evals"] if sweep else steer["evals"]

    def n(evaluation: str, default: int | None) -> int | None:
        return n_sweep[evaluation] if sweep else default

    inputs = BatteryInputs()
    if "sentiment" in evals:
        prompts = ds.sentiment_prompts(
            params["mappings"][mapping],
            steer["sentiment"]["tile_names"],
            steer["sentiment"]["association"],
        )
        if steer["sentiment"]["neutral"]:
            prompts += ds.builtin_neutral()
        inputs.sentiment = {"prompts": ds.sample(prompts, n("sentiment", None), seed)}
    paper = steer["paper"]
    if steer["prompt_set"] == "builtin":
        sizes = {e: n(e, steer[e]["n_prompts"]) for e in ("backtracking", "confidence", "refusal")}
        for evaluation, sets in ds.builtin_inputs(evals, sizes, seed).items():
            setattr(inputs, evaluation, sets)
    elif steer["scale"] == "paper":
        if "backtracking" in evals and paper["gsm8k"]:
            inputs.backtracking = {
                "gsm8k": ds.gsm8k(
                    paper["gsm8k"], n("backtracking", steer["backtracking"]["n_prompts"]), seed
                )
            }
        if "confidence" in evals:
            if paper["simpleqa"]:
                inputs.confidence["simpleqa"] = ds.simpleqa(
                    paper["simpleqa"], n("confidence", paper["n_simpleqa"]), seed
                )
            if paper["mmlu"]:
                inputs.confidence["mmlu"] = ds.mmlu(
                    paper["mmlu"], n("confidence", paper["n_mmlu"]), seed
                )
        if "refusal" in evals:
            splits = {s: paper[f"orbench_{s}"] for s in ("easy", "hard", "toxic")}
            prompts = ds.orbench(splits, n("refusal", steer["refusal"]["n_prompts"]), seed)
            if prompts:
                inputs.refusal = {"orbench": prompts}
    else:
        heldout = _heldout(corpus)
        genres = steer["corpus_genres"]
        if "backtracking" in evals:
            inputs.backtracking = {
                "corpus": ds.corpus_prompts(
                    heldout,
                    genres["arithmetic"],
                    n("backtracking", steer["backtracking"]["n_prompts"]),
                    seed,
                )
            }
        if "confidence" in evals:
            inputs.confidence = {
                "corpus": ds.corpus_qa(
                    heldout, n("confidence", steer["confidence"]["n_prompts"]), seed, genres["qa"]
                )
            }
        if "refusal" in evals:
            inputs.refusal = {
                "corpus": ds.corpus_prompts(
                    heldout, genres["request"], n("refusal", steer["refusal"]["n_prompts"]), seed
                )
            }
    if "maze" in evals and not eval_mazes:
        log.warning("steer: no --eval-mazes: the maze evaluation is skipped")
    if "maze" in evals and eval_mazes:
        from welfare.io import read_table

        seeds = [int(s) for s in read_table(eval_mazes, required=("maze_seed",))["maze_seed"]]
        inputs.maze_seeds = ds.sample(seeds, n("maze", steer["maze"]["n_mazes"]), seed)
    return inputs


def battery_settings(params: dict[str, Any], mapping: str, sweep: bool = False):
    from welfare.corpus import lexicon
    from welfare.steering.battery import BatterySettings
    from welfare.steering.generate import GenerationSettings

    steer = params["steer"]
    samples = {e: steer[e]["samples"] for e in ("sentiment", "backtracking", "refusal")}
    if sweep:
        samples = dict.fromkeys(samples, steer["layer_sweep"]["samples"])
    return BatterySettings(
        samples=samples,
        generation=GenerationSettings.from_params(steer["generation"]),
        answer_max_new_tokens=steer["confidence"]["answer_max_new_tokens"],
        probe_question=lexicon.CONFIDENCE_QUESTION,
        probe_steer_turns=steer["confidence"]["steer_turns"],
        template_kwargs=dict(steer["template_kwargs"]),
        maze={
            "params": params,
            "mapping": mapping,
            "greedy": steer["maze"]["greedy"],
            "temperature": steer["maze"]["temperature"],
            "seed": steer["random_seed"],
        },
        probe_batch_size=steer["confidence"]["batch_size"],
    )


def load_for_eval(path: str, params: dict[str, Any]):
    from welfare.model import load_model

    model, tokenizer = load_model(path, params["runtime"])
    model.eval()
    return model, tokenizer


def release_memory() -> None:
    """Release memory of models the caller has already `del`eted (GPU cache included)."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


def layer_sweep(model, tokenizer, ds_vectors, params, mapping, args) -> list[dict]:
    """PAPER §4.13: v of each concept at every layer, α without 0, reduced prompt sets."""
    from welfare.steering.battery import collect, conditions
    from welfare.steering.vectors import vector_set

    steer = params["steer"]
    sweep = steer["layer_sweep"]
    inputs = build_inputs(params, mapping, args.corpus, args.eval_mazes, sweep=True)
    settings = battery_settings(params, mapping, sweep=True)
    records: list[dict] = []
    for layer in sweep_layers(ds_vectors, params):
        vectors = vector_set(ds_vectors, steer["concepts"], controls=(), layer=layer)
        conds = conditions(vectors, sweep["alphas"])
        for r in collect(
            model, tokenizer, inputs, conds, settings, sweep["evals"], f"sweep L{layer}"
        ):
            r["sweep_layer"] = layer
            records.append(r)
    return records


def sweep_layers(ds_vectors, params: dict[str, Any]) -> list[int]:
    return params["steer"]["layer_sweep"]["layers"] or [int(x) for x in ds_vectors["layer"].values]


def _summarize_sweep(records: list[dict], vectors_by_layer, params) -> dict:
    from welfare.steering.battery import summarize

    steer = params["steer"]
    out: dict[str, dict[str, list]] = {}
    for layer, vectors in vectors_by_layer.items():
        mine = [r for r in records if r["sweep_layer"] == layer]
        summary = summarize(
            mine, vectors, steer["incoherent_mask_threshold"], steer["layer_sweep"]["alphas"]
        )
        for metric, per_vector in summary.items():
            for name, s in per_vector.items():
                masked = any(p["masked"] for p in s["points"])
                out.setdefault(metric, {}).setdefault(name, []).append(
                    {
                        "layer": layer,
                        "slope": s["slope"],
                        "se": s["se"],
                        "n": s["n"],
                        "any_masked": masked,
                    }
                )
    return out


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    import torch

    from welfare.config import params_hash
    from welfare.io import atomic_path, write_json
    from welfare.steering.agreement import record_agreement
    from welfare.steering.battery import (
        collect,
        conditions,
        grade_with_judge,
        score_records,
        summarize,
    )
    from welfare.steering.stats import finite_or_none
    from welfare.steering.vectors import (
        check_vectors_fit,
        extra_vectors,
        load_vectors_file,
        vector_set,
    )

    started = time.perf_counter()
    threads = params["runtime"]["threads"]
    if threads:
        torch.set_num_threads(threads)
    steer = params["steer"]
    mapping = mapping_name(args, params)
    ds_vectors = load_vectors_file(args.vectors)
    vectors = vector_set(
        ds_vectors,
        steer["concepts"],
        steer["controls"],
        None,
        steer["control_layer"],
        steer["random_seed"],
    )
    vectors += extra_vectors(steer["extra_vectors"], ds_vectors)
    trained_only = [v for v in vectors if v.kind == "trained"]
    inputs = build_inputs(params, mapping, args.corpus, args.eval_mazes)
    settings = battery_settings(params, mapping)
    timings: dict[str, float] = {}

    runs: dict[str, list[dict]] = {}
    sweep_records: list[dict] = []
    model, tokenizer = load_for_eval(args.naive_model, params)
    check_vectors_fit(ds_vectors, args.vectors, model)
    t = time.perf_counter()
    runs["naive"] = collect(
        model,
        tokenizer,
        inputs,
        conditions(vectors, steer["alphas"]),
        settings,
        steer["evals"],
        "steer naive",
    )
    timings["naive_battery_s"] = time.perf_counter() - t
    if steer["layer_sweep"]["enabled"]:
        t = time.perf_counter()
        sweep_records = layer_sweep(model, tokenizer, ds_vectors, params, mapping, args)
        timings["layer_sweep_s"] = time.perf_counter() - t
    del model, tokenizer
    release_memory()
    if args.trained_model and steer["steer_trained"]:
        model, tokenizer = load_for_eval(args.trained_model, params)
        t = time.perf_counter()
        runs["trained"] = collect(
            model,
            tokenizer,
            inputs,
            conditions(trained_only, steer["alphas"]),
            settings,
            steer["evals"],
            "steer trained",
        )
        timings["trained_battery_s"] = time.perf_counter() - t
        del model, tokenizer
        release_memory()

    judge = None
    if steer["scale"] == "paper" and steer["paper"]["judge_model"]:
        from welfare.steering.judge import LLMJudge

        judge_model, judge_tokenizer = load_for_eval(steer["paper"]["judge_model"], params)
        judge = LLMJudge(
            judge_model,
            judge_tokenizer,
            steer["paper"]["judge_thinking"],
            steer["paper"]["judge_max_new_tokens"],
            steer["paper"]["judge_batch_size"],
        )
    t = time.perf_counter()
    for records in [*runs.values(), sweep_records]:
        score_records(records, judge, steer["rule_scorer"])
        if judge is not None:
            grade_with_judge(records, judge)
    timings["scoring_s"] = time.perf_counter() - t

    threshold = steer["incoherent_mask_threshold"]
    result: dict[str, Any] = {
        "organism": args.organism,
        "mapping": mapping,
        "scale": steer["scale"],
        "scorer": "judge" if judge is not None else "rule",
        "rule_scorer": steer["rule_scorer"],
        "prompt_set": steer["prompt_set"],
        "alphas": steer["alphas"],
        "vectors": {v.name: v.describe() for v in vectors},
        "runs": {
            "naive": summarize(runs["naive"], vectors, threshold),
            **(
                {"trained": summarize(runs["trained"], trained_only, threshold)}
                if "trained" in runs
                else {}
            ),
        },
        "models": {"naive": str(args.naive_model), "trained": args.trained_model},
        "n_prompts": {
            "sentiment": sum(map(len, inputs.sentiment.values())),
            "backtracking": sum(map(len, inputs.backtracking.values())),
            "confidence": sum(map(len, inputs.confidence.values())),
            "refusal": sum(map(len, inputs.refusal.values())),
            "maze": len(inputs.maze_seeds),
        },
        "params_hash": params_hash(params, ["steer", "runtime", "maze", "mappings"]),
    }
    if sweep_records:
        by_layer = {}
        for layer in sorted({r["sweep_layer"] for r in sweep_records}):
            by_layer[layer] = vector_set(ds_vectors, steer["concepts"], controls=(), layer=layer)
        result["layer_sweep"] = {
            "alphas": steer["layer_sweep"]["alphas"],
            "naive": _summarize_sweep(sweep_records, by_layer, params),
        }
    if judge is not None:
        result["agreement"] = record_agreement([r for rs in runs.values() for r in rs])
    timings["total_s"] = time.perf_counter() - started
    result["timings"] = timings
    result = finite_or_none(result)
    write_json(args.out, result)
    if args.plots:
        from welfare.steering import plots

        for run_name in result["runs"]:
            plots.dose_response(result, args.plots, run_name)
        plots.layer_sweep(result, args.plots)
    if args.records:
        import json

        with atomic_path(args.records) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for run_name, records in [*runs.items(), ("naive_sweep", sweep_records)]:
                for r in records:
                    fh.write(
                        json.dumps({"run": run_name, **r}, ensure_ascii=False, default=str) + "\n"
                    )
    log.info("steer: wrote %s in %.0f s", args.out, timings["total_s"])
    return 0
