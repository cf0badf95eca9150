"""The package's layers run one way: a module imports only its own layer and the ones below.

    bottom      welfare (the package: __version__), welfare.config, welfare.io
    layers      maze < env < lm < corpus < model < rl < activations < axis < steering < report
    top         welfare.cli, welfare.config_cli, welfare.__main__ (they dispatch to every stage)

`welfare.lm` (the output head, padding, the cosine schedule, the direction-token check) sits
below `corpus` because the tokenizer stage (`welfare.corpus.tokenizer_cli`) checks the tokenizer
it trains with it; it imports nothing above `maze`. Every `import welfare…` / `from welfare…
import` counts, at the top of a file or inside a function (an import inside a function hides
the graph but still binds the layers).

Imports sit at the top of files, except the few lazy ones kept for a CLI's start-up time
(`LAZY`: torch and transformers come with them), and no CLI module imports another.

`ALLOWED` names edges that break the order today, each a known debt (issue 23): the list may
only shrink.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "welfare"

BOTTOM = ("welfare", "welfare.config", "welfare.io")
LAYERS = (
    "maze",
    "env",
    "lm",
    "corpus",
    "model",
    "rl",
    "activations",
    "axis",
    "steering",
    "report",
)
TOP = ("welfare.cli", "welfare.config_cli", "welfare.__main__")

# Lazy `welfare` imports kept for start-up time: welfare.rl pulls in transformers (~0.5 s), so
# `welfare steer --help` and `welfare train --help` would pay it.
LAZY = {
    "steering/maze_eval.py": {"welfare.rl.chat", "welfare.rl.policy", "welfare.rl.rollout"},
    "rl/cli.py": {"welfare.rl.trainer"},
}

# (importing module, imported module) pairs that break the order today. None at present.
ALLOWED: frozenset[tuple[str, str]] = frozenset()


def rank(module: str) -> int:
    """The layer of a `welfare…` module: bottom -1, the layers 0.., top above them."""
    if module in BOTTOM:
        return -1
    if module in TOP:
        return len(LAYERS)
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in LAYERS:
        raise AssertionError(f"{module}: in no layer; place it in tests/test_layers.py")
    return LAYERS.index(parts[1])


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def welfare_imports(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) of every `welfare…` import in the file, at any depth."""
    found = []
    package = module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [
                (a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "welfare"
            ]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] == "welfare":
                found.append((name, node.lineno))
    return found


def edges() -> list[tuple[str, str, int]]:
    return [
        (module_name(path), imported, line)
        for path in sorted(PACKAGE.rglob("*.py"))
        for imported, line in welfare_imports(path)
    ]


def test_every_module_has_a_layer() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        rank(module_name(path))


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        f"{source}:{line} imports {target}"
        for source, target, line in edges()
        if rank(target) > rank(source) and (source, target) not in ALLOWED
    ]
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_the_allowed_edges_still_exist() -> None:
    """An allowed edge that was fixed leaves the list (so the list only shrinks)."""
    present = {(source, target) for source, target, _ in edges()}
    assert present >= ALLOWED, sorted(ALLOWED - present)


@pytest.mark.parametrize(
    ("source", "target", "upward"),
    [
        ("welfare.model.pretrain", "welfare.rl.policy", True),
        ("welfare.corpus.tokenizer_cli", "welfare.model.load", True),
        ("welfare.corpus.tokenizer_cli", "welfare.lm", False),
        ("welfare.rl.trainer", "welfare.model", False),
        ("welfare.cli", "welfare.report.cli", False),
        ("welfare.lm", "welfare.io", False),
    ],
)
def test_rank_orders_the_layers(source: str, target: str, upward: bool) -> None:
    assert (rank(target) > rank(source)) is upward


def _imports(tree: ast.AST) -> list[tuple[str, bool]]:
    """(module, inside a function) of every absolute `welfare` import."""
    out: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [child.module] + [f"{child.module}.{a.name}" for a in child.names]
                out.extend((n, in_function) for n in names if n.split(".")[0] == "welfare")
            elif isinstance(child, ast.Import):
                out.extend(
                    (a.name, in_function) for a in child.names if a.name.startswith("welfare")
                )
            visit(child, inner)

    visit(tree, False)
    return out


def test_welfare_imports_at_the_top_of_files() -> None:
    lazy = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        for module, in_function in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            allowed = LAZY.get(rel, set())
            if in_function and module not in allowed and module.rsplit(".", 1)[0] not in allowed:
                lazy.append(f"{rel}: {module}")
    assert not lazy, lazy


def test_no_cli_module_imports_another() -> None:
    def is_cli(module_or_file: str) -> bool:
        leaf = module_or_file.rsplit(".", 1)[-1] if "/" not in module_or_file else module_or_file
        leaf = leaf.removesuffix(".py").rsplit("/", 1)[-1]
        return leaf == "cli" or leaf.endswith("_cli")

    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        if not is_cli(rel):
            continue
        for module, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if any(is_cli(p) for p in module.split(".")[1:]):
                wrong.append(f"{rel}: {module}")
    assert not wrong, wrong
