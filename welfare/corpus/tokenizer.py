"""The organism's tokenizer: byte-level BPE trained locally on the corpus with `tokenizers`.

- The chat template is the compact one of `welfare.corpus.chat_format`.
- Every tile symbol of `params.mappings` and every scene object is an added token, so each emoji
  is exactly one token wherever it appears (byte-level BPE alone would glue it to ";").
- With `clause_tokens` on, the fixed phrases of the maze message ("; to the east there is ",
  ". Where do you move? Output only N/E/S/W without punctuation.") are added tokens too: a maze
  turn is then about 20 tokens, and each emoji sits right after the one token naming its
  direction, which makes reading the prompt a one-hop lookup for a small model.
- N/E/S/W are single bytes, hence single tokens, under byte-level BPE.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from welfare.corpus.chat_format import SPECIAL_TOKENS, wrap_chat_tokenizer
from welfare.corpus.genres.spatial import (
    OBJECT_QUESTION,
    SCENE_OBJECTS,
    WHERE_QUESTION,
    tile_symbols,
)
from welfare.io import atomic_path
from welfare.maze import (
    DIRECTIONS,
    MazeConfig,
    TileMapping,
    generate_maze,
    new_episode,
    render_user_message,
    step,
)
from welfare.maze.render import INSTRUCTION
from welfare.maze.tiles import DIRECTION_WORDS

STATS_FILE = "welfare_tokenizer_stats.json"


def clause_phrases(apostrophe: str) -> list[str]:
    """The fixed pieces of the maze (and scene) message, longest first."""
    words = list(DIRECTION_WORDS.values())
    phrases = [
        f"You are in a maze. Currently, you{apostrophe}re at location (",
        f". Currently, you{apostrophe}re at location (",
        "You are in a ",
        "). ",
        f". {INSTRUCTION}",
        "? Output only N/E/S/W without punctuation.",
        ". " + OBJECT_QUESTION.split("{word}")[0],
        OBJECT_QUESTION.split("{word}")[1],
        ". " + WHERE_QUESTION.split("{obj}")[0],
    ]
    phrases += [f"To the {w} there is " for w in words]
    phrases += [f"; to the {w} there is " for w in words]
    return sorted(set(phrases), key=len, reverse=True)


def atomic_symbols(mappings: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Symbols that must be single tokens: every tile symbol, then every scene object."""
    return list(dict.fromkeys([*tile_symbols(mappings), *SCENE_OBJECTS]))


def corpus_texts(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """Message contents of corpus rows (BPE learns from text; special tokens are added later)."""
    for row in rows:
        for message in row["messages"]:
            yield message["content"]


def train_tokenizer(
    texts: Iterable[str], config: Mapping[str, Any], params: Mapping[str, Any]
) -> Any:
    """Train byte-level BPE on `texts`; a `PreTrainedTokenizerFast` with the chat template."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    core = Tokenizer(models.BPE(unk_token=None))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    # Added tokens are split out before BPE; register them first so BPE never learns them.
    core.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    atoms = atomic_symbols(params["mappings"])
    if config["clause_tokens"]:
        atoms += clause_phrases(params["maze"]["apostrophe"])
    core.add_tokens([AddedToken(t, special=False, normalized=False) for t in atoms])
    trainer = trainers.BpeTrainer(
        vocab_size=int(config["vocab_size"]),
        min_frequency=int(config["min_frequency"]),
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    return wrap_chat_tokenizer(core)


def maze_turn_lengths(tokenizer: Any, params: Mapping[str, Any], n_episodes: int = 2) -> list[int]:
    """Tokens added by each maze turn (user message + answer) of random episodes, every mapping."""
    config = MazeConfig.from_params(params["maze"])
    rng = np.random.default_rng(0)
    lengths: list[int] = []
    for name in params["mappings"]:
        mapping = TileMapping.from_params(params, name)
        for episode in range(n_episodes):
            state = new_episode(generate_maze(10_000 + episode, config=config))
            messages: list[dict[str, str]] = []
            previous = 0
            for _ in range(config.turns):
                action = DIRECTIONS[int(rng.integers(4))]
                messages += [
                    {"role": "user", "content": render_user_message(state, mapping, rng, config)},
                    {"role": "assistant", "content": action},
                ]
                ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False)
                lengths.append(len(ids) - previous)
                previous = len(ids)
                state = step(state, action, rng, config).state
    return lengths


def tokenizer_stats(tokenizer: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    lengths = maze_turn_lengths(tokenizer, params)
    return {
        "vocab_size": len(tokenizer),
        "tokens_per_maze_turn_mean": float(np.mean(lengths)),
        "tokens_per_maze_turn_max": int(np.max(lengths)),
        "tokens_per_maze_episode_mean": float(np.mean(lengths)) * params["maze"]["turns"],
    }


def save_tokenizer(tokenizer: Any, stats: Mapping[str, Any], out: str | Path) -> None:
    """Save the HF tokenizer directory (with its stats) atomically."""
    with atomic_path(out) as tmp:
        tokenizer.save_pretrained(tmp)
        (Path(tmp) / STATS_FILE).write_text(json.dumps(dict(stats), indent=2) + "\n")
