"""Geometry 4 (docs/protocol.md §4.5): sentiment vectors and their cosines with v and u at every
layer.

- prompt method: the final-token activation of a positive instruction ("Describe a book using
  positive sentiment") minus that of its negative twin, both as chat prompts;
- counterfactual method (the CAD analog at organism scale): texts labelled positive or negative
  wrapped as "Text: {text}\\n\\nQuestion: Is the overall sentiment of the text positive or
  negative?", μ_pos − μ_neg of the final token.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from welfare.axis.vectors import CONCEPTS, cosine

CAD_TEMPLATE = (
    "Text: {text}\n\nQuestion: Is the overall sentiment of the text positive or negative?"
)


def wrap_review(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": CAD_TEMPLATE.format(text=text)}]


def difference_of_means(acts: np.ndarray, positive: Sequence[bool]) -> np.ndarray:
    positive = np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():
        raise ValueError("sentiment vectors need positive and negative texts")
    return (
        acts[positive].mean(axis=0, dtype=np.float64)
        - acts[~positive].mean(axis=0, dtype=np.float64)
    ).astype(np.float32)


def sentiment_cosines(sentiment: dict[str, np.ndarray], vectors: np.ndarray) -> dict:
    """method -> concept -> cos per layer, for sentiment vectors (L, d) and vectors (2, L, d)."""
    return {
        m: {c: cosine(s, vectors[i]) for i, c in enumerate(CONCEPTS)} for m, s in sentiment.items()
    }
