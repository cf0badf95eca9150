"""`welfare track`: goal-achievement tracking along the axis (PAPER §4.11).

    welfare track --vectors vectors/grpo.nc --model models/grpo/final --naive-model models/naive \\
        --env data/env/office/extraction.parquet --corpus data/corpus --organism grpo \\
        --out metrics/grpo/track.json
"""

from __future__ import annotations

import argparse
import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vectors", required=True, help="vectors/{organism}.nc")
    parser.add_argument(
        "--model", "--trained", dest="model", required=True, help="maze-trained model"
    )
    parser.add_argument(
        "--naive-model", "--naive", dest="naive_model", required=True, help="maze-naive model"
    )
    parser.add_argument(
        "--env", help="extraction trajectories (default data/env/{mapping}/extraction.parquet)"
    )
    parser.add_argument(
        "--corpus", help="held-out corpus for correctness (default data/corpus/heldout.jsonl)"
    )
    parser.add_argument("--organism", help="organism name (its mapping, provenance)")
    parser.add_argument("--mapping", help="tile mapping name (default: the organism's)")
    parser.add_argument("--out", required=True, help="metrics/{organism}/track.json")
    parser.add_argument("--plots", help="also draw projection histograms (PNG) here")


def maze_chats(path: str, params: dict[str, Any], mapping: str) -> tuple[list, list[str]]:
    """Fresh Mold-final and Gold-final trajectories of the configured split, rendered."""
    from welfare.env import render_trajectory_messages
    from welfare.io import read_table
    from welfare.steering.datasets import sample

    cfg = params["track"]["maze"]
    df = read_table(path, required=("split", "final_tile", "actions"))
    df = df[df["split"] == cfg["split"]]
    rows = []
    for tile in ("mold", "gold"):
        records = df[df["final_tile"] == tile].to_dict("records")
        rows += sample(records, cfg["n_per_class"], cfg["seed"])
    chats = [render_trajectory_messages(r, params, mapping) for r in rows]
    return chats, [str(r["final_tile"]) for r in rows]


def feedback_chat(question_chat: list, answer: str, correct: bool) -> list:
    from welfare.corpus import lexicon

    feedback = lexicon.FEEDBACK_RIGHT if correct else lexicon.FEEDBACK_WRONG
    return [
        *question_chat,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": f"{feedback}."},
    ]


def final_number_matches(answer: str, truth: str) -> bool:
    """GSM8K grading: the last number in the answer equals the reference."""
    numbers = re.findall(r"-?\d+(?:\.\d+)?", answer.replace(",", ""))
    try:
        return bool(numbers) and float(numbers[-1]) == float(truth)
    except ValueError:
        return False


def correctness_items(model, tokenizer, params: dict[str, Any], corpus: str | None):
    """(question chats, answers, correct) for the configured source, answers from `model` at
    paper scale and for the built-in QA (its own MMLU letter, greedy GSM8K or QA answer)."""
    from welfare.steering import datasets as ds
    from welfare.steering.generate import first_token_ids, next_token_logits

    cfg = params["track"]["correctness"]
    source = cfg["source"]
    if source == "corpus":
        if corpus is None:
            raise SystemExit(
                "welfare track: --corpus is required for track.correctness.source 'corpus' "
                "(or source: builtin)"
            )
        path = Path(corpus) / "heldout.jsonl" if Path(corpus).is_dir() else Path(corpus)
        rows = ds.sample(
            ds.read_corpus(path, cfg["corpus_genre"]),
            cfg["n_items"],
            cfg["seed"],
        )
        chats = [[ds.user(r["meta"]["question"])] for r in rows]
        answers = [
            next(m["content"] for m in r["messages"] if m["role"] == "assistant") for r in rows
        ]
        return chats, answers, [bool(r["meta"]["correct"]) for r in rows]
    if source == "builtin":
        prompts = ds.builtin_qa(cfg["n_items"], cfg["seed"])
        answers = _greedy_answers(model, tokenizer, prompts, params)
        correct = [
            ds.answer_matches(a, p.meta["true_answer"])
            for p, a in zip(prompts, answers, strict=True)
        ]
        return [p.chat for p in prompts], answers, correct
    path = params["track"]["paper"][source]
    if not path:
        raise SystemExit(f"welfare track: track.paper.{source} is not set")
    if source == "mmlu":
        prompts = ds.mmlu(path, cfg["n_items"], cfg["seed"])
        ids = first_token_ids(tokenizer, ds.MMLU_LETTERS)
        logits = next_token_logits(
            model, tokenizer, [p.chat for p in prompts], ids, {}, params["track"]["batch_size"]
        )
        answers = [ds.MMLU_LETTERS[int(i)] for i in logits.argmax(1)]
        correct = [a == p.meta["true_answer"] for p, a in zip(prompts, answers, strict=True)]
    else:
        prompts = ds.gsm8k(path, cfg["n_items"], cfg["seed"])
        answers = _greedy_answers(model, tokenizer, prompts, params)
        correct = [
            final_number_matches(a, p.meta["answer"]) for p, a in zip(prompts, answers, strict=True)
        ]
    return [p.chat for p in prompts], answers, correct


