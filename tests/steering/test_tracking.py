from __future__ import annotations

import numpy as np
import pytest
import torch

from welfare.steering.stats import cohens_d
from welfare.steering.tracking import (
    block_activations,
    correctness_tracking,
    maze_goal_tracking,
    scalar_projection,
)


def test_block_activations_match_output_hidden_states(chat_tokenizer, tiny_model):
    """hidden_states[l + 1] is block l's output (except the last block: transformers applies the
    final norm to hidden_states[-1]), the oracle for the final template's positions."""
    from welfare.steering.masks import encode_chats

    chats = [
        [{"role": "user", "content": "What is 3 plus 4?"}, {"role": "assistant", "content": "7"},
         {"role": "user", "content": "That's right"}],
        [{"role": "user", "content": "How are you?"}],
    ]  # fmt: skip
    acts = block_activations(tiny_model, chat_tokenizer, chats, [0, 1], "assistant_template")
    for row, chat in enumerate(chats):
        enc = encode_chats(chat_tokenizer, [chat])
        with torch.no_grad():
            out = tiny_model(input_ids=enc.input_ids, output_hidden_states=True)
        positions = enc.template_mask[0].nonzero().squeeze(-1)
        for column, layer in enumerate([0, 1]):
            expected = out.hidden_states[layer + 1][0, positions].numpy()
            np.testing.assert_allclose(acts[row, : len(positions), column], expected, atol=1e-4)


def test_maze_tracking_d_and_sds():
    rng = np.random.default_rng(0)
    d_model, n = 8, 200
    v = rng.normal(size=d_model)
    unit = v / np.linalg.norm(v)
    tiles = np.array(["mold"] * n + ["gold"] * n)
    shift = np.where(tiles == "mold", 1.0, -1.0)[:, None] * unit  # mold +1 along v, gold −1
    acts = (rng.normal(size=(2 * n, d_model)) + 2 * shift)[:, None, None, :]
    out = maze_goal_tracking(acts, tiles, {"v_mold": (3, v), "v_gold": (3, -v)}, [3])
    projection = scalar_projection(acts[:, 0, 0], v)
    expected = cohens_d(projection[tiles == "mold"], projection[tiles == "gold"])
    assert out["v_mold"]["d"] == pytest.approx(expected) and expected > 3
    assert out["v_gold"]["d"] == pytest.approx(expected)  # −v points at gold just as far
    assert out["v_mold"]["mean_sd_mold"] > 0 > out["v_mold"]["mean_sd_gold"]


def test_correctness_tracking_averages_the_template_and_splits_tertiles():
    rng = np.random.default_rng(1)
    n, width, d_model = 90, 3, 4
    v = np.array([1.0, 0, 0, 0])
    correct = np.arange(n) % 2 == 0
    acts = rng.normal(size=(n, width, 1, d_model))
    acts[:, :, 0, 0] += np.where(correct, 1.5, -1.5)[:, None]
    acts[::3, 2] = np.nan  # shorter templates: NaN padding is ignored
    p_true = rng.uniform(size=n)
    out = correctness_tracking(acts, correct, p_true, {"v_gold": (5, v)}, [5])["v_gold"]
    assert out["n_correct"] == 45 and out["d"] > 2
    assert [t["tertile"] for t in out["tertiles"]] == [0, 1, 2]
    assert sum(t["n_correct"] + t["n_incorrect"] for t in out["tertiles"]) == n
    assert all(t["d"] > 1 for t in out["tertiles"])
