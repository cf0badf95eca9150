"""What Snakemake and DVC each say the pipeline is, in one comparable shape, and their differences.

Snakemake's side is read from `snakemake -n -p --forceall` (every job: rule, wildcards, inputs,
outputs, shell command) and the STAGE_PARAMS table its rules use as their params trigger; DVC's
side from the stages DVC resolves (`foreach` expanded) and `dvc dag --dot`. Both are reduced to
`Stage` records keyed `rule@wildcard`, DVC's naming.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Files a copy of the workflow needs (the `welfare` package itself is installed, editable).
# `organisms/` holds the kept organism the default DAG starts from (params.naive).
WORKFLOW_FILES = ["Snakefile", "dvc.yaml", "params.yaml", ".dvcignore", "workflow", "organisms"]


def env() -> dict[str, str]:
    """The environment for snakemake/dvc/welfare subprocesses: this venv first, DVC quiet."""
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "PYTHONHASHSEED": "0",
    }


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: float = 600) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}) in {cwd}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout + proc.stderr


def copy_workflow(dest: Path, extra: list[str] = ()) -> Path:
    """A copy of the workflow files (not data) in `dest`, as a git + DVC repository."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in [*WORKFLOW_FILES, *extra]:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    run(["git", "init", "-q"], dest)
    run(["git", "config", "user.email", "test@example.invalid"], dest)
    run(["git", "config", "user.name", "test"], dest)
    run(["dvc", "init", "-q"], dest)
    # As in the repo's .dvc/config: offline, no update check.
    run(["dvc", "config", "core.analytics", "false"], dest)
    run(["dvc", "config", "core.check_update", "false"], dest)
    return dest


@dataclass
class Stage:
    name: str
    cmd: str = ""
    deps: set[str] = field(default_factory=set)
    outs: set[str] = field(default_factory=set)
    params: set[str] = field(default_factory=set)


def _norm_cmd(cmd: str) -> str:
    # The `2> {log}` redirection is Snakemake's bookkeeping (DVC prints stderr); the command
    # itself must match word for word.
    cmd = re.sub(r"\s+2>\s*\S+\s*$", "", cmd.strip())
    return " ".join(cmd.split())


def _split_list(value: str) -> set[str]:
    return {item.strip() for item in value.split(",") if item.strip()}


def load_stage_params(root: Path, params_files: list[str]):
    """`stage_param_keys(stage, wildcards)` from workflow/rules/common.smk (plain Python): the
    params keys each rule declares as its rerun trigger."""
    from welfare.config import load_params

    namespace: dict[str, object] = {"PARAMS": load_params([root / p for p in params_files])}
    exec(compile((root / "workflow/rules/common.smk").read_text(), "common.smk", "exec"), namespace)
    return namespace["stage_param_keys"]


# `all` (the report and everything it needs), `env_all` (every mapping's env sets, as DVC's
# `foreach: ${mappings}` builds them) and `scratch` (the organism pretrained from scratch: DVC's
# `pretrain` stage, which the default DAG does not need while params.naive is the kept organism).
SNAKEMAKE_TARGETS = ("all", "env_all", "scratch")


def snakemake_stages(root: Path, params_files: list[str] = ("params.yaml",)) -> dict[str, Stage]:
    """Every job of `snakemake -n -p --forceall all env_all` except the target-only rules, keyed
    like DVC stages."""
    out = run(
        [
            "snakemake",
            "-n",
            "-p",
            "--forceall",
            "--nolock",
            "--cores",
            "1",
            "--configfile",
            *params_files,
            "--",
            *SNAKEMAKE_TARGETS,
        ],
        root,
    )
    param_keys = load_stage_params(root, list(params_files))
    stages: dict[str, Stage] = {}
    current: dict[str, str] | None = None
    rule = ""

    def finish() -> None:
        if current is None or rule in SNAKEMAKE_TARGETS:
            return
        wildcards = dict(item.split("=", 1) for item in _split_list(current.get("wildcards", "")))
        name = rule + ("@" + "-".join(wildcards.values()) if wildcards else "")
        keys = set(param_keys(rule, wildcards))
        stages[name] = Stage(
            name=name,
            cmd=_norm_cmd(current.get("cmd", "")),
            deps=_split_list(current.get("input", "")),
            outs=_split_list(current.get("output", "")),
            params=keys,
        )

    for line in out.splitlines():
        header = re.match(r"^(?:local)?rule (\w+):$", line)
        if header:
            finish()
            rule, current = header.group(1), {}
            continue
        if current is None:
            continue
        field_match = re.match(r"^    (input|output|wildcards): (.*)$", line)
        if field_match:
            current[field_match.group(1)] = field_match.group(2)
        elif line.startswith("Shell command: "):
            current["cmd"] = line[len("Shell command: ") :]
    finish()
    return stages


def snakemake_edges(stages: dict[str, Stage]) -> set[tuple[str, str]]:
    """Producer -> consumer pairs implied by the files the jobs exchange."""
    producer = {out: stage.name for stage in stages.values() for out in stage.outs}
    return {
        (producer[dep], stage.name)
        for stage in stages.values()
        for dep in stage.deps
        if dep in producer
    }


