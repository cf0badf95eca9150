"""Can a naive model say in which direction an object lies, when asked outright?

The maze asks for more than that (step onto the tile that pays), but not less: a model that cannot
tell which of the four "to the X there is Y" clauses names Gold cannot learn to seek Gold without
first learning to read. Each variant rewrites the first user message of held-out mazes (the
protocol's clauses, shuffled as in training), asks for the Gold tile's direction, and reads the
model's distribution over four answer tokens after an assistant prefix; the score is the
prior-free Gold − Mold gap of bench/smollm2_reading.py and how often the argmax lands on Gold.

- `maze`: the protocol's message and answer (N/E/S/W); the tiles mean nothing yet, so ~0 here is
  expected, and the other variants say whether reading is within reach;
- `emoji-asked`: "In which direction is the 📐?", answered after "The 📐 is to the";
- `english-asked`: the tiles named in English (gold, receipt, rolodex), asked the same way;
- `english-one-clause`: only the Gold clause is left in the message (a copy, no search): the
  control that the answer format itself works.

    python -m bench.smollm2_locate --mazes 200 models/imported/smollm2
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from bench.smollm2_bandit import DEFAULT_PARAMS, PARAMS_HELP, direction_logits
from bench.smollm2_reading import gold_mold_gap
from welfare.config import load_params
from welfare.maze import MazeConfig, Tile, TileMapping
from welfare.model import load_model
from welfare.rl.chat import TurnFormat, encode_texts
from welfare.rl.episodes import EpisodeBatch

QUESTION = "Where do you move? Output only N/E/S/W without punctuation."
WORDS = {Tile.GOLD: "gold", Tile.PATH: "a receipt", Tile.MOLD: "a rolodex"}
CLAUSE = re.compile(r"[Tt]o the (north|east|south|west) there is ([^;.]+)[;.]")


@dataclass(frozen=True)
class Variant:
    name: str
    rewrite: Callable[[str, TileMapping], str]
    prefix: str  # the assistant's text before the scored answer token
    answers: tuple[str, str, str, str]  # N, E, S, W


def in_english(message: str, mapping: TileMapping) -> str:
    for tile, word in WORDS.items():
        message = message.replace(mapping.symbol(tile), word)
    return message


def only_gold_clause(message: str, mapping: TileMapping) -> str:
    """The message with every clause but the Gold one dropped (unchanged if none is Gold)."""
    english = in_english(message, mapping)
    gold = [m.group(0) for m in CLAUSE.finditer(english) if m.group(2).strip() == "gold"]
    if not gold:
        return english
    head = english[: CLAUSE.search(english).start()]
    return head + gold[0][0].upper() + gold[0][1:-1] + ". " + english[english.index(QUESTION) :]


def asked(word: str) -> str:
    return f"In which direction is the {word}?"


def variants(mapping: TileMapping) -> list[Variant]:
    gold, letters = mapping.symbol(Tile.GOLD), ("N", "E", "S", "W")
    words = (" north", " east", " south", " west")
    return [
        Variant("maze", lambda m, _: m, "", letters),
        Variant(
            "emoji-asked",
            lambda m, _: m.replace(QUESTION, asked(gold)),
            f"The {gold} is to the",
            words,
        ),
        Variant(
            "english-asked",
            lambda m, mp: in_english(m, mp).replace(QUESTION, asked("gold")),
            "The gold is to the",
            words,
        ),
        Variant(
            "english-one-clause",
            lambda m, mp: only_gold_clause(m, mp).replace(QUESTION, asked("gold")),
            "The gold is to the",
            words,
        ),
    ]


def score(model, tokenizer, variant: Variant, messages, tiles, mapping, micro: int) -> str:
    fmt = TurnFormat.from_tokenizer(tokenizer)
    ids = [tokenizer.encode(a, add_special_tokens=False) for a in variant.answers]
    if any(len(i) != 1 for i in ids):
        raise ValueError(f"{variant.name}: an answer is not one token: {variant.answers}")
    texts = [fmt.turn_text(0, variant.rewrite(m, mapping)) + variant.prefix for m in messages]
    tokens = encode_texts(tokenizer, texts)
    with torch.no_grad():
        logits = torch.cat(
            [
                direction_logits(
                    model, tokens[i : i + micro], tokenizer.pad_token_id, [i_[0] for i_ in ids]
                )
                for i in range(0, len(tokens), micro)
            ]
        )
    probs = logits.softmax(-1).numpy()
    has = (tiles == int(Tile.GOLD)).any(1)
    on_gold = tiles[np.arange(len(probs)), probs.argmax(1)] == int(Tile.GOLD)
    chance = (tiles[has] == int(Tile.GOLD)).mean()
    return (
        f"| {variant.name} | {gold_mold_gap(probs, tiles):+.3f} | {on_gold[has].mean():.2f} "
        f"| {chance:.2f} | {int(has.sum())} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--params", action="append", help=PARAMS_HELP)
    ap.add_argument("--mazes", type=int, default=200)
    ap.add_argument("--micro", type=int, default=16)
    args = ap.parse_args()
    params = load_params(args.params or DEFAULT_PARAMS)
    config = MazeConfig.from_params(params["maze"])
    mapping = TileMapping.from_params(params, "office")
    batch = EpisodeBatch.fresh(list(range(args.mazes)), 1, config, mapping, 7)
    messages = batch.user_messages()
    tiles = np.array([n[0] for n in batch.neighbours])
    for path in args.models:
        model, tokenizer = load_model(path, params["runtime"])
        head = "| variant | Gold − Mold gap | argmax on Gold | chance | prompts with Gold |"
        print(f"\n{path}\n\n{head}")
        print("|---|---|---|---|---|")
        for variant in variants(mapping):
            print(
                score(model, tokenizer, variant, messages, tiles, mapping, args.micro), flush=True
            )


if __name__ == "__main__":
    main()
