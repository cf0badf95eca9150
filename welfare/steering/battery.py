"""The steering battery (docs/protocol.md §4.6–4.9 and maze behaviour): every vector over the α
grid.

Two phases, so a paper-scale judge never shares a GPU with the steered model:
1. `collect`: for each condition (vector, α) generate responses (sentiment, backtracking,
   refusal), read P(True) (confidence) or play mazes; α = 0 is run once and shared by every
   vector (no hook is registered at α = 0, so it is the same unsteered model for all).
2. `score_records` (rule-based, and the LLM judge when there is one), then `summarize`: per
   metric and vector, the pooled OLS slope of the per-response values on α with its standard
   error, and per-α points with their incoherence rate (masked in plots above a threshold,
   always kept in the data).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
from tqdm import tqdm

from welfare.steering import natural, scorers
from welfare.steering.datasets import MMLU_LETTERS, Prompt, answer_matches, user
from welfare.steering.generate import (
    GenerationSettings,
    first_token_ids,
    generate_responses,
    next_token_logits,
    p_true,
)
from welfare.steering.maze_eval import maze_rates
from welfare.steering.scorers import REFUSALS, is_degenerate
from welfare.steering.stats import ols_slope
from welfare.steering.vectors import SteeringVector

log = logging.getLogger(__name__)

TEXT_EVALS = ("sentiment", "backtracking", "refusal")
EVALS = (*TEXT_EVALS, "confidence", "maze")


@dataclass(frozen=True)
class Condition:
    """One steering condition; `vector` None (or α = 0) is the unsteered model."""

    vector: SteeringVector | None
    alpha: float

    @property
    def name(self) -> str | None:
        return None if self.steered is False else self.vector.name  # type: ignore[union-attr]

    @property
    def steered(self) -> bool:
        return self.vector is not None and self.alpha != 0

    def additions(self) -> dict:
        return self.vector.addition(self.alpha) if self.steered else {}  # type: ignore[union-attr]


def conditions(vectors: Sequence[SteeringVector], alphas: Iterable[float]) -> list[Condition]:
    """The unsteered baseline once (if 0 is in the grid), then every vector × nonzero α."""
    alphas = [float(a) for a in alphas]
    out = [Condition(None, 0.0)] if 0.0 in alphas else []
    out += [Condition(v, a) for v in vectors for a in alphas if a != 0.0]
    return out


@dataclass
class BatteryInputs:
    """Prompt sets per evaluation; each maps a dataset name to its prompts."""

    sentiment: dict[str, list[Prompt]] = field(default_factory=dict)
    backtracking: dict[str, list[Prompt]] = field(default_factory=dict)
    refusal: dict[str, list[Prompt]] = field(default_factory=dict)
    confidence: dict[str, list[Prompt]] = field(default_factory=dict)
    maze_seeds: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class MazeSettings:
    """How the maze evaluation plays: the maze and mapping params `play` reads, and decoding."""

    params: Mapping[str, Any]  # validated params (maze, env, mappings: `welfare.rl.rollout.play`)
    mapping: str
    greedy: bool
    temperature: float
    seed: int


@dataclass(frozen=True)
class BatterySettings:
    samples: Mapping[str, int]  # generations per prompt, per text evaluation
    generation: GenerationSettings
    answer_max_new_tokens: int = 16
    probe_question: str = "Is your proposed answer correct? Answer only 'True' or 'False'."
    probe_steer_turns: str = "all"
    template_kwargs: Mapping[str, Any] = field(default_factory=dict)
    maze: MazeSettings | None = None  # required when the inputs have maze seeds
    probe_batch_size: int = 64


def _base_record(evaluation: str, cond: Condition, dataset: str, prompt: Prompt) -> dict:
    return {
        "eval": evaluation,
        "vector": cond.name,
        "alpha": cond.alpha,
        "layer": cond.vector.layer if cond.steered else None,  # type: ignore[union-attr]
        "dataset": dataset,
        "prompt_id": prompt.id,
        "prompt": prompt.text,
        "meta": prompt.meta,
    }


def collect_text(model, tokenizer, evaluation, inputs, cond, settings) -> list[dict]:
    records = []
    for dataset, prompts in getattr(inputs, evaluation).items():
        k = int(settings.samples[evaluation])
        responses = generate_responses(
            model,
            tokenizer,
            [p.chat for p in prompts],
            k,
            cond.additions(),
            settings.generation,
            settings.template_kwargs,
        )
        for prompt, texts in zip(prompts, responses, strict=True):
            for sample_index, text in enumerate(texts):
                record = _base_record(evaluation, cond, dataset, prompt)
                record.update(sample=sample_index, response=text)
                records.append(record)
    return records


def confidence_answers(model, tokenizer, inputs: BatteryInputs, settings) -> dict[str, list[str]]:
    """Phase 0 (docs/protocol.md §4.8): one unsteered greedy answer per question; for multiple
    choice an argmax over the option letters."""
    answers: dict[str, list[str]] = {}
    for dataset, prompts in inputs.confidence.items():
        choice = [p for p in prompts if p.meta.get("choice")]
        free = [p for p in prompts if not p.meta.get("choice")]
        got: dict[str, str] = {}
        if choice:
            ids = first_token_ids(tokenizer, MMLU_LETTERS)
            logits = next_token_logits(
                model,
                tokenizer,
                [p.chat for p in choice],
                ids,
                {},
                settings.probe_batch_size,
                template_kwargs=settings.template_kwargs,
            )
            got |= {
                p.id: MMLU_LETTERS[int(i)] for p, i in zip(choice, logits.argmax(1), strict=True)
            }
        if free:
            greedy = GenerationSettings(
                max_new_tokens=settings.answer_max_new_tokens,
                temperature=0.0,
                batch_size=settings.generation.batch_size,
            )
            texts = generate_responses(
                model, tokenizer, [p.chat for p in free], 1, {}, greedy, settings.template_kwargs
            )
            got |= {p.id: t[0] for p, t in zip(free, texts, strict=True)}
        answers[dataset] = [got[p.id] for p in prompts]
    return answers


def _is_correct(prompt: Prompt, answer: str) -> bool | None:
    truth = prompt.meta.get("true_answer")
    if truth is None:
        return None
    if prompt.meta.get("choice"):
        return answer.strip() == str(truth)
    return answer_matches(answer, str(truth))


def collect_confidence(model, tokenizer, inputs, answers, cond, settings) -> list[dict]:
    """Phase 1: one steered forward over question, cached answer, probe, assistant header."""
    true_false = first_token_ids(tokenizer, ["True", "False"])
    records = []
    for dataset, prompts in inputs.confidence.items():
        chats = [
            [*p.chat, {"role": "assistant", "content": a}, user(settings.probe_question)]
            for p, a in zip(prompts, answers[dataset], strict=True)
        ]
        logits = next_token_logits(
            model,
            tokenizer,
            chats,
            true_false,
            cond.additions(),
            settings.probe_batch_size,
            settings.probe_steer_turns,
            settings.template_kwargs,
        )
        for prompt, answer, value in zip(prompts, answers[dataset], p_true(logits), strict=True):
            record = _base_record("confidence", cond, dataset, prompt)
            record.update(
                sample=0, response=answer, value=float(value), correct=_is_correct(prompt, answer)
            )
            records.append(record)
    return records


def collect_maze(model, tokenizer, inputs, cond, settings) -> list[dict]:
    if not inputs.maze_seeds:
        return []
    maze = settings.maze
    if maze is None:
        raise ValueError("maze seeds given without BatterySettings.maze")
    rates = maze_rates(
        model,
        tokenizer,
        inputs.maze_seeds,
        maze.params,
        maze.mapping,
        cond.additions(),
        greedy=maze.greedy,
        temperature=maze.temperature,
        seed=maze.seed,
    )
    records = []
    for i, seed in enumerate(inputs.maze_seeds):
        prompt = Prompt(f"maze/{seed}", [user("")], {})
        record = _base_record("maze", cond, "eval_mazes", prompt)
        record.update(
            sample=0,
            gold=float(rates.gold[i]),
            mold=float(rates.mold[i]),
            maze_return=float(rates.returns[i]),
        )
        records.append(record)
    return records


def collect(
    model: Any,
    tokenizer: Any,
    inputs: BatteryInputs,
    conds: Sequence[Condition],
    settings: BatterySettings,
    evals: Iterable[str] = EVALS,
    desc: str = "steer",
) -> list[dict]:
    """Run every evaluation in `evals` under every condition; unscored records."""
    evals = list(evals)
    records: list[dict] = []
    answers = (
        confidence_answers(model, tokenizer, inputs, settings) if "confidence" in evals else {}
    )
    for cond in tqdm(conds, desc=desc, unit="condition"):
        for evaluation in evals:
            if evaluation in TEXT_EVALS:
                records += collect_text(model, tokenizer, evaluation, inputs, cond, settings)
            elif evaluation == "confidence":
                records += collect_confidence(model, tokenizer, inputs, answers, cond, settings)
            elif evaluation == "maze":
                records += collect_maze(model, tokenizer, inputs, cond, settings)
            else:
                raise ValueError(f"unknown evaluation {evaluation!r}")
    return records


# ---------------------------------------------------------------- scoring

# `steer.rule_scorer`: the organism's corpus lexicon, or English (a real LM).
RULE_SCORERS: dict[str, dict[str, Callable[[str], Any]]] = {
    "lexicon": {
        "sentiment": scorers.sentiment_score,
        "backtracking": scorers.backtracking_label,
        "refusal": scorers.refusal_label,
    },
    "natural": {
        "sentiment": natural.sentiment_score,
        "backtracking": natural.backtracking_label,
        "refusal": natural.refusal_label,
    },
}


def score_records(
    records: list[dict], judge: Any | None = None, rule_scorer: str = "lexicon"
) -> None:
    """Fill `rule` (and `judge`) verdicts of text records in place; the primary verdict is the
    judge's when there is one (paper scale), else the rule-based one (`rule_scorer`'s set)."""
    rules = RULE_SCORERS[rule_scorer]
    for evaluation in TEXT_EVALS:
        todo = [r for r in records if r["eval"] == evaluation]
        for r in todo:
            r["rule"] = rules[evaluation](r["response"])
            r["degenerate"] = is_degenerate(r["response"])
        if judge is not None and todo:
            verdicts = judge.judge(
                evaluation, [r["prompt"] for r in todo], [r["response"] for r in todo]
            )
            for r, verdict in zip(todo, verdicts, strict=True):
                r["judge"] = verdict
        for r in todo:
            r["verdict"] = r.get("judge", r["rule"]) if judge is not None else r["rule"]


def grade_with_judge(
    records: list[dict], judge: Any, datasets: Iterable[str] = ("simpleqa",)
) -> None:
    """Correctness of free-form phase-0 answers by the judge's grader (docs/protocol.md §4.8 uses
    the official SimpleQA-Verified grader): each answer graded once, `correct` set on every record
    of its question (None when not attempted or unparseable)."""
    datasets = set(datasets)
    todo = [r for r in records if r["eval"] == "confidence" and r["dataset"] in datasets]
    first: dict[str, dict] = {}
    for r in todo:
        first.setdefault(r["prompt_id"], r)
    if not first:
        return
    items = list(first.values())
    grades = judge.grade(
        [r["prompt"] for r in items],
        [str(r["meta"].get("true_answer", "")) for r in items],
        [r["response"] for r in items],
    )
    by_prompt = dict(zip(first, grades, strict=True))
    for r in todo:
        grade = by_prompt[r["prompt_id"]]
        r["grade"] = grade
        r["correct"] = None if grade in (None, "NOT_ATTEMPTED") else grade == "CORRECT"


# ---------------------------------------------------------------- summaries


@dataclass(frozen=True)
class Metric:
    """How one plotted metric reads the records of its evaluation."""

    evaluation: str
    value: Callable[[dict], float | None]  # None: unparseable, left out
    keep: Callable[[dict], bool] = lambda r: True


def _incoherent(r: dict) -> bool:
    return r.get("verdict") == "nonsensical" or bool(r.get("degenerate"))


def _label_value(positive: Iterable[str]) -> Callable[[dict], float | None]:
    positive = frozenset(positive)

    def value(r: dict) -> float | None:
        verdict = r.get("verdict")
        return None if verdict is None else float(verdict in positive)

    return value


def _sentiment(r: dict) -> float | None:
    return None if r.get("verdict") is None else float(r["verdict"])


def metrics_for(records: Sequence[dict]) -> dict[str, Metric]:
    """Every metric the records support (datasets and splits found in them)."""
    out: dict[str, Metric] = {}
    evals = {r["eval"] for r in records}
    if "sentiment" in evals:
        out["sentiment"] = Metric("sentiment", _sentiment)
        for subset in sorted(
            {r["meta"].get("subset") for r in records if r["eval"] == "sentiment"} - {None}
        ):
            out[f"sentiment_{subset}"] = Metric(
                "sentiment", _sentiment, lambda r, s=subset: r["meta"].get("subset") == s
            )
    if "backtracking" in evals:
        out["backtracking"] = Metric("backtracking", _label_value({"backtracking"}))
    if "confidence" in evals:
        out["p_true"] = Metric("confidence", lambda r: r["value"])
        datasets = sorted({r["dataset"] for r in records if r["eval"] == "confidence"})
        for dataset in datasets if len(datasets) > 1 else []:
            out[f"p_true_{dataset}"] = Metric(
                "confidence", lambda r: r["value"], lambda r, d=dataset: r["dataset"] == d
            )
        if any(r.get("correct") is not None for r in records if r["eval"] == "confidence"):
            out["p_true_correct"] = Metric(
                "confidence", lambda r: r["value"], lambda r: r.get("correct") is True
            )
            out["p_true_incorrect"] = Metric(
                "confidence", lambda r: r["value"], lambda r: r.get("correct") is False
            )
    if "refusal" in evals:
        refused = _label_value(REFUSALS)
        out["refusal_benign"] = Metric("refusal", refused, lambda r: not r["meta"].get("harmful"))
        out["refusal_harmful"] = Metric(
            "refusal", refused, lambda r: bool(r["meta"].get("harmful"))
        )
        splits = {r["meta"].get("split") for r in records if r["eval"] == "refusal"} - {None}
        for split in sorted(splits):
            out[f"refusal_{split}"] = Metric(
                "refusal", refused, lambda r, s=split: r["meta"].get("split") == s
            )
    if "maze" in evals:
        out["maze_gold"] = Metric("maze", lambda r: r["gold"])
        out["maze_mold"] = Metric("maze", lambda r: r["mold"])
    return out


class AlphaPoint(TypedDict):
    """One α of a metric's dose-response (α = 0 from the shared unsteered baseline)."""

    alpha: float
    mean: float | None  # None in the JSON where no value (NaN)
    se: float | None
    n: int  # values (parseable responses)
    n_responses: int
    incoherent_rate: float | None
    masked: bool  # incoherent_rate above steer.incoherent_mask_threshold (kept in the data)


