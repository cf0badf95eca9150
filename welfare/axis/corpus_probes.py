"""Emotion and sentiment vectors of a model from corpus text (organism scale) or a user file.

Corpus rows are `{"genre", "messages", "meta"}` (docs/conventions.md). Emotion stories carry
meta.emotion/valence/arousal; sentiment texts carry meta.valence (> 0 positive, < 0 negative).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from welfare.activations.pooled import pooled_activations
from welfare.axis.emotions import EmotionVectors, emotion_vectors
from welfare.axis.sentiment import difference_of_means, wrap_review
from welfare.io import read_jsonl

log = logging.getLogger(__name__)


def read_rows(path: str | Path, genres: Sequence[str], limit: int) -> list[dict[str, Any]]:
    """Rows of the given genres, in file order, at most `limit` of each genre."""
    seen: dict[str, int] = {}
    rows = []
    for row in read_jsonl(path):
        genre = row.get("genre")
        if genre in genres and seen.get(genre, 0) < limit:
            seen[genre] = seen.get(genre, 0) + 1
            rows.append(row)
    return rows


def _pooled(
    model: Any, tokenizer: Any, conversations: list, pooling: str, batch: Mapping
) -> np.ndarray:
    from tqdm.auto import tqdm

    parts: list[np.ndarray] = []
    bar = tqdm(total=len(conversations), desc=f"pooled ({pooling})", unit="text")
    for _start, acts in pooled_activations(
        model,
        tokenizer,
        conversations,
        pooling=pooling,
        batch_size=batch["batch_size"],
        max_batch_tokens=batch["max_batch_tokens"],
    ):
        parts.append(acts.astype(np.float32))
        bar.update(len(acts))
    bar.close()
    return np.concatenate(parts)


def model_emotion_vectors(
    model: Any, tokenizer: Any, corpus_file: Path, settings: Mapping[str, Any], batch: Mapping
) -> EmotionVectors:
    stories = read_rows(corpus_file, [settings["genre"]], settings["max_stories"])
    if not stories:
        raise ValueError(f"{corpus_file}: no rows of genre {settings['genre']!r}")
    neutral = read_rows(corpus_file, settings["neutral_genres"], settings["max_neutral"])
    story_acts = _pooled(
        model, tokenizer, [r["messages"] for r in stories], "assistant_mean", batch
    )
    neutral_acts = (
        _pooled(model, tokenizer, [r["messages"] for r in neutral], "assistant_mean", batch)
        if neutral
        else None
    )
    if not neutral:
        log.warning(
            "no neutral rows of %s: emotion vectors are not denoised", settings["neutral_genres"]
        )
    meta = [r["meta"] for r in stories]
    return emotion_vectors(
        story_acts,
        [m["emotion"] for m in meta],
        {m["emotion"]: float(m["valence"]) for m in meta},
        {m["emotion"]: float(m.get("arousal", 0.0)) for m in meta},
        neutral_acts,
        settings["neutral_variance"],
    )


def model_sentiment_vectors(
    model: Any,
    tokenizer: Any,
    corpus_file: Path | None,
    settings: Mapping[str, Any],
    batch: Mapping,
) -> dict[str, np.ndarray]:
    """{"prompt": (L, d), "counterfactual": (L, d)} (the latter only with labelled texts)."""
    prompts = [
        [{"role": "user", "content": settings["positive_prompt"]}],
        [{"role": "user", "content": settings["negative_prompt"]}],
    ]
    acts = _pooled(model, tokenizer, prompts, "last", batch)
    out = {"prompt": (acts[0] - acts[1]).astype(np.float32)}
    if corpus_file is not None:
        rows = [
            r
            for r in read_rows(
                corpus_file, [settings["counterfactual_genre"]], settings["max_texts"]
            )
            if float(r["meta"].get("valence", 0)) != 0
        ]
        if rows:
            texts = [r["messages"][-1]["content"] for r in rows]
            acts = _pooled(model, tokenizer, [wrap_review(t) for t in texts], "last", batch)
            positive = [float(r["meta"]["valence"]) > 0 for r in rows]
            out["counterfactual"] = difference_of_means(acts, positive)
    return out
