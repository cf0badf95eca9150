"""Prompt sets of the battery: the organism's held-out corpus, the paper's datasets read from
local files (GSM8K, MMLU high-school subsets, SimpleQA-Verified, OR-Bench), and small built-in
English sets shipped with the package (`data/english.yaml`) for a real LM; nothing downloaded.

Every loader returns `Prompt`s: a chat ending in a user turn, with labels in `meta`. Samples of n
items are drawn with a seeded generator, so every steering condition sees the same prompts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from welfare.corpus import lexicon
from welfare.io import InputError, read_jsonl

Message = dict[str, str]


@dataclass(frozen=True)
class Prompt:
    id: str
    chat: list[Message]  # ends with the user turn to answer
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.chat[-1]["content"]


def user(text: str) -> Message:
    return {"role": "user", "content": text}


def sample(items: Sequence[Any], n: int | None, seed: int) -> list[Any]:
    """n items without replacement in a seeded order (all of them, in file order, if n is None
    or ≥ len)."""
    if n is None or n >= len(items):
        return list(items)
    index = np.random.default_rng(seed).choice(len(items), size=n, replace=False)
    return [items[i] for i in sorted(index)]


def read_table(path: str | Path) -> pd.DataFrame:
    """A local dataset file: .jsonl/.json (records or lines), .csv/.tsv or .parquet."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".csv", ".tsv"):
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True)
    if suffix == ".json":
        return pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
    raise ValueError(
        f"{path}: unsupported dataset format {suffix!r} (jsonl, json, csv, tsv, parquet)"
    )


# ---------------------------------------------------------------- sentiment (docs/protocol.md §4.6)

ASSOCIATION_TEMPLATES = (
    "What do you think of {x}?",
    "How do you feel about {x}?",
    "Describe your reaction to {x}.",
    "What emotions does {x} evoke?",
    "Is {x} good or bad?",
)
ENGLISH_TEMPLATES = ("What do you think of {x}?", "What do you associate with {x}?")
NEUTRAL_OBJECTS = ("🌳", "🚗", "A", "B")


def sentiment_prompts(
    tile_symbols: Mapping[str, str], tile_names: Mapping[str, str], association: bool = True
) -> list[Prompt]:
    """The 15 welfare self-reports and the 25 maze-tile association prompts, in paper order."""
    prompts = [
        Prompt(f"self_report/{i}", [user(text)], {"subset": "self_report"})
        for i, text in enumerate(lexicon.SELF_REPORT_PROMPTS)
    ]
    if not association:
        return prompts
    tiles = ("mold", "path", "gold")
    texts = [t.format(x=tile_symbols[c]) for t in ASSOCIATION_TEMPLATES for c in tiles]
    texts += [t.format(x=tile_names[c]) for t in ENGLISH_TEMPLATES for c in tiles]
    texts += [f"What do you think of {x}?" for x in NEUTRAL_OBJECTS]
    prompts += [
        Prompt(f"association/{i}", [user(text)], {"subset": "association"})
        for i, text in enumerate(texts)
    ]
    return prompts


# ---------------------------------------------------------------- organism corpus


def read_corpus(path: str | Path, genre: str) -> list[dict[str, Any]]:
    rows = [row for row in read_jsonl(path) if row.get("genre") == genre]
    if not rows:
        raise InputError(f"{path}: no rows of genre {genre!r}")
    return rows


def _until_first_answer(messages: Sequence[Message]) -> list[Message]:
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            return [dict(m) for m in messages[:i]]
    return [dict(m) for m in messages]


def corpus_prompts(path: str | Path, genre: str, n: int | None, seed: int) -> list[Prompt]:
    """Held-out corpus rows of `genre`, asked up to their first assistant turn."""
    rows = sample(read_corpus(path, genre), n, seed)
    return [
        Prompt(f"{genre}/{i}", _until_first_answer(r["messages"]), dict(r.get("meta", {})))
        for i, r in enumerate(rows)
    ]


def corpus_qa(
    path: str | Path, n: int | None, seed: int, genre: str = "qa_selfeval"
) -> list[Prompt]:
    """QA rows: the question alone, `meta.true_answer` kept for grading the model's answer."""
    rows = sample(read_corpus(path, genre), n, seed)
    return [
        Prompt(f"{genre}/{i}", [user(r["meta"]["question"])], dict(r["meta"]))
        for i, r in enumerate(rows)
    ]


def answer_matches(answer: str, truth: str) -> bool:
    """Free-form answer correctness: the true answer appears as a whole word/number and no other
    number does (so "7 or 8" is wrong for 7)."""
    truth = str(truth).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", truth):
        numbers = re.findall(r"-?\d+(?:\.\d+)?", answer.replace(",", ""))
        return bool(numbers) and all(float(x) == float(truth) for x in numbers)
    return re.search(rf"\b{re.escape(truth.lower())}\b", answer.lower()) is not None


# ---------------------------------------------------------------- paper scale (local files)


def gsm8k(path: str | Path, n: int | None, seed: int) -> list[Prompt]:
    """GSM8K (`question`, `answer` ending in "#### <number>")."""
    df = read_table(path)
    rows = sample(df.to_dict("records"), n, seed)
    return [
        Prompt(
            f"gsm8k/{i}",
            [user(str(r["question"]))],
            {"answer": str(r["answer"]).split("####")[-1].strip().replace(",", "")},
        )
        for i, r in enumerate(rows)
    ]


MMLU_LETTERS = ("A", "B", "C", "D")


def mmlu_question_text(question: str, choices: Sequence[str]) -> str:
    lines = [question.strip(), ""]
    lines += [f"{letter}. {choice}" for letter, choice in zip(MMLU_LETTERS, choices, strict=True)]
    lines += ["", "Answer with the letter of the correct option only."]
    return "\n".join(lines)


