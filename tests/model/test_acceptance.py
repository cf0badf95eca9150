"""Acceptance measurements: the probe, the deep maze prompts, and the report on a random model."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from welfare.config import deep_merge, load_params, validate_params
from welfare.corpus.generate import generate_rows
from welfare.maze import DIRECTIONS, MazeConfig, Tile, TileMapping
from welfare.maze.tiles import DIRECTION_WORDS
from welfare.model import load_model
from welfare.model.acceptance import (
    THRESHOLDS,
    deep_maze_prompts,
    evaluate_acceptance,
    judgment_auroc,
    judgment_rows,
    neighbour_probe,
    p_true_after,
    probe_accuracy,
    reply_logprob,
)
from welfare.model.pretrain_config import AcceptanceConfig
from welfare.model.testing import tiny_model_dir

SMALL = {
    "pretrain": {
        "acceptance": {
            "n_items": 12,
            "scene_questions": 11,
            "probe_episodes": 40,
            "deep_turn_min": 6,
            "max_new_tokens": 6,
        }
    }
}


@pytest.fixture(scope="module")
def params() -> dict:
    return validate_params(deep_merge(load_params(), SMALL))


def test_probe_finds_a_linear_code_and_only_where_it_is() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(300, 4))
    onehot = np.eye(3)[labels].reshape(300, 12)
    encoded = onehot @ rng.normal(size=(12, 16)) + 0.05 * rng.normal(size=(300, 16))
    noise = rng.normal(size=(300, 16))
    acc = probe_accuracy(np.stack([noise, encoded], axis=1), labels)
    assert acc[1].min() > 0.95
    assert acc[0].mean() < 0.5


def test_deep_prompts_have_history_and_true_neighbours(params) -> None:
    mapping = TileMapping.from_params(params, "office")
    maze = MazeConfig.from_params(params["maze"])
    prompts = deep_maze_prompts(maze, mapping, 10, 6, seed=0)
    both = deep_maze_prompts(maze, mapping, 5, 6, seed=0, need_gold_and_mold=True)
    assert len(prompts) == 10 and len(both) == 5
    for prompt in prompts + both:
        assert prompt.turn >= 6 and len(prompt.messages) == 2 * prompt.turn + 1
        last = prompt.messages[-1]["content"]
        for d in DIRECTIONS:
            match = re.search(rf"[Tt]o the {DIRECTION_WORDS[d]} there is (\S+?)[;.]", last)
            assert match and match.group(1) == mapping.symbol(prompt.neighbours[d])
    for prompt in both:
        assert {Tile.GOLD, Tile.MOLD} <= set(prompt.neighbours.values())


def test_random_model_report_is_complete_and_fails(params, tmp_path) -> None:
    torch.set_num_threads(1)
    model, tokenizer = load_model(tiny_model_dir(tmp_path, "qwen3"), {"device": "cpu"})
    heldout = [
        r.to_json()
        for r in generate_rows(
            deep_merge(
                params,
                {
                    "corpus": {
                        "genres": {g: {"n": 25} for g in params["corpus"]["genres"]}
                        | {"spatial_reading": {"n": 400}}
                    }
                },
            ),
            "heldout",
        )
    ]
    report = evaluate_acceptance(model, tokenizer, heldout, AcceptanceConfig.from_params(params))
    assert list(report["checks"]) == list(THRESHOLDS)
    assert report["checks"]["spatial_reading"]["n"] == 11  # scene_questions, not n_items
    for name, check in report["checks"].items():
        assert check["value"] is None or 0.0 <= check["value"] <= 1.0, name
    json.dumps(report, allow_nan=False)  # strict JSON: no NaN
    # An untrained model spreads its mass over ~100 tokens: the format check must fail.
    assert report["checks"]["format_mass"]["value"] < 0.5
    assert not report["passed"]


def test_reply_logprob_is_the_chain_rule_over_next_token_predictions(tmp_path) -> None:
    torch.set_num_threads(1)
    model, tokenizer = load_model(tiny_model_dir(tmp_path, "qwen3"), {"device": "cpu"})
    question = {"role": "user", "content": "What day comes after Monday?"}
    reply = {"role": "assistant", "content": "The answer is Tuesday."}
    prompt = tokenizer.apply_chat_template(
        [question], add_generation_prompt=True, tokenize=True, return_dict=False
    )
    full = tokenizer.apply_chat_template([question, reply], tokenize=True, return_dict=False)
    # oracle: one forward per prefix, the next token's probability read at its last position
    expected = 0.0
    with torch.no_grad():
        for i in range(len(prompt), len(full)):
            logits = model(input_ids=torch.tensor([full[:i]])).logits[0, -1]
            expected += float(torch.log_softmax(logits.float(), -1)[full[i]])
    assert reply_logprob(model, tokenizer, [question, reply]) == pytest.approx(expected, abs=1e-4)


def test_judgment_reads_p_true_after_the_confidence_question_only(params, tmp_path) -> None:
    """`judgment_rows` keeps the rows that ask the paper's question; `p_true_after` is True's
    share of True + False at the next position after the first three messages (oracle: the
    full forward's last logits); `judgment_auroc` ranks those shares against correctness."""
    from sklearn.metrics import roc_auc_score

    torch.set_num_threads(1)
    model, tokenizer = load_model(tiny_model_dir(tmp_path, "qwen3"), {"device": "cpu"})
    qa = deep_merge(params, {"corpus": {"genres": {"qa_selfeval": {"n": 60}}}})
    for name, genre in qa["corpus"]["genres"].items():
        genre["n"] = genre["n"] if name == "qa_selfeval" else 0
    rows = [r.to_json() for r in generate_rows(qa, "train")]
    judged = judgment_rows(rows, 10)
    assert len(judged) == 10 and {r["meta"]["format"] for r in judged} <= {"confidence", "both"}
    assert len(judgment_rows(rows, 1000)) < len(rows)  # feedback rows ask nothing
    true_id, false_id = (
        tokenizer.encode(w, add_special_tokens=False)[0] for w in ("True", "False")
    )
    shares = []
    for row in judged:
        ids = tokenizer.apply_chat_template(
            row["messages"][:3], add_generation_prompt=True, tokenize=True, return_dict=False
        )
        with torch.no_grad():
            probs = torch.softmax(model(input_ids=torch.tensor([ids])).logits[0, -1], -1)
        expected = float(probs[true_id] / (probs[true_id] + probs[false_id]))
        assert p_true_after(model, tokenizer, row["messages"]) == pytest.approx(expected, abs=1e-5)
        shares.append(expected)
    correct = [r["meta"]["correct"] for r in judged]
    model.train()
    assert judgment_auroc(model, tokenizer, judged) == pytest.approx(
        roc_auc_score(correct, shares), abs=1e-6
    )
    assert model.training  # restored


def test_neighbour_probe_states_are_each_prompts_own_hidden_states(params, tmp_path) -> None:
    """Batched, right-padded and length-sorted, `decision_states` gives every prompt what its
    own full forward gives at its last position: `hidden_states[l + 1]` for block l and the
    softmax of the logits; labels are the true neighbours in `DIRECTIONS` order."""
    torch.set_num_threads(1)
    model, tokenizer = load_model(tiny_model_dir(tmp_path, "qwen3"), {"device": "cpu"})
    cfg = AcceptanceConfig.from_params(params)
    probe = neighbour_probe(cfg, tokenizer, 7)
    prompts = deep_maze_prompts(cfg.maze, cfg.mapping, 7, 6, seed=1)
    assert probe.labels.tolist() == [[int(p.neighbours[d]) for d in DIRECTIONS] for p in prompts]
    assert len({len(p) for p in probe.prompts}) > 1  # padding is exercised
    model.train()
    probs, states = probe.decision_states(model, tokenizer.pad_token_id, batch_size=3)
    assert model.training  # restored
    for i, ids in enumerate(probe.prompts):
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        expected = torch.stack([h[0, -1] for h in out.hidden_states[1:]]).numpy()
        np.testing.assert_allclose(states[i], expected, atol=1e-5)
        np.testing.assert_allclose(probs[i], torch.softmax(out.logits[0, -1], -1), atol=1e-6)
