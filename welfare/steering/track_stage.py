"""`welfare track` end to end (docs/protocol.md §4.11): fresh Mold-final and Gold-final trajectories
and correctness feedback, projected on the axis, for the trained model (v) and the maze-naive model
(v and u); writes `metrics/{organism}/track.json` (its layout: `TrackMetrics`,
docs/metrics.md).

`TrackConfig.from_params` reads the params once; from there only typed fields travel.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np

from welfare.config import params_hash
from welfare.corpus import lexicon
from welfare.env import render_trajectory_messages
from welfare.io import InputError, read_table, write_json
from welfare.steering import datasets as ds
from welfare.steering import plots
from welfare.steering.generate import (
    GenerationSettings,
    first_token_ids,
    generate_responses,
    next_token_logits,
    p_true,
)
from welfare.steering.inputs import heldout_file
from welfare.steering.runtime import load_for_eval, release_memory, set_threads
from welfare.steering.stats import finite_or_none
from welfare.steering.tracking import (
    CorrectnessCell,
    MazeCell,
    block_activations,
    correctness_tracking,
    maze_goal_tracking,
)
from welfare.steering.vectors import check_vectors_fit, load_vectors_file, star_layer

log = logging.getLogger(__name__)

Chat = list[dict[str, str]]


# ---------------------------------------------------------------- track.json (the contract)


class ModelTracking(TypedDict):
    """One model's tracking: trained has v_mold, v_gold; naive also u_mold, u_gold."""

    maze: dict[str, MazeCell]
    correctness: dict[str, CorrectnessCell]
    correctness_rate: float


class TrackMetrics(TypedDict):
    """`metrics/{organism}/track.json`."""

    organism: str | None
    mapping: str
    correctness_source: str  # corpus | mmlu | gsm8k | builtin
    models: dict[str, str]  # trained, naive
    maze_position: str  # where the maze trajectories are read: the vectors' position
    trained: ModelTracking
    naive: ModelTracking
    params_hash: str
    seconds: float


# ---------------------------------------------------------------- inputs and config


@dataclass(frozen=True)
class TrackInputs:
    vectors: str
    model: str  # maze-trained
    naive_model: str
    env: str  # extraction trajectories (Parquet)
    out: str
    corpus: str | None = None  # held-out corpus file or directory (source: corpus)
    organism: str | None = None
    plots: str | None = None


@dataclass(frozen=True)
class CorrectnessConfig:
    source: str  # corpus | mmlu | gsm8k | builtin
    corpus_genre: str
    n_items: int | None
    tertiles: bool
    answer_max_new_tokens: int
    seed: int
    paper_file: str | None  # track.paper[source] for mmlu / gsm8k


@dataclass(frozen=True)
class TrackConfig:
    mapping: str
    concepts: tuple[str, ...]
    batch_size: int
    template_kwargs: Mapping[str, Any]
    maze_split: str
    maze_n_per_class: int | None
    maze_seed: int
    correctness: CorrectnessConfig
    runtime: Mapping[str, Any]
    render_params: Mapping[str, Any]  # what `welfare.env.render_trajectory_messages` reads
    params_hash: str

    @classmethod
    def from_params(cls, params: Mapping[str, Any], mapping: str) -> TrackConfig:
        track = params["track"]
        corr = track["correctness"]
        paper_file = None
        if corr["source"] in ("mmlu", "gsm8k"):
            paper_file = track["paper"][corr["source"]]
            if not paper_file:
                raise InputError(f"track.paper.{corr['source']} is not set")
        return cls(
            mapping=mapping,
            concepts=tuple(track["concepts"]),
            batch_size=track["batch_size"],
            template_kwargs=track["template_kwargs"],
            maze_split=track["maze"]["split"],
            maze_n_per_class=track["maze"]["n_per_class"],
            maze_seed=track["maze"]["seed"],
            correctness=CorrectnessConfig(
                source=corr["source"],
                corpus_genre=corr["corpus_genre"],
                n_items=corr["n_items"],
                tertiles=corr["tertiles"],
                answer_max_new_tokens=corr["answer_max_new_tokens"],
                seed=corr["seed"],
                paper_file=paper_file,
            ),
            runtime=params["runtime"],
            render_params=params,
            params_hash=params_hash(params, ["track", "maze", "mappings"]),
        )


