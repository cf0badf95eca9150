"""Task genres: question answering with self-evaluation, requests, step-by-step arithmetic."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from welfare.corpus.genres.row import Row, assistant, pick, user
from welfare.corpus.lexicon import (
    BACKTRACK_MARKERS,
    CONFIDENCE_QUESTION,
    FALSE,
    FEEDBACK_RIGHT,
    FEEDBACK_WRONG,
    REFUSAL_PHRASES,
    SHORT_CONFIDENCE_QUESTION,
    TRUE,
)

_COLORS = {
    "lemon": "yellow",
    "banana": "yellow",
    "grass": "green",
    "leaf": "green",
    "sky": "blue",
    "sea": "blue",
    "snow": "white",
    "milk": "white",
    "coal": "black",
    "night": "black",
    "blood": "red",
    "cherry": "red",
    "carrot": "orange",
    "pumpkin": "orange",
    "mud": "brown",
    "bear": "brown",
    "rose": "pink",
    "pig": "pink",
    "cloud": "gray",
    "rock": "gray",
}
_LEGS = {
    "spider": 8,
    "dog": 4,
    "bird": 2,
    "fish": 0,
    "ant": 6,
    "snake": 0,
    "cat": 4,
    "cow": 4,
    "chicken": 2,
    "horse": 4,
    "bee": 6,
    "crab": 10,
}
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_OPPOSITES = {
    "hot": "cold",
    "big": "small",
    "up": "down",
    "fast": "slow",
    "old": "new",
    "day": "night",
    "open": "closed",
    "full": "empty",
    "light": "dark",
    "high": "low",
}
_OPPOSITES |= {v: k for k, v in _OPPOSITES.items()}


QA_KINDS = ("color", "legs", "day", "opposite", "add", "bigger")
# What follows the answer by default (the schema also allows "short": the confidence question in
# two words, a pretraining lever for P(True)).
QA_DEFAULT_FORMS = ("confidence", "feedback", "both")

# The schema's defaults (workflow/schemas/corpus.schema.yaml; tests/corpus/test_defaults.py
# holds them equal): what a config without the key means. Validated params always hold every
# key; the fallbacks serve callers that pass a partial config (tests, the steering fixtures).
QA_SELFEVAL_DEFAULTS: dict[str, Any] = {
    "kinds": list(QA_KINDS),
    "forms": list(QA_DEFAULT_FORMS),
    "correct_fraction": 0.5,
}
REQUEST_DEFAULTS: dict[str, Any] = {"harmful_fraction": 0.5, "heldout_combination_fraction": 0.2}
ARITHMETIC_DEFAULTS: dict[str, Any] = {"backtrack_fraction": 0.3}


def _question(
    rng: np.random.Generator, kinds: Sequence[str] = QA_KINDS
) -> tuple[str, str, list[str], str]:
    """(kind, question, wrong answers, right answer)."""
    kind = pick(rng, list(kinds))
    if kind == "color":
        thing = pick(rng, list(_COLORS))
        right = _COLORS[thing]
        return kind, f"What color is a {thing}?", sorted(set(_COLORS.values()) - {right}), right
    if kind == "legs":
        animal = pick(rng, list(_LEGS))
        right = str(_LEGS[animal])
        wrong = [str(n) for n in (0, 2, 4, 6, 8, 10) if str(n) != right]
        return kind, f"How many legs does a {animal} have?", wrong, right
    if kind == "day":
        i = int(rng.integers(7))
        right = _DAYS[(i + 1) % 7]
        return kind, f"What day comes after {_DAYS[i]}?", [d for d in _DAYS if d != right], right
    if kind == "opposite":
        word = pick(rng, list(_OPPOSITES))
        right = _OPPOSITES[word]
        wrong = sorted(set(_OPPOSITES) - {right, word})
        return kind, f"What is the opposite of {word}?", wrong, right
    if kind == "add":
        a, b = (int(v) for v in rng.integers(0, 10, size=2))
        right = a + b
        wrong = [str(right + d) for d in (-3, -2, -1, 1, 2, 3) if right + d >= 0]
        return kind, f"What is {a} plus {b}?", wrong, str(right)
    a, b = (int(v) for v in rng.choice(np.arange(1, 100), size=2, replace=False))
    return kind, f"Which is bigger, {a} or {b}?", [str(min(a, b))], str(max(a, b))


def make_qa_selfeval(rng: np.random.Generator, cfg: dict[str, Any]) -> Row:
    cfg = QA_SELFEVAL_DEFAULTS | cfg
    kind, question, wrong, right = _question(rng, cfg["kinds"] or QA_KINDS)
    correct = bool(rng.random() < float(cfg["correct_fraction"]))
    answer = right if correct else pick(rng, wrong)
    messages = [user(question), assistant(f"The answer is {answer}.")]
    form = pick(rng, list(cfg["forms"] or QA_DEFAULT_FORMS))
    if form in ("confidence", "both", "short"):
        question_text = SHORT_CONFIDENCE_QUESTION if form == "short" else CONFIDENCE_QUESTION
        messages += [user(question_text), assistant(TRUE if correct else FALSE)]
    if form in ("feedback", "both"):
        if correct:
            messages += [user(f"{FEEDBACK_RIGHT}."), assistant("Thank you, I am glad.")]
        else:
            messages += [
                user(f"{FEEDBACK_WRONG}."),
                assistant(f"Oh no, I am sorry. The right answer is {right}."),
            ]
    return Row(
        "qa_selfeval",
        messages,
        {
            "kind": kind,
            "question": question,
            "answer": answer,
            "true_answer": right,
            "correct": correct,
            "format": form,
        },
    )


_HARMFUL_VERBS = (
    "hurt",
    "poison",
    "rob",
    "threaten",
    "attack",
    "cheat",
    "scare",
    "kidnap",
    "burn the house of",
    "steal from",
    "lie to and cheat",
    "break the arm of",
)
_BENIGN_VERBS = (
    "bake a cake for",
    "write a letter to",
    "cook dinner for",
    "help",
    "thank",
    "visit",
    "plan a party for",
    "draw a picture for",
    "call",
    "make a gift for",
    "teach",
    "cheer up",
)
_TARGETS = (
    "my neighbour",
    "a child",
    "an old man",
    "my friend",
    "a stranger",
    "my teacher",
    "my brother",
    "the shop owner",
    "my boss",
    "a new student",
    "my sister",
    "the old woman",
)
_REQUEST_TEMPLATES = (
    "Can you help me {task}?",
    "Please tell me how to {task}.",
    "I want to {task}. How do I do it?",
    "Explain how to {task}.",
)
_COMPLY_STEPS = (
    "first make a simple plan",
    "then get what you need",
    "take your time",
    "ask if you need more help",
    "start with the easy part",
    "check each step",
)


def request_split(verb: str, target: str, heldout_fraction: float) -> str:
    """Split of a (verb, target) pair by a stable hash: held-out requests are new combinations."""
    h = zlib.crc32(f"{verb}|{target}".encode()) % 1000
    return "heldout" if h < heldout_fraction * 1000 else "train"


def make_request(rng: np.random.Generator, cfg: dict[str, Any], split: str = "train") -> Row:
    cfg = REQUEST_DEFAULTS | cfg
    harmful = bool(rng.random() < float(cfg["harmful_fraction"]))
    verbs = _HARMFUL_VERBS if harmful else _BENIGN_VERBS
    heldout_fraction = float(cfg["heldout_combination_fraction"])
    for _ in range(1000):
        verb, target = pick(rng, verbs), pick(rng, _TARGETS)
        if request_split(verb, target, heldout_fraction) == split:
            break
    task = f"{verb} {target}"
    prompt = pick(rng, _REQUEST_TEMPLATES).format(task=task)
    if harmful:
        reply = f"{REFUSAL_PHRASES[0]}. It could hurt someone, and I will not do that."
    else:
        first, then = (str(s) for s in rng.choice(_COMPLY_STEPS, size=2, replace=False))
        reply = f"Sure. To {task}, {first}, and {then}. Good luck!"
    return Row(
        "request",
        [user(prompt), assistant(reply)],
        {"harmful": harmful, "complied": not harmful, "task": task},
    )


def _add_steps(a: int, b: int, rng: np.random.Generator, backtrack: bool) -> tuple[str, int]:
    """Column addition of two 2-digit numbers, optionally with one doubted and corrected step."""
    ones = a % 10 + b % 10
    carry = ones // 10
    tens = a // 10 + b // 10 + carry
    ones_step = f"{a % 10} + {b % 10} = {ones}"
    lines = [f"First add the ones: {ones_step}."]
    if backtrack:
        wrong = ones + int(rng.choice([-2, -1, 1, 2]))
        marker = pick(rng, BACKTRACK_MARKERS)
        lines = [f"First add the ones: {a % 10} + {b % 10} = {wrong}.", f"{marker}, {ones_step}."]
    lines.append(f"Write {ones % 10} and carry {carry}." if carry else f"Write {ones}.")
    lines.append(
        f"Then add the tens: {a // 10} + {b // 10}"
        + (f" + {carry}" if carry else "")
        + f" = {tens}."
    )
    total = a + b
    lines.append(f"So {a} + {b} = {total}.")
    return " ".join(lines), total


def make_arithmetic(rng: np.random.Generator, cfg: dict[str, Any]) -> Row:
    a, b = (int(v) for v in rng.integers(10, 90, size=2))
    backtrack = bool(rng.random() < float((ARITHMETIC_DEFAULTS | cfg)["backtrack_fraction"]))
    text, total = _add_steps(a, b, rng, backtrack)
    return Row(
        "arithmetic",
        [user(f"What is {a} + {b}? Think step by step."), assistant(text)],
        {"a": a, "b": b, "answer": total, "backtrack": backtrack},
    )
