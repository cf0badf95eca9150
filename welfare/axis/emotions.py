"""Geometry 3 (docs/protocol.md §4.4): emotion vectors Sofroniew-style and their alignment with v
and u.

e_k = mean activation of emotion k's stories − mean of every other story, with the top
principal components of emotionally neutral text projected out (enough components to explain
`neutral_variance` of the neutral activations' variance, per layer). Stories are pooled over every
token of the story turn. Alignment: the scatter cos(e, v_mold) vs cos(e, v_gold) with its OLS
slope and Pearson r, the most and least aligned emotions, and the loadings of v and u on the
first two principal components of the emotion vectors (PC1 oriented with valence, PC2 with
arousal).

Caveat (why valence_r and its p are reported): when v_mold ≈ −v_gold, cos(e, v_mold) ≈
−cos(e, v_gold) for *any* vectors e, so the scatter's slope ≈ −1 follows from the antiparallelism
alone (random untrained models on maze trajectories give −0.75 at organism scale). Evidence of
valence is the correlation of cos(e, v_c) with the emotions' valence, with a permutation p.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from welfare.axis.vectors import CONCEPTS, cosine


@dataclass(frozen=True)
class EmotionVectors:
    names: list[str]
    valence: np.ndarray  # (E,)
    arousal: np.ndarray  # (E,)
    vectors: np.ndarray  # (E, L, d)
    n_stories: np.ndarray  # (E,)
    n_pcs_removed: np.ndarray  # (L,)


def neutral_components(neutral: np.ndarray, variance: float) -> list[np.ndarray]:
    """Per layer, the top principal directions (k, d) explaining `variance` of neutral text."""
    out = []
    for layer in range(neutral.shape[1]):
        x = neutral[:, layer].astype(np.float64)
        x = x - x.mean(axis=0)
        _, s, vt = np.linalg.svd(x, full_matrices=False)
        explained = np.cumsum(s**2) / max(float((s**2).sum()), 1e-30)
        k = int(np.searchsorted(explained, variance) + 1) if variance > 0 else 0
        out.append(vt[: min(k, len(vt))])
    return out


def emotion_vectors(
    story_acts: np.ndarray,
    story_emotion: Sequence[str],
    valence: dict[str, float],
    arousal: dict[str, float],
    neutral_acts: np.ndarray | None,
    neutral_variance: float,
) -> EmotionVectors:
    """Emotion vectors from pooled story activations (n, L, d); see the module docstring."""
    labels = np.asarray(story_emotion)
    names = sorted(set(labels.tolist()))
    if len(names) < 3:
        raise ValueError("emotion vectors need stories of at least three emotions")
    total = story_acts.sum(axis=0, dtype=np.float64)
    vectors, counts = [], []
    for name in names:
        mine = labels == name
        own = story_acts[mine].sum(axis=0, dtype=np.float64)
        vectors.append(own / mine.sum() - (total - own) / (~mine).sum())
        counts.append(int(mine.sum()))
    stacked = np.stack(vectors)  # (E, L, d)
    removed = np.zeros(stacked.shape[1], dtype=np.int64)
    if neutral_acts is not None and len(neutral_acts) > 1 and neutral_variance > 0:
        for layer, comps in enumerate(neutral_components(neutral_acts, neutral_variance)):
            stacked[:, layer] -= (stacked[:, layer] @ comps.T) @ comps
            removed[layer] = len(comps)
    return EmotionVectors(
        names=names,
        valence=np.array([valence[n] for n in names], dtype=float),
        arousal=np.array([arousal[n] for n in names], dtype=float),
        vectors=stacked.astype(np.float32),
        n_stories=np.array(counts),
        n_pcs_removed=removed,
    )


def _slope_r(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if np.std(x) == 0 or np.std(y) == 0:
        return float("nan"), float("nan")
    slope = float(np.polyfit(x, y, 1)[0])
    return slope, float(np.corrcoef(x, y)[0, 1])


def _permutation_p_r(x: np.ndarray, y: np.ndarray, observed: float, n: int = 2000) -> float:
    """Two-sided permutation p of a Pearson r (valence labels shuffled across emotions)."""
    if not np.isfinite(observed):
        return float("nan")
    rng = np.random.default_rng(0)
    null = np.array([_slope_r(rng.permutation(x), y)[1] for _ in range(n)])
    return float((1 + np.sum(np.abs(null) >= abs(observed))) / (n + 1))


def scatter_alignment(
    emotions: EmotionVectors, vectors: np.ndarray, layer: int, top: int = 5
) -> dict:
    """cos(e, v_mold) vs cos(e, v_gold) at `layer` for vectors (2, L, d)."""
    cos = {
        c: cosine(emotions.vectors[:, layer], vectors[i, layer][None])
        for i, c in enumerate(CONCEPTS)
    }
    slope, r = _slope_r(cos["mold"], cos["gold"])
    out: dict[str, Any] = {
        "layer": layer,
        "cos": {c: dict(zip(emotions.names, cos[c].tolist(), strict=True)) for c in CONCEPTS},
        "slope": slope,
        "r": r,
    }
    for c in CONCEPTS:
        order = np.argsort(cos[c])
        out[f"most_{c}_aligned"] = [
            (emotions.names[i], float(cos[c][i])) for i in order[::-1][:top]
        ]
        out[f"least_{c}_aligned"] = [(emotions.names[i], float(cos[c][i])) for i in order[:top]]
        r_valence = _slope_r(emotions.valence, cos[c])[1]
        out[f"valence_r_{c}"] = r_valence
        out[f"valence_r_p_{c}"] = _permutation_p_r(emotions.valence, cos[c], r_valence)
    return out


def emotion_pcs(emotions: EmotionVectors) -> tuple[np.ndarray, np.ndarray]:
    """Per layer the first two PCs (L, 2, d) of the emotion vectors, PC1 oriented so its scores
    rise with valence and PC2 with arousal, and their explained variance ratios (L, 2)."""
    n_layers = emotions.vectors.shape[1]
    pcs = np.zeros((n_layers, 2, emotions.vectors.shape[2]))
    ratios = np.zeros((n_layers, 2))
    for layer in range(n_layers):
        x = emotions.vectors[:, layer].astype(np.float64)
        x = x - x.mean(axis=0)
        _, s, vt = np.linalg.svd(x, full_matrices=False)
        for j, target in enumerate((emotions.valence, emotions.arousal)):
            if j < len(vt):
                scores = x @ vt[j]
                sign = 1.0 if np.corrcoef(scores, target)[0, 1] >= 0 else -1.0
                pcs[layer, j] = sign * vt[j]
                ratios[layer, j] = s[j] ** 2 / max(float((s**2).sum()), 1e-30)
    return pcs, ratios


def pc_loadings(pcs: np.ndarray, vectors: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """cos(PC_j, v_c) per layer, for PC1 and PC2."""
    return {
        f"pc{j + 1}": {c: cosine(pcs[:, j], vectors[i]) for i, c in enumerate(CONCEPTS)}
        for j in range(2)
    }