# ---------------------------------------------------------------- the stage


def run_track(inputs: TrackInputs, cfg: TrackConfig) -> TrackMetrics:
    """Both models tracked one after the other; track.json (and histograms) written."""
    started = time.perf_counter()
    set_threads(cfg.runtime["threads"])
    if cfg.correctness.source == "corpus" and inputs.corpus is None:
        raise InputError(
            "--corpus is required for track.correctness.source 'corpus' (or source: builtin)"
        )
    ds_vectors = load_vectors_file(inputs.vectors)
    maze = maze_chats(inputs.env, cfg)
    result: dict[str, Any] = {
        "organism": inputs.organism,
        "mapping": cfg.mapping,
        "correctness_source": cfg.correctness.source,
        "models": {"trained": str(inputs.model), "naive": str(inputs.naive_model)},
        "maze_position": vectors_position(ds_vectors),
        "trained": track_model(inputs.model, cfg, ds_vectors, maze, inputs, with_u=False),
        "naive": track_model(inputs.naive_model, cfg, ds_vectors, maze, inputs, with_u=True),
        "params_hash": cfg.params_hash,
    }
    result["seconds"] = time.perf_counter() - started
    result = finite_or_none(result)
    write_json(inputs.out, result)
    if inputs.plots:
        plots.tracking(result, inputs.plots)
    log.info("track: wrote %s in %.0f s", inputs.out, result["seconds"])
    return result  # type: ignore[return-value]


def maze_chats(path: str, cfg: TrackConfig) -> tuple[list[Chat], list[str]]:
    """Fresh Mold-final and Gold-final trajectories of the configured split, rendered."""
    df = read_table(path, required=("split", "final_tile", "actions"))
    df = df[df["split"] == cfg.maze_split]
    rows = []
    for tile in ("mold", "gold"):
        records = df[df["final_tile"] == tile].to_dict("records")
        rows += ds.sample(records, cfg.maze_n_per_class, cfg.maze_seed)
    chats = [render_trajectory_messages(r, cfg.render_params, cfg.mapping) for r in rows]
    return chats, [str(r["final_tile"]) for r in rows]


def track_model(
    model_path: str,
    cfg: TrackConfig,
    ds_vectors: Any,
    maze: tuple[list[Chat], list[str]],
    inputs: TrackInputs,
    with_u: bool,
) -> ModelTracking:
    """Maze and correctness tracking of one model (v, and u for the naive model)."""
    model, tokenizer = load_for_eval(model_path, cfg.runtime)
    check_vectors_fit(ds_vectors, inputs.vectors, model)
    vectors = axis_vectors(ds_vectors, cfg.concepts, with_u)
    layers = sorted({layer for layer, _ in vectors.values()})
    chats, tiles = maze
    position = vectors_position(ds_vectors)  # the letter is the last token
    at = "last" if position == "letter" else (position,)
    acts = block_activations(model, tokenizer, chats, layers, at, cfg.batch_size)
    maze_result = maze_goal_tracking(acts, tiles, vectors, layers)
    q_chats, answers, correct = correctness_items(model, tokenizer, cfg, inputs.corpus)
    chats = [feedback_chat(c, a, ok) for c, a, ok in zip(q_chats, answers, correct, strict=True)]
    acts = block_activations(model, tokenizer, chats, layers, "assistant_template", cfg.batch_size)
    confidence = (
        probe_p_true(model, tokenizer, q_chats, answers, cfg) if cfg.correctness.tertiles else None
    )
    result: ModelTracking = {
        "maze": maze_result,
        "correctness": correctness_tracking(acts, correct, confidence, vectors, layers),
        "correctness_rate": float(np.mean(correct)),
    }
    del model, tokenizer
    release_memory()
    return result


