"""Every section of the protocol that the code, schemas, tests and docs cite exists in
docs/protocol.md (the repository's own statement of the paper's protocol), and the rewrite of
old "docs/protocol.md §x" citations keeps Python lines within the line limit."""

from __future__ import annotations

import importlib.util
import sys

from welfare.config import REPO_ROOT

SCRIPT = REPO_ROOT / "workflow" / "scripts" / "cite_protocol.py"
CITING = ["welfare", "workflow", "tests", "bench", "params", "params.yaml", "README.md", "docs"]


def _script():
    spec = importlib.util.spec_from_file_location("cite_protocol", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_cited_section_exists(capsys) -> None:
    cite = _script()
    status = cite.main(["--check", "--sections-only", *(str(REPO_ROOT / p) for p in CITING)])
    assert status == 0, capsys.readouterr().out


# The old form, spelled so that the rewrite and its check leave this file alone.
OLD = "PAPER"


def test_the_rewrite_points_at_the_protocol_and_wraps_long_lines(tmp_path) -> None:
    cite = _script()
    source = tmp_path / "module.py"
    source.write_text(
        f'"""The env stage ({OLD} §3.1): extraction trajectories, held-out eval mazes, SFT demos.\n'
        "\n"
        "More text.\n"
        '"""\n'
        "\n"
        f"# A comment that cites {OLD} App. K and runs to within a few characters of the limit.\n"
        "CAPTION = (\n"
        f'    "Steering slope per unit α when v is taken and added at each layer ({OLD} §4.13)."\n'
        ")\n"
        f"{OLD}_MESSAGE = 1  # an identifier, not a citation\n"
    )
    assert cite.rewrite_file(source)
    text = source.read_text()
    assert f"{OLD} §" not in text and f"{OLD} App" not in text
    assert "docs/protocol.md §3.1" in text and "docs/protocol.md App. K" in text
    assert f"{OLD}_MESSAGE = 1" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    namespace: dict = {}
    exec(compile(text, str(source), "exec"), namespace)
    assert namespace["CAPTION"].endswith("(docs/protocol.md §4.13).")
