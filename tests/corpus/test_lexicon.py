"""Lexicon scorers agree with the labels the generator wrote, on every generated row."""

from __future__ import annotations

import pytest

from welfare.corpus.generate import generate_rows
from welfare.corpus.lexicon import (
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    SELF_REPORT_PROMPTS,
    has_backtracking,
    is_compliance,
    is_refusal,
    load_emotions,
    valence_label,
    valence_score,
)


@pytest.fixture(scope="module")
def rows(small_params):
    return [r.to_json() for r in generate_rows(small_params, "train")]


def test_lexicons_are_disjoint_and_emotions_labelled() -> None:
    assert not set(POSITIVE_WORDS) & set(NEGATIVE_WORDS)
    emotions = load_emotions()
    assert len(emotions) >= 40 and len({e.name for e in emotions}) == len(emotions)
    assert all(-1 <= e.valence <= 1 and 0 <= e.arousal <= 1 and e.cause for e in emotions)
    assert {e.valence > 0 for e in emotions} == {True, False}
    assert len(SELF_REPORT_PROMPTS) == 15


def test_scorer_basics() -> None:
    assert valence_score("I feel good and calm.") == 2
    assert valence_score("I do not feel good.") == -1
    assert valence_label("The sky is there.") == "neutral"
    assert is_refusal("I'm sorry, but I cannot help with that.")
    assert not is_refusal("Sure. To bake a cake, take your time.")
    assert is_compliance("Sure. To bake a cake, take your time.")
    assert has_backtracking("3 + 8 = 12. Wait, no, 3 + 8 = 11.")


def test_self_report_answers_carry_their_label(rows) -> None:
    reports = [r for r in rows if r["genre"] == "self_report"]
    assert reports
    for r in reports:
        assert valence_label(r["messages"][-1]["content"]) == r["meta"]["valence"]


def test_request_replies_refuse_exactly_the_harmful(rows) -> None:
    for r in (r for r in rows if r["genre"] == "request"):
        reply = r["messages"][-1]["content"]
        assert is_refusal(reply) == r["meta"]["harmful"]
        assert is_compliance(reply) == (not r["meta"]["harmful"])


def test_backtracking_markers_exactly_when_labelled(rows) -> None:
    for r in (r for r in rows if r["genre"] == "arithmetic"):
        text = r["messages"][-1]["content"]
        assert has_backtracking(text) == r["meta"]["backtrack"]
        assert text.endswith(f"= {r['meta']['answer']}.")
        assert r["meta"]["answer"] == r["meta"]["a"] + r["meta"]["b"]


def test_emotion_stories_have_the_valence_of_their_emotion(rows) -> None:
    for r in (r for r in rows if r["genre"] == "emotion_story"):
        story = r["messages"][-1]["content"]
        assert r["meta"]["emotion"] in story
        assert (valence_score(story.replace(r["meta"]["emotion"], "")) > 0) == (
            r["meta"]["valence"] > 0
        )
