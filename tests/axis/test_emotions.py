from __future__ import annotations

import numpy as np

from welfare.axis.emotions import emotion_pcs, emotion_vectors, pc_loadings, scatter_alignment
from welfare.axis.sentiment import difference_of_means, sentiment_cosines

VALENCE = {"joy": 0.9, "pride": 0.7, "calm": 0.3, "fear": -0.6, "anger": -0.8, "shame": -0.9}
AROUSAL = {"joy": 0.8, "pride": 0.5, "calm": 0.1, "fear": 0.9, "anger": 0.9, "shame": 0.3}


def _stories(rng, d=24, L=2, per=30, neutral_scale=0.0, neutral_dir=None):
    valence_dir = np.zeros(d)
    valence_dir[0] = 1.0
    acts, labels = [], []
    for name, val in VALENCE.items():
        x = rng.normal(scale=0.3, size=(per, L, d)) + 2.0 * val * valence_dir
        if neutral_dir is not None:  # a nuisance direction varying across stories
            x += neutral_scale * rng.normal(size=(per, L, 1)) * neutral_dir
        acts.append(x)
        labels += [name] * per
    return np.concatenate(acts), labels, valence_dir


def test_emotion_vectors_follow_valence_and_pc1_is_valence():
    rng = np.random.default_rng(0)
    acts, labels, valence_dir = _stories(rng)
    ev = emotion_vectors(acts, labels, VALENCE, AROUSAL, None, 0.0)
    assert ev.names == sorted(VALENCE)
    v = np.stack([np.broadcast_to(-valence_dir, (2, 24)), np.broadcast_to(valence_dir, (2, 24))])
    scatter = scatter_alignment(ev, v, layer=1)
    assert scatter["slope"] < -0.9 and scatter["r"] < -0.99  # the trained "tight line"
    assert scatter["most_gold_aligned"][0][0] == "joy"
    assert scatter["most_mold_aligned"][0][0] == "shame"
    pcs, ratios = emotion_pcs(ev)
    assert ratios[0, 0] > 0.9
    loadings = pc_loadings(pcs, v)
    assert loadings["pc1"]["gold"][0] > 0.95 and loadings["pc1"]["mold"][0] < -0.95


def test_neutral_components_are_projected_out():
    rng = np.random.default_rng(1)
    nuisance = np.zeros(24)
    nuisance[5] = 1.0
    acts, labels, _ = _stories(rng, neutral_dir=nuisance, neutral_scale=5.0)
    neutral = (
        rng.normal(scale=0.1, size=(200, 2, 24)) + 5.0 * rng.normal(size=(200, 2, 1)) * nuisance
    )
    raw = emotion_vectors(acts, labels, VALENCE, AROUSAL, None, 0.0)
    clean = emotion_vectors(acts, labels, VALENCE, AROUSAL, neutral, 0.5)
    assert np.abs(raw.vectors[..., 5]).max() > 0.3
    assert np.abs(clean.vectors[..., 5]).max() < 0.05
    assert clean.n_pcs_removed.tolist() == [1, 1]


def test_sentiment_difference_of_means_and_cosines():
    acts = np.array([[[1.0, 0]], [[3.0, 0]], [[0.0, 1]]])  # (3, L=1, d=2)
    s = difference_of_means(acts, [True, True, False])
    np.testing.assert_allclose(s, [[2.0, -1.0]])
    v = np.array([[[-2.0, 1.0]], [[2.0, -1.0]]])
    cos = sentiment_cosines({"prompt": s}, v)
    np.testing.assert_allclose(cos["prompt"]["gold"], [1.0])
    np.testing.assert_allclose(cos["prompt"]["mold"], [-1.0])


def test_valence_correlation_has_a_permutation_p():
    rng = np.random.default_rng(2)
    acts, labels, valence_dir = _stories(rng)
    ev = emotion_vectors(acts, labels, VALENCE, AROUSAL, None, 0.0)
    aligned = np.stack(
        [np.broadcast_to(-valence_dir, (2, 24)), np.broadcast_to(valence_dir, (2, 24))]
    )
    assert scatter_alignment(ev, aligned, layer=0)["valence_r_p_gold"] < 0.05
    unrelated = np.zeros_like(aligned)
    unrelated[:, :, 7] = [
        [1.0],
        [-1.0],
    ]  # antiparallel but orthogonal to valence: slope −1, no valence
    scatter = scatter_alignment(ev, unrelated + 1e-3 * rng.normal(size=unrelated.shape), layer=0)
    assert scatter["valence_r_p_gold"] > 0.05
