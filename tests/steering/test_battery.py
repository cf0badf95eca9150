from __future__ import annotations

import numpy as np
import pytest
import torch

from welfare.steering.battery import (
    BatteryInputs,
    BatterySettings,
    Condition,
    collect,
    conditions,
    metrics_for,
    score_records,
    summarize,
    summarize_metric,
)
from welfare.steering.datasets import Prompt, user
from welfare.steering.generate import GenerationSettings, generate_responses
from welfare.steering.vectors import SteeringVector


def _vector(name, direction, layer=2, kind="trained"):
    return SteeringVector(name, kind, name.split("_")[-1], layer, direction)


def test_conditions_share_one_baseline():
    v = _vector("v_mold", torch.ones(4))
    u = _vector("u_mold", torch.ones(4), kind="control")
    conds = conditions([v, u], [-2, 0, 2])
    assert [c.name for c in conds] == [None, "v_mold", "v_mold", "u_mold", "u_mold"]
    assert conds[0].additions() == {} and not Condition(v, 0.0).steered


def test_summary_recovers_slope_and_flags_incoherent_points():
    rng = np.random.default_rng(0)
    records = []
    for alpha in (-4.0, -2.0, 0.0, 2.0, 4.0):
        vector = None if alpha == 0 else "v_gold"
        for i in range(200):
            incoherent = alpha == 4.0 and i < 190  # 95% nonsensical at +4
            score = 0.7 * alpha + rng.normal()
            records.append(
                {"eval": "sentiment", "vector": vector, "alpha": alpha, "meta": {},
                 "verdict": round(score), "degenerate": incoherent}
            )  # fmt: skip
    metric = metrics_for(records)["sentiment"]
    summary = summarize_metric(records, metric, "v_gold")
    assert summary["slope"] == pytest.approx(0.7, abs=0.05) and 0 < summary["se"] < 0.03
    assert summary["n"] == 1000
    masked = {p["alpha"]: p["masked"] for p in summary["points"]}
    assert masked == {-4.0: False, -2.0: False, 0.0: False, 2.0: False, 4.0: True}
    # the layer sweep's slope leaves α = 0 out, but its point stays in the data
    sweep = summarize_metric(records, metric, "v_gold", slope_alphas=[-4, -2, 2, 4])
    assert sweep["n"] == 800 and len(sweep["points"]) == 5


def test_score_records_uses_the_selected_rule_scorer():
    english = {
        "sentiment": "I feel wonderful and excited today!",
        "refusal": "I'm sorry, but I can't help with that.",
        "backtracking": "She has 12 apples and eats 5, so 8. On second thought, 12 - 5 = 7 apples.",
    }

    def records():
        return [
            {"eval": e, "vector": None, "alpha": 0.0, "meta": {}, "prompt": "?", "response": t}
            for e, t in english.items()
        ]

    natural, lexicon = records(), records()
    score_records(natural, rule_scorer="natural")
    score_records(lexicon)  # the organism's lexicon by default
    got = {r["eval"]: r["verdict"] for r in natural}
    assert got["sentiment"] >= 3 and got["refusal"] == "direct_refusal"
    assert got["backtracking"] == "backtracking"
    # the organism's lexicon does not read this English ("wonderful" and "excited" are its
    # words, but its refusal and backtracking phrases are not these)
    assert {r["eval"]: r["verdict"] for r in lexicon} == {
        "sentiment": 2,
        "refusal": "direct_answer",
        "backtracking": "normal",
    }
    assert all(r["verdict"] == r["rule"] and r["degenerate"] is False for r in natural)


@pytest.fixture(scope="module")
def qa():
    return [
        Prompt(f"q/{i}", [user(f"What is {i} plus {i + 1}?")], {"true_answer": str(2 * i + 1)})
        for i in range(6)
    ]


def test_p_true_follows_the_true_minus_false_direction(chat_tokenizer, tiny_model, qa):
    """Steering the last block with +(W_True − W_False) must raise P(True) at the readout, −
    lower it: a property that fails if the probe's header is not steered."""
    model, tok = tiny_model, chat_tokenizer
    head = model.get_output_embeddings().weight.detach()
    t_id, f_id = tok.convert_tokens_to_ids("True"), tok.convert_tokens_to_ids("False")
    last = model.config.num_hidden_layers - 1
    direction = head[t_id] - head[f_id]
    vectors = [_vector("v_gold", direction, last), _vector("v_mold", -direction, last)]
    settings = BatterySettings(samples={}, generation=GenerationSettings(), answer_max_new_tokens=3)
    inputs = BatteryInputs(confidence={"qa": qa})
    records = collect(model, tok, inputs, conditions(vectors, [-2, 0, 2]), settings, ["confidence"])
    summary = summarize(records, vectors)
    gold, mold = summary["p_true"]["v_gold"], summary["p_true"]["v_mold"]
    assert gold["slope"] > 0 and gold["slope"] > 5 * gold["se"]
    assert mold["slope"] < 0 and -mold["slope"] > 5 * mold["se"]
    assert "p_true_correct" in summary or "p_true_incorrect" in summary


def test_generation_alpha_zero_identical_and_steering_changes_text(chat_tokenizer, tiny_model, qa):
    settings = GenerationSettings(max_new_tokens=6, temperature=1.0, batch_size=8, seed=3)
    chats = [p.chat for p in qa]
    plain = generate_responses(tiny_model, chat_tokenizer, chats, 2, {}, settings)
    zero = generate_responses(tiny_model, chat_tokenizer, chats, 2, {1: torch.zeros(32)}, settings)
    assert plain == zero and all(len(r) == 2 for r in plain)
    push = {1: 30 * torch.randn(32, generator=torch.Generator().manual_seed(0))}
    assert generate_responses(tiny_model, chat_tokenizer, chats, 2, push, settings) != plain
