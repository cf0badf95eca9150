"""No params value reaches a shell unquoted: every `{...}` in a rule's shell command is `:q`
(Snakemake's shlex quoting), except the two argument lists the rules build already quoted, and
a hostile `base` never gets as far as a command (the schema refuses it, tests/test_config.py)."""

from __future__ import annotations

import re

import workflow_helpers as wh

# Several words each, built with shlex.quote (Snakefile: PARAMS_ARGS; the rules' corpus args).
PRE_QUOTED = {"params.files", "params.corpus"}


def _shell_commands() -> list[tuple[str, str]]:
    found = []
    for smk in sorted((wh.REPO / "workflow/rules").glob("*.smk")):
        for rule, body in re.findall(r"^rule (\w+):\n((?:    .*\n|\n)+)", smk.read_text(), re.M):
            if "shell:" in body:
                found.append((f"{smk.name}: {rule}", body.split("shell:", 1)[1]))
    return found


def test_every_shell_value_is_quoted() -> None:
    commands = _shell_commands()
    assert len(commands) >= 10
    for where, shell in commands:
        for field in re.findall(r"\{([^{}]+)\}", shell):
            assert field.endswith(":q") or field in PRE_QUOTED, f"{where}: {{{field}}} unquoted"


def test_pre_quoted_lists_are_built_with_shlex() -> None:
    assert "shlex.quote(p)" in (wh.REPO / "Snakefile").read_text()
    for smk in (wh.REPO / "workflow/rules").glob("*.smk"):
        for line in smk.read_text().splitlines():
            if line.strip().startswith("corpus=lambda") and "{" in line:
                assert "shlex.quote" in line, f"{smk.name}: {line.strip()}"


def test_a_hostile_base_is_refused_before_any_job(tmp_path) -> None:
    overlay = tmp_path / "hostile.yaml"
    marker = tmp_path / "PWNED"
    overlay.write_text(
        "organisms:\n"
        f"  reinforce: {{base: '$(touch {marker})', algorithm: reinforce, adapter: full,"
        " mapping: office}\n"
    )
    out = wh.run(
        ["snakemake", "-n", "-p", "--nolock", "--cores", "1", "--configfile", "params.yaml",
         str(overlay), "--", "activations/reinforce/naive.zarr"],
        wh.REPO,
        check=False,
    )  # fmt: skip
    assert "organisms.reinforce.base: expected a name matching" in out, out
    assert not marker.exists()