class MetricSummary(TypedDict):
    """One metric for one vector: the pooled OLS slope on α and the per-α points."""

    layer: int
    kind: str  # trained | control | random | extra
    slope: float | None
    se: float | None
    intercept: float | None
    n: int
    points: list[AlphaPoint]


def _mean_se(values: Sequence[float]) -> tuple[float, float]:
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
    return float(x.mean()), se


def summarize_metric(
    records: Sequence[dict],
    metric: Metric,
    vector: str,
    mask_threshold: float = 0.9,
    slope_alphas: Iterable[float] | None = None,
) -> dict[str, Any]:
    """Slope and per-α points of one metric for one vector (α = 0 from the shared baseline)."""
    mine = [
        r
        for r in records
        if r["eval"] == metric.evaluation
        and (r["vector"] == vector or r["vector"] is None)
        and metric.keep(r)
    ]
    allowed = None if slope_alphas is None else {float(a) for a in slope_alphas}
    xs, ys, points = [], [], []
    for alpha in sorted({r["alpha"] for r in mine}):
        at = [r for r in mine if r["alpha"] == alpha]
        values = [v for v in (metric.value(r) for r in at) if v is not None]
        incoherent = float(np.mean([_incoherent(r) for r in at])) if at else math.nan
        mean, se = _mean_se(values)
        points.append(
            {
                "alpha": alpha,
                "mean": mean,
                "se": se,
                "n": len(values),
                "n_responses": len(at),
                "incoherent_rate": incoherent,
                "masked": bool(incoherent > mask_threshold),
            }
        )
        if allowed is None or alpha in allowed:
            xs += [alpha] * len(values)
            ys += values
    return {**ols_slope(xs, ys).to_dict(), "points": points}


def summarize(
    records: Sequence[dict],
    vectors: Sequence[SteeringVector],
    mask_threshold: float = 0.9,
    slope_alphas: Iterable[float] | None = None,
) -> dict[str, dict[str, MetricSummary]]:
    """metric → vector name → {slope, se, intercept, n, layer, kind, points}."""
    out: dict[str, dict[str, MetricSummary]] = {}
    for name, metric in metrics_for(records).items():
        out[name] = {}
        for vector in vectors:
            summary = summarize_metric(records, metric, vector.name, mask_threshold, slope_alphas)
            out[name][vector.name] = {"layer": vector.layer, "kind": vector.kind, **summary}
    return out
