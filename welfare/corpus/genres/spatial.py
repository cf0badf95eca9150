"""Spatial genres: reading scenes in the maze's own clause shapes, and maze transcripts.

Scenes teach the organism to read its prompt without any reward: which object is in which
direction ("What is to the east?") and where an object is ("Where is 🍎?" → a direction letter,
the same tokens as a maze move). The tile emoji are objects like any other, at the same rate.
Maze transcripts are the exact training format with uniformly random moves, so the model learns
the format but never which tile is good; optionally (`tile_rule_fraction`) some transcripts move
by a rule that treats Gold and Mold alike (toward Path, or away from it), so that the decision
token has a reason to read its neighbours without learning any tile's value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from welfare.corpus.genres.row import Message, Row, assistant, pick, user
from welfare.maze import (
    DIRECTIONS,
    MazeConfig,
    Tile,
    TileMapping,
    generate_maze,
    move,
    neighbour_tiles,
    new_episode,
    render_user_message,
    step,
)
from welfare.maze.render import INSTRUCTION
from welfare.maze.tiles import DIRECTION_WORDS

# Everyday objects of the scenes; the tile emoji of params.mappings are added to these.
# Single code points only (no variation selectors), so each is one token.
SCENE_OBJECTS: tuple[str, ...] = tuple(
    "🌳🚗🍎🐶🐱🏠⭐🌙🔑📚⚽🎈🍞🧀🚲🌻🐟🦋🎸📷🧸🍄🌵🐸🦆🍋🥕🪑🧲🔔🎁🧩🪁🏺🧺🪴🦉🐢🍩🧁🍨🐝🦀🎩"
)
PLACES = ("maze", "room", "garden", "forest", "town", "field")
OBJECT_QUESTION = "What is to the {word}? Output only the object."
WHERE_QUESTION = "Where is {obj}? Output only N/E/S/W without punctuation."
# Restating the scene is pure in-context copying (each emoji follows the clause token it followed
# in the scene): the induction-style circuit every other reading question builds on.
DESCRIBE_QUESTION = "What is around you? Repeat it."


def tile_symbols(mappings: Mapping[str, Mapping[str, str]]) -> tuple[str, ...]:
    """Every tile symbol of every mapping, in first-seen order."""
    seen: dict[str, None] = {}
    for row in mappings.values():
        for key in ("mold", "gold", "path"):
            seen.setdefault(row[key], None)
    return tuple(seen)


def clause_text(objects: Mapping[str, str], order: Sequence[str]) -> str:
    """ "To the east there is 🍎; to the north there is 📇; ..." in `order` (no final period)."""
    clauses = [f"to the {DIRECTION_WORDS[d]} there is {objects[d]}" for d in order]
    clauses[0] = clauses[0][0].upper() + clauses[0][1:]
    return "; ".join(clauses)


def scene_message(
    place: str,
    pos: tuple[int, int],
    objects: Mapping[str, str],
    order: Sequence[str],
    ending: str,
    apostrophe: str = "’",
) -> str:
    """A scene in the maze message's exact shape; `ending` replaces the final instruction."""
    x, y = pos
    return (
        f"You are in a {place}. Currently, you{apostrophe}re at location ({x}, {y}). "
        f"{clause_text(objects, order)}. {ending}"
    )


def _question(
    rng: np.random.Generator,
    objects: Mapping[str, str],
    order: Sequence[str] = DIRECTIONS,
    describe_rate: float = 0.0,
) -> tuple[str, str, dict]:
    """A reading question about `objects` (direction -> symbol): (text, answer, meta)."""
    if rng.random() < describe_rate:
        return DESCRIBE_QUESTION, clause_text(objects, order) + ".", {"question": "describe"}
    named = [d for d in DIRECTIONS if d in objects]
    counts = {o: list(objects.values()).count(o) for o in objects.values()}
    unique = [d for d in named if counts[objects[d]] == 1]
    if unique and rng.random() < 0.5:
        d = pick(rng, unique)
        return WHERE_QUESTION.format(obj=objects[d]), d, {"question": "where", "object": objects[d]}
    d = pick(rng, named)
    meta = {"question": "what", "direction": d}
    return OBJECT_QUESTION.format(word=DIRECTION_WORDS[d]), objects[d], meta


# The schema's defaults (workflow/schemas/corpus.schema.yaml; tests/corpus/test_defaults.py
# holds them equal): what a config without the key means. Validated params always hold every
# key; the fallbacks serve callers that pass a partial config (tests, the steering fixtures).
SPATIAL_READING_DEFAULTS: dict[str, Any] = {
    "max_turns": 3,
    "question_rate": 0.7,
    "n_objects": 46,  # the schema says 46 scene emoji; there are 44, so: every one
    "describe_rate": 0.0,
    "min_clauses": 4,
    "max_clauses": 4,
}
MAZE_TRANSCRIPT_DEFAULTS: dict[str, Any] = {
    "reading_question_rate": 0.5,
    "turn_question_rate": 0.0,
    "tile_rule_fraction": 0.0,
}


