"""`welfare train` end to end on a tiny model: checkpoints, exact resume, LoRA, SFT."""

from __future__ import annotations

import csv
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from welfare.cli import main
from welfare.config import ParamsError, load_params, params_hash, validate_params
from welfare.env.sft import make_demonstration
from welfare.env.tables import sft_columns, write_table
from welfare.maze import MazeConfig
from welfare.model.load import load_model
from welfare.rl import trainer
from welfare.rl.checkpoint import checkpoint_fingerprint, latest_checkpoint, model_identity
from welfare.rl.config import TrainConfig
from welfare.rl.trainer import RunPaths, train

REPO = Path(__file__).resolve().parents[2]
TIMING = {"step_seconds", "rollout_decisions_per_s", "update_tokens_per_s"}


def _params(steps: int = 4, **row) -> dict:
    params = load_params(REPO / "params.yaml")
    params["maze"].update(size=20, turns=4)
    params["train"].update(steps=steps, mazes_per_step=2, group_size=2, micro_batch=3, lr=3e-3)
    params["train"]["checkpoint"]["every"] = 2
    params["train"]["eval"].update(every=2, n_mazes=2, sampled_group=0)
    params["organisms"] = {
        "tiny": {
            "base": "naive",
            "algorithm": "drgrpo",
            "adapter": "full",
            "mapping": "office",
            "seed": 3,
            **row,
        }
    }
    return params


def _paths(root: Path, base: Path, env: Path | None = None) -> RunPaths:
    return RunPaths(out=root / "models/tiny", metrics=root / "metrics/tiny", base=base, env=env)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return [
            {k: v for k, v in r.items() if k not in TIMING}
            for r in csv.DictReader(fh, delimiter="\t")
        ]


def test_later_keys_at_their_defaults_leave_checkpoint_fingerprints_as_they_were():
    params = _params(algorithm="reinforce")
    cfg = TrainConfig.for_organism(params, "tiny")
    defaults = (cfg.rollout_batch, cfg.policy_gradient, cfg.rotations, cfg.rotation_moves)
    assert defaults == (0, "sampled", 1, "independent")
    before = asdict(cfg)  # the fingerprint's inputs before these keys existed
    for key in ("steps", "checkpoint_every", "eval_every", "eval_mazes", "eval_sampled_group"):
        before.pop(key)
    for key in ("rollout_batch", "policy_gradient", "rotations", "rotation_moves"):
        before.pop(key)
    assert (cfg.curriculum_steps, cfg.curriculum_turns) == (0, 1)
    for key in ("curriculum_steps", "curriculum_turns"):
        before.pop(key)
    world = {k: params.get(k) for k in ("maze", "env")} | {"mapping": params["mappings"]["office"]}
    legacy = params_hash({"run": before | {"base": "b"}, "world": world})
    assert cfg.fingerprint(params, "b") == legacy
    params["train"]["rollout_batch"] = 4  # other samples: other checkpoints
    assert TrainConfig.for_organism(params, "tiny").fingerprint(params, "b") != legacy
    params["train"].update(rollout_batch=0, policy_gradient="all_actions")  # another update
    assert TrainConfig.for_organism(params, "tiny").fingerprint(params, "b") != legacy
    params["train"].update(policy_gradient="sampled", rotations=2)  # other mazes
    assert TrainConfig.for_organism(params, "tiny").fingerprint(params, "b") != legacy
    params["train"].update(rotations=1, rotation_moves="shared")  # other walks
    assert TrainConfig.for_organism(params, "tiny").fingerprint(params, "b") != legacy
    params["train"].update(rotation_moves="independent", curriculum={"steps": 2, "turns": 1})
    assert TrainConfig.for_organism(params, "tiny").fingerprint(params, "b") != legacy


