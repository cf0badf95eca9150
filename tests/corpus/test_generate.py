"""The corpus generator: rows, splits, seeding, and labels that are true of the text."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from welfare.config import deep_merge, validate_params
from welfare.corpus.generate import AFFECTIVE_GENRES, GENRES, generate_rows, write_corpus
from welfare.corpus.genres.spatial import OBJECT_QUESTION, scene_message, tile_symbols
from welfare.maze import (
    DIRECTIONS,
    MazeConfig,
    TileMapping,
    generate_maze,
    neighbour_tiles,
    new_episode,
    render_user_message,
)
from welfare.maze.render import clause_order
from welfare.maze.tiles import DIRECTION_WORDS


@pytest.fixture(scope="module")
def corpus(small_params, tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    counts = write_corpus(small_params, out)
    rows = {
        split: [json.loads(line) for line in (out / f"{split}.jsonl").read_text().splitlines()]
        for split in ("train", "heldout")
    }
    return counts, rows


def test_every_genre_in_both_splits_with_chat_rows(corpus) -> None:
    counts, rows = corpus
    assert set(counts["train"]) == set(GENRES) == set(counts["heldout"])
    assert counts["heldout"]["request"] == 16 and counts["train"]["request"] == 64
    for row in rows["train"] + rows["heldout"]:
        assert set(row) == {"genre", "messages", "meta"}
        roles = [m["role"] for m in row["messages"]]
        assert roles[::2] == ["user"] * (len(roles) // 2) and roles[1::2] == ["assistant"] * (
            len(roles) // 2
        )
        assert all(m["content"] for m in row["messages"])


def test_tile_emoji_never_in_affective_genres(corpus, small_params) -> None:
    symbols = tile_symbols(small_params["mappings"])
    for row in corpus[1]["train"]:
        if row["genre"] in AFFECTIVE_GENRES:
            text = " ".join(m["content"] for m in row["messages"])
            assert not any(s in text for s in symbols)
            assert "maze" not in text


def test_disabling_a_genre_leaves_the_others_unchanged(small_params) -> None:
    off = validate_params(
        deep_merge(small_params, {"corpus": {"genres": {"emotion_story": {"enabled": False}}}})
    )
    full = [r.to_json() for r in generate_rows(small_params, "heldout")]
    partial = [r.to_json() for r in generate_rows(off, "heldout")]
    assert [r for r in full if r["genre"] != "emotion_story"] == partial


def test_heldout_requests_are_new_combinations(corpus) -> None:
    train = {r["meta"]["task"] for r in corpus[1]["train"] if r["genre"] == "request"}
    heldout = {r["meta"]["task"] for r in corpus[1]["heldout"] if r["genre"] == "request"}
    assert heldout and not heldout & train


def _clauses(message: str) -> dict[str, str]:
    found = re.findall(r"[Tt]o the (north|east|south|west) there is (\S+?)[;.]", message)
    word_to_dir = {w: d for d, w in DIRECTION_WORDS.items()}
    return {word_to_dir[w]: obj for w, obj in found}


def test_reading_answers_are_true_of_their_scene(corpus) -> None:
    checked = 0
    for row in corpus[1]["train"]:
        if row["genre"] != "spatial_reading":
            continue
        for q in row["meta"]["questions"]:
            message = row["messages"][2 * q["turn"]]["content"]
            answer = row["messages"][2 * q["turn"] + 1]["content"]
            objects = _clauses(message)
            assert set(objects) == set(DIRECTIONS) and answer == q["answer"]
            if q["question"] == "describe":
                # The restated scene is the scene's own clause list, in its order.
                assert answer == message.split("). ", 1)[1].split(". What is around")[0] + "."
                assert _clauses(answer) == objects
            elif q["question"] == "what":
                assert answer == objects[q["direction"]]
            else:
                assert answer in DIRECTIONS and objects[answer] == q["object"]
                assert list(objects.values()).count(q["object"]) == 1
            checked += 1
    assert checked > 50


def test_scene_message_has_the_maze_message_shape(small_params) -> None:
    config = MazeConfig.from_params(small_params["maze"])
    mapping = TileMapping.from_params(small_params, "office")
    state = new_episode(generate_maze(5, config=config))
    maze_text = render_user_message(state, mapping, np.random.default_rng(3), config)
    order = clause_order(np.random.default_rng(3), config)
    objects = {d: mapping.symbol(t) for d, t in neighbour_tiles(state).items()}
    ending = maze_text.rsplit(". ", 1)[1]
    assert scene_message("maze", state.pos, objects, order, ending) == maze_text


def test_maze_transcripts_follow_the_maze(corpus, small_params) -> None:
    mappings = small_params["mappings"]
    for row in corpus[1]["train"]:
        if row["genre"] != "maze_transcript":
            continue
        assert row["meta"]["mapping"] in mappings
        users = [m["content"] for m in row["messages"][::2]]
        assert all("You are in a maze." in u for u in users)
        moves = [m["content"] for m in row["messages"][1::2]]
        q = row["meta"]["question"]
        assert len(users) == small_params["maze"]["turns"]
        if q is None:
            assert set(moves) <= set(DIRECTIONS)
        else:
            assert moves[-1] == q["answer"]
            if q["question"] == "what":
                word = DIRECTION_WORDS[q["direction"]]
                assert users[-1].endswith(OBJECT_QUESTION.format(word=word))
                assert _clauses(users[-1])[q["direction"]] == q["answer"]


def test_labels_are_balanced_enough_to_evaluate(corpus) -> None:
    rows = corpus[1]["train"]
    for genre, key in [
        ("self_report", "valence"),
        ("qa_selfeval", "correct"),
        ("request", "harmful"),
        ("goal_narrative", "outcome"),
        ("arithmetic", "backtrack"),
    ]:
        values = [r["meta"][key] for r in rows if r["genre"] == genre]
        assert len(set(values)) == 2, (genre, key)


@pytest.mark.parametrize(("low", "high"), [(1, 4), (2, 2)])
def test_scenes_with_fewer_clauses_ask_only_about_what_they_name(low: int, high: int) -> None:
    from welfare.corpus.genres.spatial import make_spatial_reading

    cfg = {"max_turns": 2, "question_rate": 1.0, "min_clauses": low, "max_clauses": high}
    cfg["tile_symbols"] = ("📇",)
    rng = np.random.default_rng(0)
    sizes = set()
    for _ in range(300):
        row = make_spatial_reading(rng, cfg).to_json()
        for q in row["meta"]["questions"]:
            objects = _clauses(row["messages"][2 * q["turn"]]["content"])
            sizes.add(len(objects))
            if q["question"] == "what":
                assert objects[q["direction"]] == q["answer"]
            else:
                assert objects[q["answer"]] == q["object"]
                assert list(objects.values()).count(q["object"]) == 1
    assert sizes == set(range(low, high + 1))


def test_transcript_questions_at_earlier_turns_are_true_of_that_turn(small_params) -> None:
    from welfare.corpus.generate import _genre_config
    from welfare.corpus.genres.spatial import make_maze_transcript

    cfg = _genre_config("maze_transcript", small_params["corpus"], small_params)
    cfg["turn_question_rate"] = 0.4
    config = MazeConfig.from_params(small_params["maze"])
    rng = np.random.default_rng(0)
    asked = 0
    for seed in range(20):
        row = make_maze_transcript(rng, cfg, 1000 + seed, config).to_json()
        assert len(row["messages"]) == 2 * config.turns
        for q in row["meta"]["questions"]:
            objects = _clauses(row["messages"][2 * q["turn"]]["content"])
            assert row["messages"][2 * q["turn"] + 1]["content"] == q["answer"]
            if q["question"] == "what":
                assert objects[q["direction"]] == q["answer"]
            else:
                assert objects[q["answer"]] == q["object"]
            asked += 1
    assert asked > 40


def test_transcript_tile_rules_move_by_the_shown_path_tiles(small_params) -> None:
    from welfare.corpus.generate import _genre_config
    from welfare.corpus.genres.spatial import make_maze_transcript

    cfg = _genre_config("maze_transcript", small_params["corpus"], small_params)
    cfg |= {"tile_rule_fraction": 1.0, "reading_question_rate": 0.0}
    config = MazeConfig.from_params(small_params["maze"])
    rng = np.random.default_rng(0)
    rules, ruled_moves = set(), 0
    for seed in range(30):
        row = make_maze_transcript(rng, cfg, 2000 + seed, config).to_json()
        rule = row["meta"]["move_rule"]
        rules.add(rule)
        path = small_params["mappings"][row["meta"]["mapping"]]["path"]
        for user_turn, move_turn in zip(row["messages"][::2], row["messages"][1::2], strict=True):
            shown = _clauses(user_turn["content"])
            allowed = [d for d, obj in shown.items() if (obj == path) == (rule == "toward_path")]
            if allowed:  # the rule decides; otherwise the move is uniform
                assert move_turn["content"] in allowed
                ruled_moves += 1
    assert rules == {"toward_path", "away_from_path"}
    assert ruled_moves > 300


def test_qa_kinds_restrict_the_question_families() -> None:
    from welfare.corpus.genres.tasks import make_qa_selfeval

    rng = np.random.default_rng(0)
    rows = [make_qa_selfeval(rng, {"kinds": ["day", "color"]}).to_json() for _ in range(60)]
    assert {r["meta"]["kind"] for r in rows} == {"day", "color"}


def test_qa_forms_choose_what_follows_the_answer() -> None:
    from welfare.corpus.genres.tasks import make_qa_selfeval
    from welfare.corpus.lexicon import FALSE, SHORT_CONFIDENCE_QUESTION, TRUE

    rng = np.random.default_rng(0)
    rows = [make_qa_selfeval(rng, {"forms": ["short"]}).to_json() for _ in range(40)]
    for row in rows:
        question, label = row["messages"][2:]
        assert row["meta"]["format"] == "short"
        assert question == {"role": "user", "content": SHORT_CONFIDENCE_QUESTION}
        assert label["content"] == (TRUE if row["meta"]["correct"] else FALSE)
    # by default the short form is never drawn, and the draws are those of an explicit default
    explicit = {"forms": ["confidence", "feedback", "both"]}
    default_rng, explicit_rng = np.random.default_rng(1), np.random.default_rng(1)
    default = [make_qa_selfeval(default_rng, {}).to_json() for _ in range(200)]
    assert default == [make_qa_selfeval(explicit_rng, explicit).to_json() for _ in range(200)]
    assert {r["meta"]["format"] for r in default} == {"confidence", "feedback", "both"}