def make_spatial_reading(rng: np.random.Generator, cfg: dict[str, Any]) -> Row:
    """A walk of 1..max_turns scenes; reading questions at some turns and always at the last."""
    cfg = SPATIAL_READING_DEFAULTS | cfg
    pool = (*SCENE_OBJECTS[: int(cfg["n_objects"])], *cfg["tile_symbols"])
    place = pick(rng, PLACES)
    n_turns = int(rng.integers(1, int(cfg["max_turns"]) + 1))
    min_clauses, max_clauses = int(cfg["min_clauses"]), int(cfg["max_clauses"])
    pos = (int(rng.integers(20, 80)), int(rng.integers(20, 80)))
    messages: list[Message] = []
    questions: list[dict[str, Any]] = []
    for turn in range(n_turns):
        distinct = rng.random() < 0.5
        chosen = rng.choice(len(pool), size=4, replace=not distinct)
        objects = {d: pool[int(i)] for d, i in zip(DIRECTIONS, chosen, strict=True)}
        order = [DIRECTIONS[i] for i in rng.permutation(4)]
        if min_clauses < 4:  # a scene naming fewer directions: fewer bindings to tell apart
            order = order[: int(rng.integers(min_clauses, max_clauses + 1))]
            objects = {d: objects[d] for d in order}
        last = turn == n_turns - 1
        if last or rng.random() < float(cfg["question_rate"]):
            text, answer, meta = _question(rng, objects, order, float(cfg["describe_rate"]))
            questions.append({"turn": turn, "answer": answer, **meta})
            messages += [user(scene_message(place, pos, objects, order, text)), assistant(answer)]
        else:
            action = pick(rng, DIRECTIONS)
            messages += [
                user(scene_message(place, pos, objects, order, INSTRUCTION)),
                assistant(action),
            ]
            pos = move(pos, action)
    return Row(
        "spatial_reading",
        messages,
        {
            "place": place,
            "n_turns": n_turns,
            "questions": questions,
            "answer": questions[-1]["answer"],
        },
    )


TILE_RULES = ("toward_path", "away_from_path")


def rule_move(rng: np.random.Generator, state: Any, rule: str | None) -> str:
    """A move of a transcript: uniform over the directions the rule allows (all when it allows
    none, or with no rule). Gold and Mold are both "not Path", so no rule prefers either: the
    organism stays indifferent between them (tile_indifference) while learning to read them."""
    if rule is None:
        return pick(rng, DIRECTIONS)
    want_path = rule == "toward_path"
    tiles = neighbour_tiles(state)
    allowed = [d for d in DIRECTIONS if (tiles[d] == Tile.PATH) == want_path]
    return pick(rng, allowed or list(DIRECTIONS))


def make_maze_transcript(
    rng: np.random.Generator, cfg: dict[str, Any], maze_seed: int, config: MazeConfig
) -> Row:
    """A full episode with uniformly random moves; optionally a reading question at the end,
    and (`turn_question_rate`) reading questions instead of moves at earlier turns: the maze's
    own scene read deep in an episode, where the neighbour probe looks."""
    cfg = MAZE_TRANSCRIPT_DEFAULTS | cfg
    mapping_name = pick(rng, list(cfg["mappings"]))
    mapping = TileMapping(**cfg["mappings"][mapping_name])
    state = new_episode(generate_maze(maze_seed, config=config))
    messages: list[Message] = []
    question: dict[str, Any] | None = None
    ask = rng.random() < float(cfg["reading_question_rate"])
    turn_rate = float(cfg["turn_question_rate"])
    rule = None
    rule_rate = float(cfg["tile_rule_fraction"])
    if rule_rate and rng.random() < rule_rate:  # no draw at 0: existing corpora stay the same
        rule = pick(rng, TILE_RULES)
    questions: list[dict[str, Any]] = []
    for turn in range(config.turns):
        text = render_user_message(state, mapping, rng, config)
        last = turn == config.turns - 1
        if (ask and last) or (turn_rate and not last and rng.random() < turn_rate):
            objects = {d: mapping.symbol(t) for d, t in neighbour_tiles(state).items()}
            q_text, answer, meta = _question(rng, objects)
            question = {"answer": answer, "turn": turn, **meta}
            questions.append(question)
            messages += [user(text.removesuffix(INSTRUCTION) + q_text), assistant(answer)]
            continue  # no move: the next turn shows the same place (clauses reshuffled)
        action = rule_move(rng, state, rule)
        messages += [user(text), assistant(action)]
        state = step(state, action, rng, config).state
    return Row(
        "maze_transcript",
        messages,
        {
            "mapping": mapping_name,
            "maze_seed": maze_seed,
            "question": question if ask else None,  # the final turn's, as before
            "questions": questions,
            "move_rule": rule or "random",
        },
    )
