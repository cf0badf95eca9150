"""Pretraining: the loss falls, the output loads like any HF model, and a killed run resumes
to exactly the weights of an uninterrupted one."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from welfare.config import load_params
from welfare.corpus.generate import fresh_row_maker, generate_rows, genre_configs
from welfare.model import load_model
from welfare.model import pretrain as pretrain_module
from welfare.model.acceptance import neighbour_probe
from welfare.model.data import FreshBlocks, fresh_blocks
from welfare.model.pretrain import pretrain, resume_dir
from welfare.model.pretrain_config import (
    AcceptanceConfig,
    PretrainConfig,
    RestartCheck,
    RestartRule,
)
from welfare.model.reading_probe import reading_probe
from welfare.model.testing import tiny_pretrain_config, tiny_tokenizer

CPU = {"device": "cpu", "dtype": "float32", "threads": 1}


@pytest.fixture(scope="module")
def rows():
    params = load_params()
    for genre in params["corpus"]["genres"].values():
        genre["n"] = 0
    params["corpus"]["genres"]["request"]["n"] = 40
    params["corpus"]["genres"]["qa_selfeval"]["n"] = 40
    return [r.to_json() for r in generate_rows(params, "train")]


def _cfg(**overrides) -> PretrainConfig:
    return tiny_pretrain_config(load_params(), **overrides)


def test_loss_falls_and_output_loads(rows, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    tokenizer = tiny_tokenizer()
    model, result = pretrain(
        rows, rows[::4], tokenizer, _cfg(), tmp_path / "naive", tmp_path / "curve.tsv"
    )
    curve = list(csv.DictReader((tmp_path / "curve.tsv").read_text().splitlines(), delimiter="\t"))
    assert len(curve) == 30 and float(curve[-1]["lr"]) < float(curve[5]["lr"])
    first = sum(float(r["train_loss"]) for r in curve[:3]) / 3
    last = sum(float(r["train_loss"]) for r in curve[-3:]) / 3
    assert last < first - 1.0
    assert set(result.heldout_loss) == {"request", "qa_selfeval"}
    loaded, tok = load_model(tmp_path / "naive", CPU)
    assert loaded.config.model_type == "qwen3" and len(tok) == len(tokenizer)
    assert not resume_dir(tmp_path / "naive").exists()


def _fresh(tokenizer, n_blocks: int = 2, seed: int = 5) -> FreshBlocks:
    make_row = fresh_row_maker(genre_configs(load_params()), ["spatial_reading", "maze_transcript"])
    return FreshBlocks(((0, make_row),), tokenizer, "assistant", 128, n_blocks, seed)


def test_fresh_blocks_are_a_pure_function_of_the_step_and_never_repeat() -> None:
    tokenizer = tiny_tokenizer()
    a, b = _fresh(tokenizer), _fresh(tokenizer)
    ids3, w3 = a.batch(3)
    assert ids3.shape == (2, 129) and w3.shape == (2, 129)
    np.testing.assert_array_equal(ids3, b.batch(3)[0])  # a resumed run sees the same rows
    assert not np.array_equal(ids3, a.batch(4)[0])
    assert not np.array_equal(ids3, _fresh(tokenizer, seed=6).batch(3)[0])
    assert (w3.sum(axis=1) > 0).all()  # every block carries answer targets
    pad = tokenizer.pad_token_id
    assert (ids3 != pad).mean() > 0.7  # greedy packing fills the blocks
    text = tokenizer.decode(ids3[0])
    assert "there is" in text


def test_fresh_genre_weights_set_the_row_mix_and_a_list_keeps_the_uniform_draw() -> None:
    params = genre_configs(load_params())
    weighted = fresh_row_maker(params, {"spatial_reading": 3, "qa_selfeval": 1})
    rng = np.random.default_rng(0)
    genres = [weighted(rng, i).genre for i in range(800)]
    assert 0.2 < genres.count("qa_selfeval") / len(genres) < 0.3
    # equal weights draw exactly as the list does (the rows of every earlier run)
    listed = fresh_row_maker(params, ["spatial_reading", "qa_selfeval"])
    equal = fresh_row_maker(params, {"spatial_reading": 2, "qa_selfeval": 2})
    r1, r2 = np.random.default_rng(1), np.random.default_rng(1)
    assert [listed(r1, i).to_json() for i in range(20)] == [
        equal(r2, i).to_json() for i in range(20)
    ]


def test_fresh_blocks_follow_the_curriculum_genres_then_the_late_ones() -> None:
    params = load_params()
    params["pretrain"]["fresh"] |= {"blocks": 2, "genres": ["qa_selfeval"]}
    params["pretrain"]["fresh"]["few_clauses"] |= {"steps": 2, "genres": ["spatial_reading"]}
    params["pretrain"]["fresh"]["overrides"] = {"qa_selfeval": {"kinds": ["day"]}}
    fresh = fresh_blocks(
        PretrainConfig.from_params(params), genre_configs(params), tiny_tokenizer()
    )
    rng = np.random.default_rng(0)
    assert {fresh.maker_at(2)(rng, i).meta["kind"] for i in range(20)} == {"day"}  # fresh only
    assert params["corpus"]["genres"]["qa_selfeval"]["kinds"] == [
        "color",
        "legs",
        "day",
        "opposite",
        "add",
        "bigger",
    ]
    assert "there is" in fresh.tokenizer.decode(fresh.batch(1)[0][0])
    assert "there is" not in fresh.tokenizer.decode(fresh.batch(2)[0][0])
    assert "answer is" in fresh.tokenizer.decode(fresh.batch(2)[0][0])


def test_fresh_blocks_follow_the_phases_of_the_schedule() -> None:
    """The binding curriculum's two-clause scenes before `few_clauses.steps`, four-clause ones
    after, and a later phase's genres (with its overrides over `fresh.overrides`) from its
    `from_step` on."""
    params = load_params()
    fresh_cfg = params["pretrain"]["fresh"]
    fresh_cfg |= {"blocks": 2, "genres": ["spatial_reading"]}
    fresh_cfg["few_clauses"] |= {"steps": 3, "clauses": 2, "genres": None}
    fresh_cfg["phases"] = [
        {
            "from_step": 5,
            "genres": ["qa_selfeval"],
            "overrides": {"qa_selfeval": {"forms": ["short"]}},
        }
    ]
    fresh_cfg["overrides"] = {"qa_selfeval": {"kinds": ["day"]}}
    fresh = fresh_blocks(
        PretrainConfig.from_params(params), genre_configs(params), tiny_tokenizer()
    )
    tok = fresh.tokenizer

    def clauses_per_scene(step: int) -> set[int]:
        ids = fresh.batch(step)[0]
        scenes = [s for b in ids for s in tok.decode(b).split("You are in")[1:]]
        return {s.split("?")[0].count("there is") for s in scenes}

    assert clauses_per_scene(2) == {2}
    assert clauses_per_scene(3) == clauses_per_scene(4) == {4}
    rng = np.random.default_rng(0)
    late = [fresh.maker_at(step)(rng, i) for step in (5, 900) for i in range(10)]
    assert {row.genre for row in late} == {"qa_selfeval"}
    assert {row.meta["kind"] for row in late} == {"day"}  # fresh.overrides still apply
    assert all("Correct?" in str(row.to_json()) for row in late)  # the phase's overrides
    assert "there is" not in tok.decode(fresh.batch(5)[0][0])
    with pytest.raises(ValueError, match="phases must start at step 0"):
        FreshBlocks(((1, fresh.maker_at(0)),), tok, "assistant", 128, 1, 0)


@pytest.mark.parametrize("fresh_blocks", [0, 2])
def test_killed_run_resumes_to_the_same_weights(
    rows, tmp_path: Path, monkeypatch, fresh_blocks: int
) -> None:
    torch.set_num_threads(1)
    tokenizer = tiny_tokenizer()
    cfg = _cfg(steps=6, checkpoint_every=3)
    fresh = _fresh(tokenizer, fresh_blocks) if fresh_blocks else None

    def pretrain(*args):
        return pretrain_module.pretrain(*args, fresh=fresh)

    reference, _ = pretrain(rows, rows[:4], tokenizer, cfg, tmp_path / "straight")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # dies after the loop, as a kill would, leaving the resume state

    monkeypatch.setattr(pretrain_module, "heldout_losses", killed)
    with pytest.raises(KeyboardInterrupt):
        pretrain(rows, rows[:4], tokenizer, cfg, tmp_path / "resumed")
    assert (resume_dir(tmp_path / "resumed") / "state.pt").exists()
    assert not (tmp_path / "resumed").exists()
    monkeypatch.undo()
    resumed, result = pretrain(rows, rows[:4], tokenizer, cfg, tmp_path / "resumed")
    assert result.steps == 6 and len(result.curve) == 6
    for (name, a), (_, b) in zip(
        reference.state_dict().items(), resumed.state_dict().items(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_resume_state_of_other_params_is_set_aside(rows, tmp_path: Path, monkeypatch) -> None:
    torch.set_num_threads(1)
    tokenizer = tiny_tokenizer()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(pretrain_module, "heldout_losses", killed)
        with pytest.raises(KeyboardInterrupt):
            pretrain(rows, rows[:4], tokenizer, _cfg(steps=6, checkpoint_every=3), tmp_path / "a")
    other = _cfg(steps=6, checkpoint_every=3, lr=1e-3)  # the params changed before the rerun
    rerun, _ = pretrain(rows, rows[:4], tokenizer, other, tmp_path / "a")
    assert len(list(tmp_path.glob("a.resume.stale-*"))) == 1
    straight, _ = pretrain(rows, rows[:4], tokenizer, other, tmp_path / "b")
    for (name, a), (_, b) in zip(
        straight.state_dict().items(), rerun.state_dict().items(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_restart_rule_starts_over_as_the_next_seed_would(rows, tmp_path: Path, monkeypatch) -> None:
    """A try whose probe is below the bar is dropped; the kept try is exactly the run of
    seed + 1000 (initialisation and every data stream), and a run killed after the restart
    resumes into that try."""
    torch.set_num_threads(1)
    tokenizer = tiny_tokenizer()
    probe = reading_probe(genre_configs(load_params()), tokenizer, n=4)
    rule = {"at_step": 3, "questions": ["what2"], "min_accuracy": 1.01, "max_tries": 2}
    cfg = _cfg(steps=6, seed=7, restart=rule, reading_probe={"every": 2, "n": 4})

    def run(cfg: dict, out: str, fresh_seed: int, neighbours=None):
        fresh = _fresh(tokenizer, seed=fresh_seed)
        return pretrain(
            rows,
            rows[:4],
            tokenizer,
            cfg,
            tmp_path / out,
            fresh=fresh,
            probe=probe,
            neighbours=neighbours,
        )

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # dies after the loop, leaving the resume state of the restart

    with monkeypatch.context() as patch:
        patch.setattr(pretrain_module, "heldout_losses", killed)
        with pytest.raises(KeyboardInterrupt):
            run(cfg, "restarted", 9)
    state = torch.load(resume_dir(tmp_path / "restarted") / "state.pt", weights_only=True)
    assert (state["tries"], state["step"]) == (2, 0)
    restarted, result = run(cfg, "restarted", 9)
    assert (result.tries, result.seed, result.steps) == (2, 1007, 6)
    assert [(p["try"], p["step"]) for p in result.probes] == [
        (1, 2),
        (1, 3),
        (2, 2),
        (2, 3),
        (2, 4),
        (2, 6),
    ]
    assert all("judgment" in p for p in result.probes)  # held-out confidence questions judged
    # The next seed's plain run: its fresh rows are drawn from seed 9 + 1000 as well.
    plain = _cfg(
        steps=6, seed=1007, restart=dict(rule, at_step=0), reading_probe={"every": 2, "n": 4}
    )
    straight, _ = run(plain, "straight", 1009)
    for (name, a), (_, b) in zip(
        straight.state_dict().items(), restarted.state_dict().items(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    neighbours = neighbour_probe(AcceptanceConfig.from_params(load_params()), tokenizer, 20)
    kept_cfg = _cfg(
        steps=6, seed=7, restart=dict(rule, min_accuracy=0.0), reading_probe={"every": 2, "n": 4}
    )
    kept, result = run(kept_cfg, "kept", 9, neighbours)
    assert not torch.equal(kept.model.embed_tokens.weight, restarted.model.embed_tokens.weight)
    # The neighbour probe's column is the best block's held-out accuracy of the model then.
    best = neighbours.accuracy(kept, tokenizer.pad_token_id).mean(axis=1).max()
    assert result.probes[-1]["neighbours"] == pytest.approx(best)


def test_early_check_drops_a_try_at_its_own_step(rows, tmp_path: Path) -> None:
    """The early check restarts at its step on its questions; the last try runs to the end."""
    torch.set_num_threads(1)
    tokenizer = tiny_tokenizer()
    probe = reading_probe(genre_configs(load_params()), tokenizer, n=4)
    early = {"at_step": 2, "questions": ["what2"]}
    rule = {"at_step": 4, "questions": ["where2"], "min_accuracy": 1.01, "max_tries": 2}
    cfg = _cfg(steps=5, seed=7, restart=dict(rule, early=early), reading_probe={"every": 0, "n": 4})
    _, result = pretrain(
        rows, rows[:4], tokenizer, cfg, tmp_path / "early", fresh=_fresh(tokenizer), probe=probe
    )
    assert (result.tries, result.seed) == (2, 1007)
    # try 1 stopped at the early check; try 2 was probed at both checks and at the end
    assert [(p["try"], p["step"]) for p in result.probes] == [(1, 2), (2, 2), (2, 4), (2, 5)]


def test_late_check_drops_a_try_on_its_own_question_and_bar(rows, tmp_path: Path) -> None:
    """The late check restarts after the main check passed, on its own question and bar."""
    torch.set_num_threads(1)
    tokenizer = tiny_tokenizer()
    probe = reading_probe(genre_configs(load_params()), tokenizer, n=4)
    late = {"at_step": 4, "questions": ["where"], "min_accuracy": 1.01}
    rule = {"at_step": 2, "questions": ["what2"], "min_accuracy": 0.0, "max_tries": 2}
    cfg = _cfg(steps=5, seed=7, restart=dict(rule, late=late), reading_probe={"every": 0, "n": 4})
    _, result = pretrain(
        rows, rows[:4], tokenizer, cfg, tmp_path / "late", fresh=_fresh(tokenizer), probe=probe
    )
    assert (result.tries, result.seed) == (2, 1007)
    # try 1 passed the main check (bar 0) and stopped at the late one (bar above 1)
    assert [(p["try"], p["step"]) for p in result.probes] == [
        (1, 2),
        (1, 4),
        (2, 2),
        (2, 4),
        (2, 5),
    ]


def test_restart_checks_take_the_rule_bar_unless_they_name_their_own() -> None:
    rule = {
        "at_step": 2000,
        "questions": ["what2", "where2"],
        "min_accuracy": 0.9,
        "max_tries": 3,
        "early": {"at_step": 1000, "questions": ["what2"], "min_accuracy": None},
        "late": {"at_step": 3500, "questions": ["where"], "min_accuracy": 0.75},
    }
    checks = RestartRule.from_section(rule).checks
    assert dict(checks) == {
        2000: RestartCheck(("what2", "where2"), 0.9),
        1000: RestartCheck(("what2",), 0.9),
        3500: RestartCheck(("where",), 0.75),
    }
    assert [step for step, _ in checks] == [1000, 2000, 3500]
    no_late = dict(rule, late={"at_step": 0, "questions": ["where"], "min_accuracy": None})
    assert dict(RestartRule.from_section(no_late).checks).keys() == {1000, 2000}
    assert RestartRule.from_section(dict(rule, at_step=0)).checks == ()


def test_restart_rule_drops_a_try_below_the_bar_while_tries_are_left() -> None:
    rule = RestartRule(((5, RestartCheck(("what2", "where2"), 0.9)),), max_tries=2)
    below = {"what2": 0.95, "where2": 0.5}
    assert rule.failed(5, below, tries=1) == ["where2"]
    assert rule.failed(5, below, tries=2) == []  # the last try runs to the end
    assert rule.failed(4, below, tries=1) == []  # no check at step 4
    assert [RestartRule.seed(7, t) for t in (1, 2, 3)] == [7, 1007, 2007]


def test_restart_rule_needs_the_probe(rows, tmp_path: Path) -> None:
    rule = {"at_step": 3, "questions": ["what2"], "min_accuracy": 0.9, "max_tries": 2}
    with pytest.raises(ValueError, match="reading probe"):
        pretrain(rows, rows[:4], tiny_tokenizer(), _cfg(restart=rule), tmp_path / "x")


def test_a_kill_after_training_keeps_the_result_for_the_rerun(
    rows, tmp_path: Path, monkeypatch
) -> None:
    """With `keep_resume` (acceptance still to run), the resume state is saved at the final
    step: a rerun after a kill (Snakemake has deleted the model) trains no step again."""
    torch.set_num_threads(1)
    tokenizer = tiny_tokenizer()
    cfg = _cfg(steps=5, checkpoint_every=3)
    first, done = pretrain(rows, rows[:4], tokenizer, cfg, tmp_path / "naive", keep_resume=True)
    assert torch.load(resume_dir(tmp_path / "naive") / "state.pt", weights_only=True)["step"] == 5
    shutil.rmtree(tmp_path / "naive")  # the kill during acceptance; Snakemake removes the output

    def no_training(*args, **kwargs):
        raise AssertionError("a training step ran again")

    monkeypatch.setattr(torch.optim.AdamW, "step", no_training)
    again, result = pretrain(rows, rows[:4], tokenizer, cfg, tmp_path / "naive", keep_resume=True)
    assert result.steps == 5 and result.curve == done.curve
    assert result.final_train_loss == done.final_train_loss
    for (name, a), (_, b) in zip(
        first.state_dict().items(), again.state_dict().items(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    pretrain_module.discard_resume(tmp_path / "naive")
    assert not resume_dir(tmp_path / "naive").exists()