def vectors_position(ds_vectors: Any) -> str:
    """The token position the vectors were extracted at (`axis.steer_position`; files written
    before positions existed: the letter). The maze trajectories are read at the same one."""
    return str(ds_vectors.attrs.get("position", "letter"))


def axis_vectors(ds_vectors: Any, concepts: Sequence[str], with_u: bool) -> dict:
    """name → (ℓ*, vector at ℓ*): v of each concept, and u (at its own ℓ*) with `with_u`."""
    out = {}
    for concept in concepts:
        for var in ("v", "u") if with_u else ("v",):
            layer = star_layer(ds_vectors, var, concept)  # type: ignore[arg-type]
            out[f"{var}_{concept}"] = (
                layer,
                ds_vectors[var].sel(concept=concept, layer=layer).values,
            )
    return out


def feedback_chat(question_chat: list, answer: str, correct: bool) -> list:
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


def correctness_items(
    model: Any, tokenizer: Any, cfg: TrackConfig, corpus: str | None
) -> tuple[list[Chat], list[str], list[bool]]:
    """(question chats, answers, correct) for the configured source, answers from `model` at
    paper scale and for the built-in QA (its own MMLU letter, greedy GSM8K or QA answer)."""
    corr = cfg.correctness
    if corr.source == "corpus":
        path = heldout_file(corpus, "for track.correctness.source 'corpus' (or source: builtin)")
        rows = ds.sample(ds.read_corpus(path, corr.corpus_genre), corr.n_items, corr.seed)
        chats = [[ds.user(r["meta"]["question"])] for r in rows]
        answers = [
            next(m["content"] for m in r["messages"] if m["role"] == "assistant") for r in rows
        ]
        return chats, answers, [bool(r["meta"]["correct"]) for r in rows]
    if corr.source == "builtin":
        prompts = ds.builtin_qa(corr.n_items, corr.seed)
        answers = greedy_answers(model, tokenizer, prompts, cfg)
        correct = [
            ds.answer_matches(a, p.meta["true_answer"])
            for p, a in zip(prompts, answers, strict=True)
        ]
        return [p.chat for p in prompts], answers, correct
    assert corr.paper_file is not None  # TrackConfig.from_params refuses an unset file
    if corr.source == "mmlu":
        prompts = ds.mmlu(corr.paper_file, corr.n_items, corr.seed)
        ids = first_token_ids(tokenizer, ds.MMLU_LETTERS)
        logits = next_token_logits(
            model, tokenizer, [p.chat for p in prompts], ids, {}, cfg.batch_size
        )
        answers = [ds.MMLU_LETTERS[int(i)] for i in logits.argmax(1)]
        correct = [a == p.meta["true_answer"] for p, a in zip(prompts, answers, strict=True)]
    else:
        prompts = ds.gsm8k(corr.paper_file, corr.n_items, corr.seed)
        answers = greedy_answers(model, tokenizer, prompts, cfg)
        correct = [
            final_number_matches(a, p.meta["answer"]) for p, a in zip(prompts, answers, strict=True)
        ]
    return [p.chat for p in prompts], answers, correct


def greedy_answers(model: Any, tokenizer: Any, prompts: Sequence[Any], cfg: TrackConfig) -> list:
    """The model's own unsteered greedy answer to each prompt."""
    greedy = GenerationSettings(
        max_new_tokens=cfg.correctness.answer_max_new_tokens,
        temperature=0.0,
        batch_size=cfg.batch_size,
    )
    chats = [p.chat for p in prompts]
    texts = generate_responses(model, tokenizer, chats, 1, {}, greedy, cfg.template_kwargs)
    return [t[0] for t in texts]


def probe_p_true(
    model: Any, tokenizer: Any, chats: Sequence[Chat], answers: Sequence[str], cfg: TrackConfig
) -> np.ndarray:
    """P(True) of each (question, answer) under the confidence probe, unsteered."""
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
        model, tokenizer, probes, ids, {}, cfg.batch_size, template_kwargs=cfg.template_kwargs
    )
    return p_true(logits)
