"""Pretraining's typed config: one phase list from the params' two curriculum mechanisms, the
learning rate, and the batch source that draws each phase's blocks."""

from __future__ import annotations

import math

import numpy as np

from welfare.config import deep_merge, load_params
from welfare.model.data import BatchSource, BlockSchedule, encode_rows
from welfare.model.pretrain_config import PretrainConfig, phases_of
from welfare.model.testing import tiny_tokenizer


def _params(**pretrain) -> dict:
    params = load_params()
    return {**params, "pretrain": deep_merge(params["pretrain"], pretrain)}


def test_the_default_schedule_is_one_phase_list() -> None:
    params = load_params()
    cfg = PretrainConfig.from_params(params)
    fresh = params["pretrain"]["fresh"]
    assert [p.start for p in cfg.phases] == [0, 2000, 3000, 4000]
    assert all(p.corpus_genres is None for p in cfg.phases)  # curriculum.steps is 0
    first, after = cfg.phases[0], cfg.phases[1]
    assert first.fresh_genres == ("spatial_reading",)
    assert first.fresh_overrides["spatial_reading"] == {"min_clauses": 2, "max_clauses": 2}
    assert after.fresh_genres == fresh["genres"] and after.fresh_overrides == fresh["overrides"]
    assert cfg.phases[2].fresh_genres == fresh["phases"][0]["genres"]
    assert cfg.phase_at(2999) == after and cfg.phase_at(10**6) == cfg.phases[-1]
    assert cfg.section is params["pretrain"]  # organism.json and the resume fingerprint


def test_the_corpus_curriculum_and_the_fresh_phases_share_the_list() -> None:
    fresh = {
        "few_clauses": {"steps": 20, "clauses": 2, "genres": None},
        "genres": ["spatial_reading"],
        "overrides": {},
        "phases": [{"from_step": 30, "genres": ["qa_selfeval"], "overrides": {}}],
    }
    phases = phases_of({"steps": 12, "genres": ["arithmetic"]}, fresh)
    assert [(p.start, p.corpus_genres) for p in phases] == [
        (0, ("arithmetic",)),
        (12, None),
        (20, None),
        (30, None),
    ]
    assert phases[1].fresh_overrides == phases[0].fresh_overrides  # still the binding curriculum
    assert phases[2].fresh_overrides == {} and phases[3].fresh_genres == ("qa_selfeval",)
    no_few = dict(fresh, few_clauses={"steps": 0, "clauses": 2, "genres": None})
    assert [p.start for p in phases_of({"steps": 0, "genres": []}, no_few)] == [0, 30]


def test_learning_rate_warms_up_then_follows_the_cosine_to_its_floor() -> None:
    cfg = PretrainConfig.from_params(_params(steps=110, warmup_steps=10, lr=0.01))
    assert cfg.learning_rate(0) == 0.01 * 1 / 10
    assert cfg.learning_rate(9) == 0.01
    assert cfg.learning_rate(10) == 0.01
    floor = cfg.min_lr_ratio
    half = 0.01 * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * 50 / 99)))
    assert math.isclose(cfg.learning_rate(60), half)
    assert math.isclose(cfg.learning_rate(109), 0.01 * floor)


def test_batch_source_draws_the_curriculum_stream_then_the_corpus() -> None:
    """The curriculum's blocks come from its genres (seed + 1, whole batches); after it, the
    corpus's stream starts at its own batch 0."""
    from welfare.corpus.generate import generate_rows

    params = load_params()
    for genre in params["corpus"]["genres"].values():
        genre["n"] = 0
    params["corpus"]["genres"]["arithmetic"]["n"] = 30
    params["corpus"]["genres"]["request"]["n"] = 30
    rows = [r.to_json() for r in generate_rows(params, "train")]
    tokenizer = tiny_tokenizer()
    docs = encode_rows(tokenizer, rows, "assistant")
    genres = [r["genre"] for r in rows]
    pretrain = {"steps": 10, "seq_len": 64, "batch_size": 2, "fresh": {"blocks": 0}}
    pretrain["curriculum"] = {"steps": 3, "genres": ["arithmetic"]}
    cfg = PretrainConfig.from_params(
        {**params, "pretrain": deep_merge(params["pretrain"], pretrain)}
    )
    source = BatchSource(docs, genres, cfg, None, tokenizer.pad_token_id, seed=5)
    pad = tokenizer.pad_token_id
    arithmetic = [d for d, g in zip(docs, genres, strict=True) if g == "arithmetic"]
    warm = BlockSchedule(arithmetic, 64, 2, pad, 6)
    main = BlockSchedule(docs, 64, 2, pad, 5)
    for step in range(10):
        expected = warm.batch_blocks(step) if step < 3 else main.batch_blocks(step - 3)
        np.testing.assert_array_equal(source.batch(step).ids, expected.ids)
    source.close()