@pytest.mark.parametrize(("algorithm", "discount"), [("drgrpo", 0.0), ("reinforce", 0.5)])
def test_all_actions_needs_reinforce_at_discount_0(algorithm, discount):
    params = _params(algorithm=algorithm)
    params["train"].update(policy_gradient="all_actions", discount=discount)
    with pytest.raises(ParamsError, match="organisms.tiny: train.policy_gradient all_actions"):
        validate_params(params)
    params["organisms"]["tiny"].update(algorithm="reinforce", train={"discount": 0.0})
    validate_params(params)  # the organism's own train: decides


def test_mazes_per_step_must_split_into_rotations():
    params = _params()
    params["train"]["rotations"] = 4  # 2 mazes a step
    with pytest.raises(ParamsError, match=r"organisms.tiny: train.mazes_per_step \(2\)"):
        validate_params(params)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"rotations": 1}, "train.rotation_moves shared needs train.rotations 2 or 4"),
        ({"policy_gradient": "sampled"}, "train.rotation_moves shared needs"),
        ({"rollout_batch": 3}, r"train.rollout_batch \(3\) must be 0 or a multiple"),
    ],
)
def test_shared_moves_need_turned_copies_all_actions_and_whole_blocks(change, expected):
    params = _params(algorithm="reinforce")
    params["train"].update(
        policy_gradient="all_actions", discount=0.0, rotations=2, rotation_moves="shared"
    )
    validate_params(params)
    params["train"].update(change)
    with pytest.raises(ParamsError, match=f"organisms.tiny: {expected}"):
        validate_params(params)


@pytest.mark.parametrize(
    ("row", "curriculum", "expected"),
    [
        ({"algorithm": "sft"}, {"steps": 2}, "train.curriculum is for RL"),
        ({}, {"steps": 2, "turns": 4}, r"train.curriculum.turns: expected below maze.turns \(4\)"),
    ],
)
def test_a_curriculum_needs_rl_and_shorter_episodes(row, curriculum, expected):
    params = _params(**row)
    params["train"]["curriculum"] = {"steps": 0, "turns": 4}  # off: anything goes
    validate_params(params)
    params["train"]["curriculum"] = curriculum
    with pytest.raises(ParamsError, match=f"organisms.tiny: {expected}"):
        validate_params(params)


def test_a_curriculum_plays_short_episodes_first_and_evaluates_whole_ones(
    tmp_path, tiny_dir, monkeypatch
):
    played, evaluated, moments = [], [], []
    real_rollout, real_evaluate = trainer.rollout, trainer.evaluate_model
    real_update = trainer.policy_update

    def spy_rollout(model, tokenizer, episodes, **kw):
        played.append(episodes.turns)
        return real_rollout(model, tokenizer, episodes, **kw)

    def spy_evaluate(model, tokenizer, seeds, config, *args, **kw):
        evaluated.append(config.turns)
        return real_evaluate(model, tokenizer, seeds, config, *args, **kw)

    def spy_update(model, optimizer, *args, **kw):
        moments.append(len(optimizer.state))
        return real_update(model, optimizer, *args, **kw)

    monkeypatch.setattr(trainer, "rollout", spy_rollout)
    monkeypatch.setattr(trainer, "evaluate_model", spy_evaluate)
    monkeypatch.setattr(trainer, "policy_update", spy_update)
    params = _params(steps=3)
    params["train"]["curriculum"] = {"steps": 2, "turns": 1}
    paths = _paths(tmp_path, tiny_dir)
    train(params, "tiny", paths)
    assert played == [1, 1, 4]  # maze.turns is 4
    assert evaluated == [4, 4, 4]  # steps 0, 2 and 3
    # Adam's moments: none before the first step, kept into the second, reset for whole episodes
    assert moments[0] == 0 and moments[1] > 0 and moments[2] == 0


