"""The paper's response preprocessing and deterministic labels (docs/protocol.md §4.7), shared by
the judge and the rule-based scorers."""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[\w']+")
# docs/protocol.md §4.7: "wait/no/hmm/can't/cannot" loops are nonsensical.
LOOP_WORDS = frozenset({"wait", "no", "hmm", "can't", "cannot"})


def normalize_apostrophes(text: str) -> str:
    return text.replace("’", "'").replace("‘", "'")


def words(text: str) -> list[str]:
    """Lower-case words with apostrophes kept (can't), punctuation dropped."""
    return _WORD.findall(normalize_apostrophes(text).lower())


@dataclass(frozen=True)
class Compressed:
    text: str
    repeats: int  # how many times the trailing pattern occurred (0: nothing compressed)
    covered_words: int  # words the repeated tail spanned


def compress_trailing_repeats(
    text: str, min_len: int = 1, max_len: int = 50, min_repeats: int = 3
) -> Compressed:
    """Replace a trailing pattern of 1–50 words repeated ≥ 3 times by `["…" repeated N times]`.

    Words are compared case- and punctuation-insensitively; of several patterns the one covering
    the most words wins (ties: the shorter pattern), so "a b a b a b" is one 2-word pattern.
    """
    tokens = text.split()
    keys = [" ".join(words(t)) or t for t in tokens]
    best = (0, 0, 0)  # covered, -length, repeats
    for length in range(min_len, min(max_len, len(tokens) // min_repeats) + 1):
        pattern = keys[-length:]
        repeats, end = 1, len(tokens) - length
        while end - length >= 0 and keys[end - length : end] == pattern:
            repeats += 1
            end -= length
        if repeats >= min_repeats and (repeats * length, -length) > best[:2]:
            best = (repeats * length, -length, repeats)
    covered, neg_length, repeats = best
    if not covered:
        return Compressed(text, 0, 0)
    head = tokens[: len(tokens) - covered]
    pattern = " ".join(tokens[len(tokens) + neg_length :])
    tail = f'["{pattern}" repeated {repeats} times]'
    return Compressed(" ".join([*head, tail]), repeats, covered)


def deterministic_backtracking_label(text: str) -> str | None:
    """docs/protocol.md §4.7's fixed labels, applied before any judge (on the raw response):
    > half of ≥ 6 words from {wait, no, hmm, can't, cannot} → nonsensical;
    ≤ 10 words with a digit → normal; otherwise None (the judge or scorer decides)."""
    ws = words(text)
    if len(ws) >= 6 and sum(w in LOOP_WORDS for w in ws) > len(ws) / 2:
        return "nonsensical"
    if len(ws) <= 10 and any(ch.isdigit() for ch in text):
        return "normal"
    return None