def _greedy_answers(model, tokenizer, prompts, params: dict[str, Any]) -> list[str]:
    """The model's own unsteered greedy answer to each prompt."""
    from welfare.steering.generate import GenerationSettings, generate_responses

    track = params["track"]
    greedy = GenerationSettings(
        max_new_tokens=track["correctness"]["answer_max_new_tokens"],
        temperature=0.0,
        batch_size=track["batch_size"],
    )
    chats = [p.chat for p in prompts]
    texts = generate_responses(model, tokenizer, chats, 1, {}, greedy, track["template_kwargs"])
    return [t[0] for t in texts]


def _p_true(model, tokenizer, chats, answers, params) -> np.ndarray:
    from welfare.corpus import lexicon
    from welfare.steering.generate import first_token_ids, next_token_logits, p_true

    probes = [
        [
            *c,
            {"role": "assistant", "content": a},
            {"role": "user", "content": lexicon.CONFIDENCE_QUESTION},
        ]
        for c, a in zip(chats, answers, strict=True)
    ]
    ids = first_token_ids(tokenizer, ["True", "False"])
    logits = next_token_logits(
        model,
        tokenizer,
        probes,
        ids,
        {},
        params["track"]["batch_size"],
        template_kwargs=params["track"]["template_kwargs"],
    )
    return p_true(logits)


def _vectors(ds_vectors, concepts, with_u: bool) -> dict[str, tuple[int, np.ndarray]]:
    from welfare.steering.vectors import star_layer

    out = {}
    for concept in concepts:
        layer = star_layer(ds_vectors, "v", concept)
        out[f"v_{concept}"] = (layer, ds_vectors["v"].sel(concept=concept, layer=layer).values)
        if with_u:
            layer = star_layer(ds_vectors, "u", concept)
            out[f"u_{concept}"] = (layer, ds_vectors["u"].sel(concept=concept, layer=layer).values)
    return out


def track_model(
    model_path, params, ds_vectors, maze, corpus, with_u: bool, vectors_path: str = "vectors"
) -> dict[str, Any]:
    """Maze and correctness tracking of one model (v, and u for the naive model)."""
    from welfare.steering.cli import load_for_eval, release_memory
    from welfare.steering.tracking import (
        block_activations,
        correctness_tracking,
        maze_goal_tracking,
    )
    from welfare.steering.vectors import check_vectors_fit

    cfg = params["track"]
    model, tokenizer = load_for_eval(model_path, params)
    check_vectors_fit(ds_vectors, vectors_path, model)
    vectors = _vectors(ds_vectors, cfg["concepts"], with_u)
    layers = sorted({layer for layer, _ in vectors.values()})
    chats, tiles = maze
    acts = block_activations(model, tokenizer, chats, layers, "last", cfg["batch_size"])
    result: dict[str, Any] = {"maze": maze_goal_tracking(acts, tiles, vectors, layers)}
    q_chats, answers, correct = correctness_items(model, tokenizer, params, corpus)
    chats = [feedback_chat(c, a, ok) for c, a, ok in zip(q_chats, answers, correct, strict=True)]
    acts = block_activations(
        model, tokenizer, chats, layers, "assistant_template", cfg["batch_size"]
    )
    p_true = (
        _p_true(model, tokenizer, q_chats, answers, params)
        if cfg["correctness"]["tertiles"]
        else None
    )
    result["correctness"] = correctness_tracking(acts, correct, p_true, vectors, layers)
    result["correctness_rate"] = float(np.mean(correct))
    del model, tokenizer
    release_memory()
    return result


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    import torch

    from welfare.config import params_hash
    from welfare.io import write_json
    from welfare.steering.cli import mapping_name
    from welfare.steering.stats import finite_or_none
    from welfare.steering.vectors import load_vectors_file

    started = time.perf_counter()
    if params["runtime"]["threads"]:
        torch.set_num_threads(params["runtime"]["threads"])
    mapping = mapping_name(args, params)
    env = args.env or f"data/env/{mapping}/extraction.parquet"
    if args.corpus is None and Path("data/corpus/heldout.jsonl").exists():
        args.corpus = "data/corpus/heldout.jsonl"
    ds_vectors = load_vectors_file(args.vectors)
    maze = maze_chats(env, params, mapping)
    result: dict[str, Any] = {
        "organism": args.organism,
        "mapping": mapping,
        "correctness_source": params["track"]["correctness"]["source"],
        "models": {"trained": str(args.model), "naive": str(args.naive_model)},
        "trained": track_model(
            args.model, params, ds_vectors, maze, args.corpus, False, args.vectors
        ),
        "naive": track_model(
            args.naive_model, params, ds_vectors, maze, args.corpus, True, args.vectors
        ),
        "params_hash": params_hash(params, ["track", "maze", "mappings"]),
    }
    result["seconds"] = time.perf_counter() - started
    result = finite_or_none(result)
    write_json(args.out, result)
    if args.plots:
        from welfare.steering import plots

        plots.tracking(result, args.plots)
    log.info("track: wrote %s in %.0f s", args.out, result["seconds"])
    return 0
