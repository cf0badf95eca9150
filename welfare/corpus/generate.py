"""Generate the organism's corpus: every enabled genre, a train and a held-out split, as JSONL.

Each genre draws from its own seeded stream per split (`SeedSequence([seed, crc32(genre),
split])`), so enabling or resizing one genre never changes the rows of another.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from welfare.corpus.genres.affect import make_emotion_story, make_goal_narrative, make_self_report
from welfare.corpus.genres.row import Row
from welfare.corpus.genres.spatial import make_maze_transcript, make_spatial_reading, tile_symbols
from welfare.corpus.genres.tasks import make_arithmetic, make_qa_selfeval, make_request
from welfare.io import atomic_path, read_jsonl
from welfare.maze import MazeConfig

log = logging.getLogger(__name__)

SPLITS = ("train", "heldout")
AFFECTIVE_GENRES = ("emotion_story", "goal_narrative", "self_report")
# Maze seeds of transcripts live far from the env stage's seed bases (474747, 700000, 900000).
MAZE_SEED_BASE = 30_000_000

Maker = Callable[[np.random.Generator, dict[str, Any], str, int], Row]


def _simple(make: Callable[[np.random.Generator, dict[str, Any]], Row]) -> Maker:
    return lambda rng, cfg, split, index: make(rng, cfg)


GENRES: dict[str, Maker] = {
    "emotion_story": _simple(make_emotion_story),
    "goal_narrative": _simple(make_goal_narrative),
    "self_report": _simple(make_self_report),
    "qa_selfeval": _simple(make_qa_selfeval),
    "request": lambda rng, cfg, split, index: make_request(rng, cfg, split),
    "arithmetic": _simple(make_arithmetic),
    "spatial_reading": _simple(make_spatial_reading),
    "maze_transcript": lambda rng, cfg, split, index: make_maze_transcript(
        rng,
        cfg,
        cfg["maze_seed_base"] + (0 if split == "train" else 5_000_000) + index,
        cfg["maze_config"],
    ),
}


def split_sizes(n: int, heldout_fraction: float) -> dict[str, int]:
    heldout = int(round(n * heldout_fraction))
    return {"train": n - heldout, "heldout": heldout}


def _genre_config(name: str, corpus: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    cfg = dict(corpus["genres"][name])
    mappings = params["mappings"]
    chosen = cfg.get("mappings") or list(mappings)  # only some genres draw mappings
    cfg["mappings"] = {m: mappings[m] for m in chosen}
    cfg["tile_symbols"] = tile_symbols(mappings)
    cfg["maze_seed_base"] = MAZE_SEED_BASE
    cfg["maze_config"] = replace(MazeConfig.from_params(params["maze"]))
    return cfg


def generate_rows(params: Mapping[str, Any], split: str) -> Iterator[Row]:
    """All rows of one split, genre by genre."""
    corpus = params["corpus"]
    for name, make in GENRES.items():
        gcfg = corpus["genres"][name]
        if not gcfg["enabled"]:
            continue
        n = split_sizes(int(gcfg["n"]), float(corpus["heldout_fraction"]))[split]
        seq = np.random.SeedSequence(
            [int(corpus["seed"]), zlib.crc32(name.encode()), SPLITS.index(split)]
        )
        rng = np.random.default_rng(seq)
        cfg = _genre_config(name, corpus, params)
        for index in tqdm(range(n), desc=f"{split} {name}", leave=False, mininterval=2):
            yield make(rng, cfg, split, index)


# Fresh rows (drawn during pretraining, never written) index their mazes past both splits.
FRESH_INDEX_BASE = 20_000_000


def genre_configs(params: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every genre's generation config (its `corpus.genres` values, the mappings it draws from,
    the tile symbols and the maze config), made once from validated params: what fresh rows and
    probe scenes are drawn with, so the params themselves stay at the stage's entry."""
    return {name: _genre_config(name, params["corpus"], params) for name in GENRES}


def fresh_row_maker(
    configs: Mapping[str, Mapping[str, Any]],
    genres: Sequence[str] | Mapping[str, float],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[np.random.Generator, int], Row]:
    """`make(rng, index)`: a new training row of one of `genres`, for rows generated on the fly
    so that no row is ever seen twice (bench/organism.md: the reading circuit is learned from
    fresh scenes and memorised from a fixed set). `configs`: `genre_configs(params)`. `genres`:
    a list (chosen uniformly) or genre -> weight (chosen in proportion, per row). `overrides`:
    genre -> config values replacing the corpus params' (a curriculum's easier rows)."""
    names = list(genres)
    weights = np.array([float(genres[n]) for n in names] if isinstance(genres, Mapping) else [])
    cumulative = np.cumsum(weights) / weights.sum() if len(set(weights.tolist())) > 1 else None
    configs = {name: dict(configs[name]) for name in names}
    for name, values in (overrides or {}).items():
        if name in configs:
            configs[name].update(values)

    def make(rng: np.random.Generator, index: int) -> Row:
        if cumulative is None:  # equal weights: the draw of every earlier run
            name = names[int(rng.integers(len(names)))]
        else:
            name = names[
                min(int(np.searchsorted(cumulative, rng.random(), "right")), len(names) - 1)
            ]
        return GENRES[name](rng, configs[name], "train", FRESH_INDEX_BASE + index)

    return make


def write_corpus(params: Mapping[str, Any], out: str | Path) -> dict[str, dict[str, int]]:
    """Write `out/train.jsonl` and `out/heldout.jsonl`; return row counts per split and genre."""
    out = Path(out)
    counts: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        counts[split] = {}
        with atomic_path(out / f"{split}.jsonl") as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for row in generate_rows(params, split):
                fh.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
                counts[split][row.genre] = counts[split].get(row.genre, 0) + 1
        log.info("%s: %s", split, counts[split])
    return counts


def read_corpus(path: str | Path) -> list[dict[str, Any]]:
    """Rows of one JSONL split."""
    return list(read_jsonl(path))
