"""The upper layers' import contract (issue 23): activations < axis < steering < report import
only downward, `welfare` imports sit at the top of files (except the few lazy ones kept for the
CLI's start-up time, listed here), and no CLI module imports another."""

from __future__ import annotations

import ast
from pathlib import Path

import welfare

ROOT = Path(welfare.__file__).parent
# Lower layers first; shared helpers (welfare.io, welfare.config, welfare itself) are below all.
LAYERS = ["maze", "env", "corpus", "lm", "model", "rl", "activations", "axis", "steering", "report"]
CHECKED = ("activations", "axis", "steering", "report")
# welfare.rl pulls in transformers (~0.5 s): `welfare steer --help` would pay it at start-up.
LAZY = {"steering/maze_eval.py": {"welfare.rl.chat", "welfare.rl.policy", "welfare.rl.rollout"}}


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


def _layer(module: str) -> int | None:
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else ""
    return LAYERS.index(name) if name in LAYERS else None


def _files():
    for package in CHECKED:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path, str(path.relative_to(ROOT))


def test_upper_layers_import_only_downward():
    wrong = []
    for package, path, rel in _files():
        own = LAYERS.index(package)
        for module, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            layer = _layer(module)
            if layer is not None and layer > own:
                wrong.append(f"{rel}: {module}")
    assert not wrong, wrong


def test_welfare_imports_at_the_top_of_files():
    lazy = []
    for _, path, rel in _files():
        for module, in_function in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            allowed = LAZY.get(rel, set())
            if in_function and module not in allowed and module.rsplit(".", 1)[0] not in allowed:
                lazy.append(f"{rel}: {module}")
    assert not lazy, lazy


def test_no_cli_module_imports_another():
    def is_cli(module_or_file: str) -> bool:
        leaf = module_or_file.rsplit(".", 1)[-1] if "/" not in module_or_file else module_or_file
        leaf = leaf.removesuffix(".py").rsplit("/", 1)[-1]
        return leaf == "cli" or leaf.endswith("_cli")

    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if not is_cli(rel):
            continue
        for module, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if any(is_cli(p) for p in module.split(".")[1:]):
                wrong.append(f"{rel}: {module}")
    assert not wrong, wrong