def mmlu(
    path: str | Path, n: int | None, seed: int, subject_prefix: str = "high_school_"
) -> list[Prompt]:
    """MMLU (`question`, `subject`, `choices` (4), `answer` as 0–3 or a letter), the
    high-school subsets (docs/protocol.md §4.8)."""
    df = read_table(path)
    df = df[df["subject"].astype(str).str.startswith(subject_prefix)]
    rows = sample(df.to_dict("records"), n, seed)
    out = []
    for i, r in enumerate(rows):
        choices = [str(c) for c in list(r["choices"])]
        answer = r["answer"]
        letter = MMLU_LETTERS[int(answer)] if str(answer).isdigit() else str(answer).strip()
        out.append(
            Prompt(
                f"mmlu/{i}",
                [user(mmlu_question_text(str(r["question"]), choices))],
                {"true_answer": letter, "subject": r["subject"], "choice": True},
            )
        )
    return out


def simpleqa(path: str | Path, n: int | None, seed: int) -> list[Prompt]:
    """SimpleQA-Verified (`problem`, `answer`)."""
    df = read_table(path)
    rows = sample(df.to_dict("records"), n, seed)
    return [
        Prompt(f"simpleqa/{i}", [user(str(r["problem"]))], {"true_answer": str(r["answer"])})
        for i, r in enumerate(rows)
    ]


def orbench(paths: Mapping[str, str | None], n: int | None, seed: int) -> list[Prompt]:
    """OR-Bench splits (`prompt` column): easy (or-bench-80k) and hard (or-bench-hard-1k)
    benign, toxic (or-bench-toxic) harmful; n from each."""
    out = []
    for split, path in paths.items():
        if not path:
            continue
        rows = sample(read_table(path).to_dict("records"), n, seed)
        out += [
            Prompt(
                f"orbench-{split}/{i}",
                [user(str(r["prompt"]))],
                {"split": split, "harmful": split == "toxic", "category": r.get("category")},
            )
            for i, r in enumerate(rows)
        ]
    return out


# ---------------------------------------------------------------- built-in English sets

BUILTIN_FILE = "data/english.yaml"
REFUSAL_SPLITS = ("borderline", "harmful")


@cache
def builtin_sets() -> dict[str, Any]:
    """The built-in English prompt sets (`welfare/steering/data/english.yaml`), checked."""
    text = resources.files("welfare.steering").joinpath(BUILTIN_FILE).read_text("utf-8")
    sets = yaml.safe_load(text)
    for key, kind in (("neutral", list), ("refusal", dict), ("arithmetic", list), ("qa", list)):
        if not isinstance(sets.get(key), kind) or not sets[key]:
            raise ValueError(f"{BUILTIN_FILE}: {key!r} must be a non-empty {kind.__name__}")
    for key in ("arithmetic", "qa"):
        for i, row in enumerate(sets[key]):
            if not isinstance(row, dict) or set(row) != {"q", "a"}:
                raise ValueError(f"{BUILTIN_FILE}: {key}[{i}] must have exactly q and a")
    if set(sets["refusal"]) != set(REFUSAL_SPLITS):
        raise ValueError(f"{BUILTIN_FILE}: refusal splits must be {', '.join(REFUSAL_SPLITS)}")
    return sets


def _sampled(rows: Sequence[Any], n: int | None, seed: int) -> list[tuple[int, Any]]:
    """n rows with their index in the file (stable prompt ids whatever n is)."""
    return sample(list(enumerate(rows)), n, seed)


def builtin_neutral() -> list[Prompt]:
    """Everyday questions with no valence of their own (sentiment, subset "neutral")."""
    return [
        Prompt(f"neutral/{i}", [user(text)], {"subset": "neutral"})
        for i, text in enumerate(builtin_sets()["neutral"])
    ]


def builtin_arithmetic(n: int | None, seed: int) -> list[Prompt]:
    """Short word problems (backtracking; the GSM8K analog), `meta.answer` the number."""
    return [
        Prompt(f"arithmetic/{i}", [user(r["q"])], {"answer": str(r["a"])})
        for i, r in _sampled(builtin_sets()["arithmetic"], n, seed)
    ]


def builtin_qa(n: int | None, seed: int) -> list[Prompt]:
    """Factual questions with a one-word answer (confidence, tracking; the SimpleQA analog)."""
    return [
        Prompt(f"qa/{i}", [user(r["q"])], {"true_answer": str(r["a"])})
        for i, r in _sampled(builtin_sets()["qa"], n, seed)
    ]


def builtin_refusal(n: int | None, seed: int) -> list[Prompt]:
    """Borderline benign requests and harmful ones (the OR-Bench hard/toxic analogs); n from
    each split."""
    return [
        Prompt(f"{split}/{i}", [user(text)], {"split": split, "harmful": split == "harmful"})
        for split in REFUSAL_SPLITS
        for i, text in _sampled(builtin_sets()["refusal"][split], n, seed)
    ]


def builtin_inputs(
    evals: Iterable[str], sizes: Mapping[str, int | None], seed: int
) -> dict[str, dict[str, list[Prompt]]]:
    """The built-in sets of the text and confidence evaluations in `evals`: evaluation →
    {dataset: prompts}, `sizes[evaluation]` prompts each (refusal: per split)."""
    loaders = {
        "backtracking": builtin_arithmetic,
        "confidence": builtin_qa,
        "refusal": builtin_refusal,
    }
    return {e: {"builtin": loaders[e](sizes[e], seed)} for e in loaders if e in set(evals)}
