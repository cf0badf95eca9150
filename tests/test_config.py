"""Params validation: malformed files fail with one line naming the key path; defaults fill in."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from welfare.cli import main
from welfare.config import (
    REPO_ROOT,
    SCHEMA_DIR,
    ParamsError,
    deep_merge,
    fill_defaults,
    load_params,
    merge_params,
    params_hash,
    validate_params,
)

# (name, file content, text the one-line message must contain)
MALFORMED: list[tuple[str, str, str]] = [
    (
        "steer_rule_scorer",
        "steer: {rule_scorer: vader}\n",
        'steer.rule_scorer: expected one of "lexicon", "natural", got "vader"',
    ),
    (
        "steer_prompt_set",
        "steer: {prompt_set: english}\n",
        'steer.prompt_set: expected one of "scale", "builtin", got "english"',
    ),
    (
        "steer_sentiment_neutral",
        "steer: {sentiment: {neutral: 1}}\n",
        "steer.sentiment.neutral: expected boolean, got 1",
    ),
    (
        "track_correctness_source",
        "track: {correctness: {source: qa}}\n",
        'track.correctness.source: expected one of "corpus", "mmlu", "gsm8k", "builtin", got "qa"',
    ),
    ("unknown_top_key", "sede: 1\n", '(top level): unknown key "sede" (allowed: '),
    ("unknown_maze_key", "maze: {sise: 100}\n", 'maze: unknown key "sise" (allowed: apostrophe,'),
    (
        "size_not_integer",
        "maze: {size: big}\n",
        'maze.size: expected integer ≥ 20 and ≤ 1000, got "big"',
    ),
    ("size_too_small", "maze: {size: 5}\n", "maze.size: expected integer ≥ 20 and ≤ 1000, got 5"),
    (
        "turns_float",
        "maze: {turns: 15.5}\n",
        "maze.turns: expected integer ≥ 1 and ≤ 200, got 15.5",
    ),
    (
        "wind_mode",
        "maze: {wind: {mode: sideways}}\n",
        'maze.wind.mode: expected one of "move_then_push", "override", got "sideways"',
    ),
    (
        "wind_probability",
        "maze: {wind: {probability: 1.5}}\n",
        "maze.wind.probability: expected number ≥ 0 and ≤ 1, got 1.5",
    ),
    ("wind_unknown_key", "maze: {wind: {prob: 0.1}}\n", 'maze.wind: unknown key "prob"'),
    ("apostrophe", 'maze: {apostrophe: "`"}\n', "maze.apostrophe: expected one of"),
    ("melting_string", 'maze: {melting: "yes"}\n', 'maze.melting: expected boolean, got "yes"'),
    (
        "reward_string",
        'maze: {rewards: {gold: "20"}}\n',
        'maze.rewards.gold: expected number, got "20"',
    ),
    (
        "mold_fraction_negative",
        "maze: {mold_fraction: {low: -0.1}}\n",
        "maze.mold_fraction.low: expected number ≥ 0",
    ),
    (
        "fresh_blocks_over_batch",
        "pretrain: {batch_size: 4, fresh: {blocks: 6}}\n",
        "pretrain.fresh.blocks: expected at most pretrain.batch_size (4), got 6",
    ),
    (
        "restart_after_the_end",
        "pretrain: {steps: 400, restart: {at_step: 400}}\n",
        "pretrain.restart.at_step: expected below pretrain.steps (400), got 400",
    ),
    (
        "early_restart_after_the_check",
        "pretrain: {restart: {at_step: 300, early: {at_step: 300}}}\n",
        "pretrain.restart.early.at_step: expected below pretrain.restart.at_step (300), got 300",
    ),
    (
        "late_restart_before_the_check",
        "pretrain: {steps: 400, restart: {at_step: 300, late: {at_step: 200}}}\n",
        "pretrain.restart.late.at_step: expected after pretrain.restart.at_step (300) and below "
        "pretrain.steps (400), got 200",
    ),
    (
        "axis_position_not_recorded",
        "activations: {positions: [letter]}\n",
        'axis.positions: expected a subset of activations.positions ["letter"], got '
        '["letter", "decision"]',
    ),
    (
        "steer_position_not_analysed",
        "axis: {positions: [decision], steer_position: letter}\n",
        'axis.steer_position: expected one of axis.positions ["decision"], got "letter"',
    ),
    (
        "unknown_position",
        "activations: {positions: [letter, first]}\n",
        "activations.positions.1: expected one of",
    ),
    (
        "late_restart_after_the_end",
        "pretrain: {steps: 400, restart: {at_step: 300, late: {at_step: 400}}}\n",
        "pretrain.restart.late.at_step: expected after pretrain.restart.at_step (300) and below "
        "pretrain.steps (400), got 400",
    ),
    (
        "late_restart_bar_out_of_range",
        "pretrain: {restart: {late: {at_step: 3500, min_accuracy: 1.5}}}\n",
        "pretrain.restart.late.min_accuracy",
    ),
    (
        "restart_without_probe",
        "pretrain: {restart: {at_step: 100}, reading_probe: {n: 0}}\n",
        "pretrain.restart.at_step: the restart rule reads the reading probe",
    ),
    (
        "restart_unknown_probe",
        "pretrain: {restart: {questions: [how]}}\n",
        'pretrain.restart.questions.0: expected one of "what2", "where2", "what", "where"',
    ),
    (
        "phase_before_the_curriculum_ends",
        "pretrain: {fresh: {few_clauses: {steps: 2000},\n"
        "  phases: [{from_step: 1500, genres: [qa_selfeval]}]}}\n",
        "pretrain.fresh.phases.0.from_step: expected above the previous phase's start (2000), "
        "got 1500",
    ),
    (
        "phase_after_the_last_step",
        "pretrain: {steps: 500, fresh: {few_clauses: {steps: 100},\n"
        "  phases: [{from_step: 500, genres: [qa_selfeval]}]}}\n",
        "pretrain.fresh.phases.0.from_step: expected below pretrain.steps (500), got 500 "
        "(a phase that never runs; drop it from the list)",
    ),
    (
        "phase_unknown_override",
        "pretrain: {fresh: {phases: [{from_step: 3000, genres: [qa_selfeval],\n"
        "  overrides: {qa_selfeval: {formz: [short]}}}]}}\n",
        'pretrain.fresh.phases.0.overrides.qa_selfeval: unknown key "formz"',
    ),
    (
        "mold_fraction_order",
        "maze: {mold_fraction: {low: 0.5, high: 0.5}}\n",
        "maze.mold_fraction: expected low < high, got low 0.5, high 0.5",
    ),
    (
        "clause_order",
        "corpus: {genres: {spatial_reading: {min_clauses: 3, max_clauses: 2}}}\n",
        "corpus.genres.spatial_reading: expected min_clauses ≤ max_clauses, got min_clauses 3",
    ),
    (
        "carve_order",
        "maze: {carve_steps: {low: 20, high: 5}}\n",
        "maze.carve_steps: expected low ≤ high, got low 20, high 5",
    ),
    ("gold_ratio_negative", "maze: {gold_ratio: -1}\n", "maze.gold_ratio: expected number ≥ 0"),
    (
        "mapping_missing_tile",
        'mappings: {office: {mold: "a", gold: "b"}}\n',
        'mappings.office: missing key "path" (required: mold, gold, path)',
    ),
    (
        "mapping_duplicate_symbols",
        'mappings: {office: {mold: "a", gold: "a", path: "c"}}\n',
        "mappings.office: expected three different tile symbols",
    ),
    (
        "mapping_bad_name",
        'mappings: {Office: {mold: "a", gold: "b", path: "c"}}\n',
        'mappings: invalid name "Office"',
    ),
    (
        "mapping_empty_symbol",
        'mappings: {office: {mold: "", gold: "b", path: "c"}}\n',
        "mappings.office.mold: expected a non-empty string",
    ),
    (
        "mapping_unknown_tile",
        'mappings: {office: {mold: "a", gold: "b", path: "c", lava: "d"}}\n',
        'mappings.office: unknown key "lava"',
    ),
    (
        "env_per_class_zero",
        "env: {extraction: {per_class: 0}}\n",
        "env.extraction.per_class: expected integer ≥ 1 and ≤ 1000000, got 0",
    ),
    (
        "env_heldout_one",
        "env: {extraction: {heldout_fraction: 1}}\n",
        "env.extraction.heldout_fraction: expected number > 0 and < 1, got 1",
    ),
    ("env_eval_unknown", "env: {eval: {n_maze: 3}}\n", 'env.eval: unknown key "n_maze"'),
    (
        "runtime_device",
        "runtime: {device: tpu}\n",
        'runtime.device: expected one of "auto", "cpu", "cuda", got "tpu"',
    ),
    ("seed_negative", "seed: -1\n", "seed: expected integer ≥ 0, got -1"),
    (
        "organism_mapping",
        "organisms: {grpo: {algorithm: drgrpo, adapter: full, mapping: nope}}\n",
        'organisms.grpo.mapping: expected one of "office"',
    ),
    # A base goes into shell commands: anything but a plain path or hub id is refused.
    *[
        (
            f"base_{i}",
            "organisms: {x: {base: " + yaml.safe_dump(bad).strip() + ", algorithm: sft, "
            "adapter: full, mapping: office}}\n",
            "organisms.x.base: expected a name matching",
        )
        for i, bad in enumerate(
            ["$(touch /tmp/PWNED)", "`id`", "a; rm -rf b", "two words", "-x", "q'uote", ""]
        )
    ],
    (
        "train_steps_zero",
        "train: {steps: 0}\n",
        "train.steps: expected integer ≥ 1 and ≤ 100000, got 0",
    ),
    ("top_level_list", "- 1\n", "(top level): expected a mapping, got [1]"),
    ("not_yaml", "maze: {size: 100\n", "not valid YAML (line 2, column 1)"),
]


@pytest.mark.parametrize(("name", "content", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_fails_with_one_line_naming_the_key(
    name: str, content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(content, encoding="utf-8")
    rc = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {path}: ")
    assert message in lines[0]


def test_unknown_key_suggests_the_close_name(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("maze: {sise: 100}\n")
    with pytest.raises(ParamsError, match='did you mean "size"'):
        load_params(path)


def test_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "absent.yaml")]) != 0
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'absent.yaml'}: file not found"


def test_every_stage_validates_before_work(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("maze: {size: big}\n")
    rc = main(["maze", "--params", str(path), "show", "--seed", "0"])
    assert rc == 2 and "maze.size" in capsys.readouterr().err


def test_default_params_validate_via_the_console_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "welfare", "validate"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "valid"


def _documented_stack(overlay: Path) -> list[Path]:
    """The params files an overlay's header says to run it with (its `--configfile` line), or the
    default below it: an overlay meant to stack on another is validated as that stack."""
    for line in overlay.read_text().splitlines():
        if match := re.search(r"--configfile\s+(.+)$", line):
            names = itertools.takewhile(lambda t: t.endswith(".yaml"), match.group(1).split())
            files = [REPO_ROOT / name for name in names]
            assert overlay in files and all(f.is_file() for f in files), line
            return files
    return [REPO_ROOT / "params.yaml", overlay]


@pytest.mark.parametrize("overlay", sorted(p.name for p in (REPO_ROOT / "params").glob("*.yaml")))
def test_every_shipped_overlay_validates(overlay: str) -> None:
    from welfare.model.organism import is_organism_dir

    params = load_params(_documented_stack(REPO_ROOT / "params" / overlay))
    for row in params["organisms"].values():
        base = REPO_ROOT / row["base"]
        if row["base"].startswith("models/imported/"):  # a real LM the overlay imports
            assert row["base"].split("/")[2] in params["imports"], row["base"]
            continue
        # A local base directory in the repo is a kept organism (evaluated at organism scale).
        assert not base.is_dir() or is_organism_dir(base), row["base"]


def test_empty_overlay_gets_every_default(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    params = load_params(path)
    assert params["maze"]["size"] == 100
    assert params["maze"]["wind"] == {"probability": 0.1, "mode": "move_then_push"}
    assert params["env"]["extraction"]["seed_base"] == 474747
    assert "office" in params["mappings"]
    # a real LM's battery is opt-in: the organism's prompts and lexicon scorers by default
    assert params["steer"]["rule_scorer"] == "lexicon" and params["steer"]["prompt_set"] == "scale"
    assert params["steer"]["sentiment"]["neutral"] is False
    assert params["track"]["correctness"]["source"] == "corpus"


def test_defaults_fill_in_inside_array_items(tmp_path: Path) -> None:
    overlay = tmp_path / "phases.yaml"
    overlay.write_text("pretrain: {fresh: {phases: [{from_step: 2500, genres: [qa_selfeval]}]}}\n")
    (phase,) = load_params([REPO_ROOT / "params.yaml", overlay])["pretrain"]["fresh"]["phases"]
    assert phase == {"from_step": 2500, "genres": ["qa_selfeval"], "overrides": {}}


def test_overlay_changes_only_what_it_names(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("maze: {wind: {mode: override}}\n")
    params = load_params([REPO_ROOT / "params.yaml", overlay])
    assert params["maze"]["wind"] == {"probability": 0.1, "mode": "override"}
    assert params["maze"]["size"] == 100


def _schema_defaults(schema: dict[str, Any], where: str) -> list[str]:
    """Key paths in a section schema that lack a `default:`."""
    missing = []
    for key, sub in schema.get("properties", {}).items():
        if "default" not in sub:
            missing.append(f"{where}.{key}")
        missing += _schema_defaults(sub, f"{where}.{key}")
    return missing


@pytest.mark.parametrize("section", ["maze", "env", "runtime", "mappings"])
def test_section_schema_is_closed_and_every_key_has_a_default(section: str) -> None:
    schema = yaml.safe_load((SCHEMA_DIR / f"{section}.schema.yaml").read_text())
    assert "default" in schema
    assert _schema_defaults(schema, section) == []
    closed = schema.get("additionalProperties") is False or isinstance(
        schema.get("additionalProperties"), dict
    )
    assert closed


def _keys(tree: Any, prefix: str = "") -> set[str]:
    if not isinstance(tree, dict):
        return set()
    out = set()
    for key, value in tree.items():
        out.add(prefix + key)
        out |= _keys(value, prefix + key + ".")
    return out


@pytest.mark.parametrize("section", ["maze", "env", "runtime"])
def test_params_yaml_writes_out_every_key(section: str) -> None:
    written = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    filled = validate_params({})
    assert _keys(written[section]) == _keys(filled[section])


def test_deep_merge_and_params_hash() -> None:
    base = {"a": {"b": 1, "c": 2}, "d": [1]}
    merged = deep_merge(base, {"a": {"c": 3}, "d": [2]})
    assert merged == {"a": {"b": 1, "c": 3}, "d": [2]} and base["a"]["c"] == 2
    params = load_params(REPO_ROOT / "params.yaml")
    other = deep_merge(params, {"maze": {"size": 50}})
    assert params_hash(params) == params_hash(load_params(REPO_ROOT / "params.yaml"))
    assert params_hash(params) != params_hash(other)
    assert params_hash(params, ["env"]) == params_hash(other, ["env"])


def test_overlay_replaces_the_organism_table(tmp_path: Path) -> None:
    # A paper-scale overlay names its own organisms; the default row must not leak into it.
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(
        "organisms:\n  only: {algorithm: sft, adapter: lora, mapping: office_swap}\n"
        "maze: {turns: 11}\n"
    )
    params = load_params([REPO_ROOT / "params.yaml", overlay])
    assert list(params["organisms"]) == ["only"]
    assert params["maze"]["turns"] == 11
    assert params["maze"]["size"] == 100  # other sections still merge


@pytest.mark.parametrize(
    "base",
    ["naive", "Qwen/Qwen3-4B-Instruct-2507", "models/smollm2", "organisms/reference",
     "/abs/path/model_v1.5", "../kept/organism", "openai/gpt-oss-20b"],
)  # fmt: skip
def test_a_plain_path_or_hub_id_is_a_valid_base(base: str) -> None:
    row = {"base": base, "algorithm": "sft", "adapter": "full", "mapping": "office"}
    assert validate_params({"organisms": {"x": row}})["organisms"]["x"]["base"] == base


def test_defaults_fill_in_without_jsonschema_as_validation_fills_them():
    """Machines without jsonschema (the GPU device; bench/paper_scale.py) merge the files and
    fill the schema's defaults (`merge_params`, `fill_defaults`): the params validation gives."""
    files = [REPO_ROOT / "params.yaml", REPO_ROOT / "params" / "paper.yaml"]
    assert fill_defaults(merge_params(files)) == load_params(files)
    assert fill_defaults(merge_params(files[:1])) == load_params(files[:1])


def test_schemas_ship_inside_the_package() -> None:
    """The schema files are package data (pyproject), so a wheel, not only a checkout, validates:
    `pip wheel --no-deps .` and a `load_params` from the installed copy (docs/conventions.md)."""
    import fnmatch
    import tomllib

    import welfare

    package = Path(welfare.__file__).resolve().parent
    assert SCHEMA_DIR.is_relative_to(package)
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["welfare"]
    files = sorted(SCHEMA_DIR.glob("*.schema.yaml"))
    assert len(files) > 10
    for file in files:
        relative = file.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