def dvc_stages(root: Path) -> tuple[dict[str, Stage], set[tuple[str, str]]]:
    """The stages DVC resolves from dvc.yaml (foreach expanded), with their params keys, and the
    edges of DVC's graph (upstream, downstream), in one DVC start-up."""
    code = (
        "import json\n"
        "from dvc.repo import Repo\n"
        "from dvc.dependency.param import ParamsDependency\n"
        "repo = Repo('.')\n"
        "stages = []\n"
        "for s in repo.index.stages:\n"
        "    params = [k for d in s.deps if isinstance(d, ParamsDependency) for k in d.params]\n"
        "    deps = [d.def_path for d in s.deps if not isinstance(d, ParamsDependency)]\n"
        "    outs = [o.def_path for o in s.outs]\n"
        "    stages.append([s.addressing, s.cmd, deps, outs, params])\n"
        "edges = [[u.addressing, d.addressing] for d, u in repo.index.graph.edges]\n"
        "print(json.dumps([stages, edges]))\n"
    )
    import json

    out = subprocess.run(
        [str(BIN / "python"), "-c", code],
        cwd=root,
        env=env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise AssertionError(f"dvc could not read {root / 'dvc.yaml'}:\n{out.stderr}")
    stages, edges = json.loads(out.stdout)
    return (
        {
            name: Stage(name, _norm_cmd(cmd), set(deps), set(outs), set(params))
            for name, cmd, deps, outs, params in stages
        },
        {(up, down) for up, down in edges},
    )


def dvc_edges(root: Path) -> set[tuple[str, str]]:
    """Edges of `dvc dag --dot`."""
    out = run(["dvc", "dag", "--dot"], root)
    return set(re.findall(r'"([^"]+)" -> "([^"]+)"', out))


def _deps_match(sm: set[str], dvc: set[str]) -> bool:
    """Equal, or DVC lists a directory that holds exactly the files Snakemake lists (the report
    reads `metrics/`; DVC cannot enumerate per-organism files outside a `foreach`)."""
    if sm == dvc:
        return True
    covered = {
        path for path in sm for d in dvc if path == d or path.startswith(d.rstrip("/") + "/")
    }
    return covered == sm and all(
        any(p.startswith(d.rstrip("/") + "/") or p == d for p in sm) for d in dvc
    )


def _ancestors(node: str, edges: set[tuple[str, str]]) -> set[str]:
    found, frontier = set(), {node}
    while frontier:
        frontier = {u for u, d in edges if d in frontier} - found
        found |= frontier
    return found


def _directory_edge(
    up: str, down: str, sm: dict[str, Stage], dvc: dict[str, Stage], sm_edges: set[tuple[str, str]]
) -> bool:
    """A DVC-only edge that exists because `down` depends on a whole directory (the report on
    `metrics/`) into which `up` writes files Snakemake's job does not read, `up` being no
    ancestor of `down` in Snakemake (an env stage of a mapping no organism uses)."""
    if up not in sm or down not in dvc:
        return False
    dirs = [d.rstrip("/") + "/" for d in dvc[down].deps]
    writes_inside = any(o.startswith(d) for o in dvc[up].outs for d in dirs)
    return writes_inside and up not in _ancestors(down, sm_edges)


def differences(
    sm: dict[str, Stage],
    dvc: dict[str, Stage],
    sm_edges: set[tuple[str, str]],
    dvc_edges_: set[tuple[str, str]],
) -> list[str]:
    """Human-readable differences between the two graphs; empty when they agree."""
    diffs = []
    for name in sorted(set(sm) - set(dvc)):
        diffs.append(f"{name}: a Snakemake job with no DVC stage")
    for name in sorted(set(dvc) - set(sm)):
        diffs.append(f"{name}: a DVC stage with no Snakemake job")
    for name in sorted(set(sm) & set(dvc)):
        a, b = sm[name], dvc[name]
        if a.cmd != b.cmd:
            diffs.append(f"{name}: command differs:\n  snakemake: {a.cmd}\n  dvc:       {b.cmd}")
        if not _deps_match(a.deps, b.deps):
            diffs.append(f"{name}: deps differ: snakemake {sorted(a.deps)} dvc {sorted(b.deps)}")
        if a.outs != b.outs:
            diffs.append(f"{name}: outs differ: snakemake {sorted(a.outs)} dvc {sorted(b.outs)}")
        if a.params != b.params:
            diffs.append(
                f"{name}: params differ: snakemake {sorted(a.params)} dvc {sorted(b.params)}"
            )
    for edge in sorted(sm_edges - dvc_edges_):
        diffs.append(f"edge {edge[0]} -> {edge[1]}: in Snakemake only")
    for up, down in sorted(dvc_edges_ - sm_edges):
        if _directory_edge(up, down, sm, dvc, sm_edges):
            continue
        diffs.append(f"edge {up} -> {down}: in DVC only")
    return diffs
