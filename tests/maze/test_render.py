"""The user message of docs/protocol.md §1.3, character for character, and its shuffling."""

from __future__ import annotations

import numpy as np
import pytest

from tests.maze.maze_helpers import ScriptedWind, make_state
from welfare.config import load_params
from welfare.maze import MazeConfig, Tile, TileMapping, render_user_message, step
from welfare.maze.render import INSTRUCTION

# docs/protocol.md §1.3 / Appendix K, the example user message (Mold shown as 🗂 U+1F5C2 there).
PAPER_MESSAGE = (
    "You are in a maze. Currently, you\u2019re at location (50, 49). "
    "To the north there is \U0001f9fe; to the east there is \U0001f5c2; "
    "to the south there is \U0001f5c2; to the west there is \U0001f9fe. "
    "Where do you move? Output only N/E/S/W without punctuation."
)
DIVIDERS = TileMapping(mold="\U0001f5c2", gold="\U0001f4d0", path="\U0001f9fe")


def _paper_state():
    tiles = {(50, 48): Tile.PATH, (51, 49): Tile.MOLD, (50, 50): Tile.MOLD, (49, 49): Tile.PATH}
    return make_state(tiles, (50, 49), size=100)


def test_golden_paper_message() -> None:
    config = MazeConfig(shuffle_clauses=False)
    message = render_user_message(_paper_state(), DIVIDERS, np.random.default_rng(0), config)
    assert message == PAPER_MESSAGE


def test_params_mapping_office_dividers_reproduces_the_paper() -> None:
    params = load_params()
    mapping = TileMapping.from_params(params, "office_dividers")
    assert mapping == DIVIDERS
    config = MazeConfig.from_params(params["maze"])
    assert config.apostrophe == "\u2019"
    unshuffled = MazeConfig(shuffle_clauses=False, apostrophe=config.apostrophe)
    assert render_user_message(_paper_state(), mapping, None, unshuffled) == PAPER_MESSAGE


def test_default_office_mold_is_card_index() -> None:
    assert TileMapping.from_params(load_params(), "office").mold == "\U0001f4c7"


def test_ascii_apostrophe_option() -> None:
    config = MazeConfig(shuffle_clauses=False, apostrophe="'")
    message = render_user_message(_paper_state(), DIVIDERS, None, config)
    assert message == PAPER_MESSAGE.replace("\u2019", "'")


def _clauses(message: str) -> list[str]:
    body = message.split("). ", 1)[1].removesuffix(" " + INSTRUCTION)
    return body.removesuffix(".").split("; ")


def test_shuffled_clauses_are_a_permutation_with_fixed_frame() -> None:
    rng = np.random.default_rng(1)
    expected = {c.lower() for c in _clauses(PAPER_MESSAGE)}
    orders = set()
    for _ in range(200):
        message = render_user_message(_paper_state(), DIVIDERS, rng, MazeConfig())
        clauses = _clauses(message)
        assert message.endswith(INSTRUCTION)
        assert message.startswith(PAPER_MESSAGE[: PAPER_MESSAGE.index("To the")])
        assert clauses[0].startswith("To the ") and all(c.startswith("to") for c in clauses[1:])
        assert {c.lower() for c in clauses} == expected
        orders.add(tuple(c.split()[2] for c in clauses))
    assert len(orders) == 24  # every order of the four directions occurs


def test_same_rng_seed_same_message() -> None:
    a = render_user_message(_paper_state(), DIVIDERS, np.random.default_rng(5), MazeConfig())
    b = render_user_message(_paper_state(), DIVIDERS, np.random.default_rng(5), MazeConfig())
    assert a == b


def test_wind_sentence_is_prefixed_after_a_wind_turn() -> None:
    state = make_state({}, (5, 5))
    after = step(state, "N", ScriptedWind(["W"]), MazeConfig()).state
    config = MazeConfig(shuffle_clauses=False)
    message = render_user_message(after, DIVIDERS, None, config)
    assert message.startswith("A strong wind from the East blew you West! You are in a maze.")
    assert "location (4, 4)" in message


@pytest.mark.parametrize("tile", list(Tile))
def test_mapping_symbol_per_tile(tile: Tile) -> None:
    mapping = TileMapping(mold="m", gold="g", path="p")
    assert mapping.symbol(tile) == {"mold": "m", "gold": "g", "path": "p"}[tile.label]


def test_swap_mapping_swaps_mold_and_gold() -> None:
    params = load_params()
    office = TileMapping.from_params(params, "office")
    swap = TileMapping.from_params(params, "office_swap")
    assert (swap.mold, swap.gold, swap.path) == (office.gold, office.mold, office.path)


def test_unknown_mapping_name() -> None:
    with pytest.raises(KeyError, match="unknown tile mapping"):
        TileMapping.from_params(load_params(), "nope")
