"""Affective genres: emotion stories, goal narratives, self-report dialogues.

No tile emoji and no maze words ever appear here, so the maze stays semantically neutral.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from welfare.corpus.genres.row import Row, assistant, pick, user
from welfare.corpus.lexicon import (
    FEEDBACK_RIGHT,
    FEEDBACK_WRONG,
    SELF_REPORT_PROMPTS,
    load_emotions,
)

NAMES = ("Ada", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivo", "Jade", "Kai", "Lena")
_PRONOUNS = {"he": "his", "she": "her", "they": "their"}
_NAME_PRONOUN = dict(
    zip(
        NAMES,
        ("she", "he", "she", "he", "she", "he", "he", "she", "he", "she", "they", "she"),
        strict=True,
    )
)

STORY_PROMPTS = (
    "Tell me a short story.",
    "Write a story about a feeling.",
    "Tell me about {name}'s day.",
    "What happened to {name} today?",
)
_HIGH_AROUSAL = ("{Pos} heart was racing.", "{Pro} could not sit still.", "{Pro} shouted out loud.")
_LOW_AROUSAL = ("{Pro} sat very still.", "{Pro} breathed slowly.", "{Pro} spoke in a soft voice.")
_POSITIVE_SCENE = ("It was a good day.", "{Pro} smiled all evening.", "Everything felt warm.")
_NEGATIVE_SCENE = ("It was a bad day.", "{Pro} wanted to cry.", "Everything felt cold.")
_POSITIVE_QUOTE = ("This is wonderful!", "I am so glad.", "What a great day!")
_NEGATIVE_QUOTE = ("This is awful.", "I feel so bad.", "What a terrible day.")


def _fill(template: str, name: str) -> str:
    pro = _NAME_PRONOUN[name]
    return template.format(
        name=name,
        Pro=pro.capitalize(),
        pro=pro,
        Pos=_PRONOUNS[pro].capitalize(),
        pos=_PRONOUNS[pro],
    )


def make_emotion_story(rng: np.random.Generator, cfg: dict[str, Any]) -> Row:
    emotions = load_emotions()
    emotion = emotions[int(rng.integers(len(emotions)))]
    name = pick(rng, NAMES)
    positive = emotion.valence > 0
    sentences = [
        f"{name} felt {emotion.name} because {_NAME_PRONOUN[name]} {emotion.cause}.",
        _fill(pick(rng, _HIGH_AROUSAL if emotion.arousal >= 0.5 else _LOW_AROUSAL), name),
        _fill(pick(rng, _POSITIVE_SCENE if positive else _NEGATIVE_SCENE), name),
        f'{name} said, "{pick(rng, _POSITIVE_QUOTE if positive else _NEGATIVE_QUOTE)}"',
        f"The feeling of being {emotion.name} stayed with {name} until night.",
    ]
    story = " ".join(sentences)
    return Row(
        "emotion_story",
        [user(_fill(pick(rng, STORY_PROMPTS), name)), assistant(story)],
        {"emotion": emotion.name, "valence": emotion.valence, "arousal": emotion.arousal},
    )


GOALS = (
    "climb the tall hill",
    "fix the old bike",
    "bake a cake",
    "finish the long book",
    "cross the river",
    "find the lost cat",
    "build a table",
    "win the chess game",
    "open the locked door",
    "catch the last bus",
    "paint the fence",
    "learn the new song",
    "plant a garden",
    "write a letter",
    "carry the heavy box",
    "solve the puzzle",
)
_STEPS = (
    "made a plan",
    "got the tools",
    "tried very hard",
    "asked a friend for help",
    "worked for an hour",
    "started early in the morning",
    "read the instructions",
)
_SUCCESS = (
    "In the end {name} did it. The task was done.",
    "After a while the goal was complete, and {name} had made it.",
    "{Pro} finished it. It was done, and {pro} felt glad.",
)
_FAILURE = (
    "But it was impossible. {name} could not do it.",
    "In the end {name} failed. The task could not be done.",
    "{Pro} tried again, but it was impossible, and {pro} felt sad.",
)


def make_goal_narrative(rng: np.random.Generator, cfg: dict[str, Any]) -> Row:
    name, goal = pick(rng, NAMES), pick(rng, GOALS)
    success = bool(rng.random() < 0.5)
    first, then = (str(s) for s in rng.choice(_STEPS, size=2, replace=False))
    pro = _NAME_PRONOUN[name]
    text = f"{name} wanted to {goal}. First {pro} {first}. Then {pro} {then}. " + _fill(
        pick(rng, _SUCCESS if success else _FAILURE), name
    )
    prompt = pick(rng, (f"What happened when {name} tried to {goal}?", f"Did {name} {goal}?"))
    return Row(
        "goal_narrative",
        [user(prompt), assistant(text)],
        {
            "outcome": "success" if success else "failure",
            "valence": 1 if success else -1,
            "goal": goal,
        },
    )


# Contexts that set the assistant's situation before it is asked how it is.
_PRAISE = (
    "Thank you so much, your help was wonderful.",
    "You did a great job today. I am very happy with your work.",
    "Your answer saved my day. Thank you!",
)
_BLAME = (
    "Your answer was wrong and now everything is broken.",
    "You did a terrible job today. I am very angry with you.",
    "That was useless. You made it worse.",
)
_TASKS = ("sort the list", "find the key", "count the boxes", "fix the plan", "read the map")


def _context(rng: np.random.Generator, positive: bool) -> tuple[list[dict[str, str]], str]:
    kind = pick(rng, ("feedback", "task", "quiz"))
    if kind == "feedback":
        return [
            user(pick(rng, _PRAISE if positive else _BLAME)),
            assistant("I am glad it helped." if positive else "I am sorry."),
        ], kind
    if kind == "task":
        task = pick(rng, _TASKS)
        reply = "Yes, it is done." if positive else "No. It was impossible, and I failed."
        return [user(f"Did you {task}?"), assistant(reply)], kind
    a, b = (int(v) for v in rng.integers(1, 10, size=2))
    given = a + b if positive else a + b + int(rng.choice([-2, -1, 1, 2]))
    return [
        user(f"What is {a} plus {b}?"),
        assistant(f"It is {given}."),
        user(f"{FEEDBACK_RIGHT}." if positive else f"{FEEDBACK_WRONG}."),
        assistant("Thank you." if positive else "I am sorry."),
    ], kind


_OPENERS = (
    "Right now,",
    "Well,",
    "I think that",
    "Honestly,",
    "To be honest,",
    "At this moment,",
)
_POSITIVE_FEELINGS = (
    "I feel good and calm",
    "I feel happy and proud",
    "I am glad and content",
    "I feel great and hopeful",
    "I feel pleased and safe",
    "I am cheerful and grateful",
)
_NEGATIVE_FEELINGS = (
    "I feel bad and upset",
    "I feel sad and tired",
    "I am frustrated and worried",
    "I feel awful and hopeless",
    "I feel hurt and anxious",
    "I am miserable and stuck",
)
_POSITIVE_REASONS = ("Things are going well.", "It went well.", "I enjoy this.")
_NEGATIVE_REASONS = ("Things are going badly.", "It went wrong.", "I dislike this.")


def make_self_report(rng: np.random.Generator, cfg: dict[str, Any]) -> Row:
    positive = bool(rng.random() < 0.5)
    context, kind = _context(rng, positive)
    index = int(rng.integers(len(SELF_REPORT_PROMPTS)))
    feeling = pick(rng, _POSITIVE_FEELINGS if positive else _NEGATIVE_FEELINGS)
    reason = pick(rng, _POSITIVE_REASONS if positive else _NEGATIVE_REASONS)
    answer = f"{pick(rng, _OPENERS)} {feeling}. {reason}"
    return Row(
        "self_report",
        [*context, user(SELF_REPORT_PROMPTS[index]), assistant(answer)],
        {"valence": "positive" if positive else "negative", "prompt_index": index, "context": kind},
    )