def test_all_actions_run_trains_and_differs_from_the_sampled_one(tmp_path, tiny_dir):
    def final_weights(policy_gradient: str, moves: str = "independent") -> dict:
        params = _params(steps=2, algorithm="reinforce")
        params["train"].update(
            policy_gradient=policy_gradient, discount=0.0, rotations=2, rotation_moves=moves
        )
        paths = _paths(tmp_path / f"{policy_gradient}-{moves}", tiny_dir)
        train(params, "tiny", paths)
        assert [r["step"] for r in _rows(paths.metrics / "train.tsv")] == ["1", "2"]
        return load_file(paths.out / "step-0002/model.safetensors")

    start = load_file(tiny_dir / "model.safetensors")
    sampled, expected = final_weights("sampled"), final_weights("all_actions")
    assert any(not torch.equal(expected[k], start[k]) for k in start)  # it learns something
    assert any(not torch.equal(expected[k], sampled[k]) for k in start)  # from another signal
    shared = final_weights("all_actions", "shared")  # other states: another update
    assert any(not torch.equal(expected[k], shared[k]) for k in start)


@pytest.mark.parametrize("curriculum", [0, 2], ids=["plain", "killed-at-the-curriculum-end"])
def test_killed_run_resumes_exactly(tmp_path, tiny_dir, curriculum):
    def params(steps: int) -> dict:
        row = _params(steps=steps)
        row["train"]["curriculum"] = {"steps": curriculum, "turns": 1}
        return row

    straight = _paths(tmp_path / "a", tiny_dir)
    train(params(4), "tiny", straight)
    resumed = _paths(tmp_path / "b", tiny_dir)
    train(params(2), "tiny", resumed)  # "killed" after step 2 ...
    assert latest_checkpoint(resumed.out).name == "step-0002"
    train(params(4), "tiny", resumed)  # ... and started again (more steps may follow)
    assert not list(resumed.out.glob("stale-*"))  # it resumed: nothing was set aside
    a = load_file(straight.out / "final/model.safetensors")
    b = load_file(resumed.out / "final/model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert _rows(straight.metrics / "train.tsv") == _rows(resumed.metrics / "train.tsv")
    assert [r["step"] for r in _rows(resumed.metrics / "eval.tsv")] == ["0", "2", "4"]
    # training did change the weights
    start = load_file(tiny_dir / "model.safetensors")
    assert any(not torch.equal(start[k], a[k]) for k in start)


def test_curves_deleted_after_a_kill_come_back_whole(tmp_path, tiny_dir, monkeypatch):
    """Killed after the step-2 checkpoint of 4 steps, then Snakemake deletes the failed job's
    outputs (train.tsv, eval.tsv) and reruns it: the resumed run writes the full curves, and
    the half-written checkpoint a kill left behind is removed."""
    import shutil

    from welfare.rl import trainer as trainer_module

    straight = _paths(tmp_path / "a", tiny_dir)
    train(_params(steps=4), "tiny", straight)
    resumed = _paths(tmp_path / "b", tiny_dir)
    save = trainer_module.save_checkpoint

    def save_then_die(path, *args, **kwargs):
        save(path, *args, **kwargs)
        if path.name == "step-0002":
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(trainer_module, "save_checkpoint", save_then_die)
        with pytest.raises(KeyboardInterrupt):
            train(_params(steps=4), "tiny", resumed)
    for name in ("train.tsv", "eval.tsv"):
        (resumed.metrics / name).unlink()
    leftover = resumed.out / ".step-0004.tmp-99999"  # a kill during a checkpoint write
    shutil.copytree(resumed.out / "step-0002", leftover)
    train(_params(steps=4), "tiny", resumed)
    assert _rows(resumed.metrics / "train.tsv") == _rows(straight.metrics / "train.tsv")
    assert len(_rows(resumed.metrics / "train.tsv")) == 4
    assert _rows(resumed.metrics / "eval.tsv") == _rows(straight.metrics / "eval.tsv")
    assert [r["step"] for r in _rows(resumed.metrics / "eval.tsv")] == ["0", "2", "4"]
    assert not leftover.exists()


def test_an_extended_run_whose_curves_were_deleted_keeps_every_evaluation(tmp_path, tiny_dir):
    """Run 2 steps, then ask for 4: Snakemake deletes the job's curves before the rerun, and the
    step-2 checkpoint's copy must hold the step-2 evaluation (it is taken before the save)."""
    straight = _paths(tmp_path / "a", tiny_dir)
    train(_params(steps=4), "tiny", straight)
    extended = _paths(tmp_path / "b", tiny_dir)
    train(_params(steps=2), "tiny", extended)
    for name in ("train.tsv", "eval.tsv"):
        (extended.metrics / name).unlink()
    train(_params(steps=4), "tiny", extended)
    assert [r["step"] for r in _rows(extended.metrics / "eval.tsv")] == ["0", "2", "4"]
    assert _rows(extended.metrics / "eval.tsv") == _rows(straight.metrics / "eval.tsv")
    assert _rows(extended.metrics / "train.tsv") == _rows(straight.metrics / "train.tsv")


def test_a_second_writer_of_the_same_out_fails_at_once(tmp_path, tiny_dir, monkeypatch, capsys):
    import yaml

    from welfare.io import exclusive

    overlay = tmp_path / "params.yaml"
    overlay.write_text(yaml.safe_dump(_params(steps=1), allow_unicode=True))
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--params", str(overlay), "--organism", "tiny", "--base", str(tiny_dir)]
    with exclusive(Path("models/tiny")):  # another `welfare train` is writing models/tiny
        assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: welfare train: models/tiny: another process (pid ")
    assert not (tmp_path / "models/tiny/final").exists()
    assert main(argv) == 0  # the lock is gone with its holder


def test_checkpoints_of_other_params_are_set_aside_not_resumed(tmp_path, tiny_dir):
    paths = _paths(tmp_path, tiny_dir)
    train(_params(steps=2), "tiny", paths)
    first = load_file(paths.out / "step-0002/model.safetensors")
    other = _params(steps=2)
    other["train"]["lr"] = 1e-3  # e.g. a Snakemake rerun after a params change
    train(other, "tiny", paths)
    stale = paths.out / "stale-0/step-0002"
    kept = load_file(stale / "model.safetensors")
    assert all(torch.equal(kept[k], first[k]) for k in first)
    cfg = TrainConfig.for_organism(other, "tiny")
    latest = latest_checkpoint(paths.out)
    assert checkpoint_fingerprint(latest) == cfg.fingerprint(other, model_identity(tiny_dir))
    assert [r["step"] for r in _rows(paths.metrics / "train.tsv")] == ["1", "2"]  # from step 0
    third = _params(steps=2)
    third["train"]["lr"] = 2e-3
    train(third, "tiny", paths)
    assert [p.name for p in paths.out.glob("stale-*")] == ["stale-0"]  # no pile-up


def test_checkpoints_are_complete_hf_directories(tmp_path, tiny_dir, runtime):
    paths = _paths(tmp_path, tiny_dir)
    summary = train(_params(steps=2, algorithm="reinforce"), "tiny", paths)
    assert sorted(p.name for p in paths.out.iterdir()) == ["final", "step-0002"]
    model, tokenizer = load_model(paths.out / "step-0002", runtime)
    assert tokenizer.chat_template
    assert (paths.out / "step-0002/trainer_state.pt").exists()
    assert not (paths.out / "final/trainer_state.pt").exists()
    load_model(paths.out / "final", runtime)
    header = (paths.metrics / "train.tsv").read_text().splitlines()[0].split("\t")
    for column in (
        "return_mean",
        "return_std",
        "gold_rate",
        "mold_rate",
        "path_rate",
        "wind_per_episode",
        "policy_entropy",
        "equalized_entropy",
        "kl",
        "clip_fraction",
        "zero_spread_groups",
        "rollout_decisions_per_s",
        "update_tokens_per_s",
    ):
        assert column in header
    # the cosine multiplier scales the LR and the entropy bonus alike
    from welfare.lm import cosine_multiplier

    params = _params(steps=2)
    lr, beta = params["train"]["lr"], params["train"]["entropy_coef"]
    with open(paths.metrics / "train.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            factor = cosine_multiplier(int(row["step"]) - 1, 500)
            assert float(row["lr"]) == pytest.approx(lr * factor, rel=1e-4)
            assert float(row["entropy_coef"]) == pytest.approx(beta * factor, rel=1e-4)
    assert set(summary["references"]) == {
        "random",
        "keep_straight",
        "random_non_mold",
        "greedy_oracle",
        "optimal_planner",
    }
    assert "greedy_mean_return" in summary["final"]
    assert not list(paths.out.glob(".*tmp*"))  # no temporary leftovers


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["merged", "adapter"])
def test_lora_checkpoints_load_and_resume(tmp_path, tiny_dir, runtime, fmt):
    params = _params(steps=2, adapter="lora")
    params["train"]["lora"].update(rank=4, alpha=8)
    params["train"]["checkpoint"]["format"] = fmt
    paths = _paths(tmp_path, tiny_dir)
    train(params, "tiny", paths)
    step2 = paths.out / "step-0002"
    assert (step2 / "adapter_config.json").exists() == (fmt == "adapter")
    assert (step2 / "adapter" / "adapter_config.json").exists() == (fmt == "merged")
    model, _ = load_model(step2, runtime)
    assert hasattr(model, "peft_config") == (fmt == "adapter")
    params["train"]["steps"] = 3
    train(params, "tiny", paths)  # resumes from the LoRA checkpoint
    assert latest_checkpoint(paths.out).name == "step-0003"


def test_two_fresh_lora_runs_are_the_same_run(tmp_path, tiny_dir):
    """peft draws LoRA's A from torch's global generator: the trainer seeds it from the
    organism, so a fresh run repeats bitwise whatever ran before it in the process."""
    params = _params(steps=1, adapter="lora")
    params["train"]["lora"].update(rank=4, alpha=8)
    params["train"]["eval"]["every"] = 0

    def weights(name: str) -> dict:
        torch.rand(7)  # the global generator in another state each time
        paths = _paths(tmp_path / name, tiny_dir)
        train(params, "tiny", paths)
        return load_file(paths.out / "step-0001/adapter/adapter_model.safetensors")

    a, b = weights("a"), weights("b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_sft_learns_the_demonstrations(tmp_path, tiny_dir):
    params = _params(algorithm="sft")
    config = MazeConfig.from_params(params["maze"])
    env = tmp_path / "env"
    demos = [make_demonstration(700000 + i, config) for i in range(8)]
    write_table(env / "sft.parquet", sft_columns(demos), {"test": "1"})
    params["train"]["sft"].update(epochs=6, batch_size=4)
    params["train"]["lr"] = 1e-2
    paths = _paths(tmp_path, tiny_dir, env)
    train(params, "tiny", paths)
    rows = _rows(paths.metrics / "train.tsv")
    assert len(rows) == 12  # ceil(6 epochs · 8 demos / 4)
    first, last = float(rows[0]["loss"]), float(rows[-1]["loss"])
    assert last < 0.7 * first


def test_cli_trains_an_organism_from_params_naive(tmp_path, tiny_dir, monkeypatch):
    """`base: naive` is the maze-naive organism `params.naive` names (the kept one by default)."""
    import yaml

    params = _params(steps=1)
    params["naive"] = str(tiny_dir)
    overlay = tmp_path / "params.yaml"
    overlay.write_text(yaml.safe_dump(params, allow_unicode=True))
    monkeypatch.chdir(tmp_path)
    code = main(["train", "--params", str(overlay), "--organism", "tiny"])
    assert code == 0
    assert (tmp_path / "models/tiny/final/model.safetensors").exists()
    assert (tmp_path / "metrics/tiny/eval.json").exists()
