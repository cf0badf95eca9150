"""Where the report's numbers come from: the params, the code version, and the content hashes of
the inputs as DVC records them (dvc.lock) beside their hashes now."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from welfare import __version__
from welfare.io import file_digest


def code_version(root: Path) -> dict[str, str]:
    """Package version, git commit and whether the working tree differs from it."""
    out = {"package": __version__, "commit": "unknown (not a git checkout)", "dirty": ""}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=20
        )
        if commit.returncode == 0:
            out["commit"] = commit.stdout.strip()
            status = subprocess.run(
                [
                    "git",
                    "status",
                    "--porcelain",
                    "--untracked-files=no",
                    "--",
                    "welfare",
                    "workflow",
                    "Snakefile",
                    "dvc.yaml",
                ],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=20,
            )
            out["dirty"] = "yes (uncommitted changes to code)" if status.stdout.strip() else "no"
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def md5_file(path: Path) -> str:
    """MD5 of the bytes, which is DVC 3's hash of a file."""
    return file_digest(path, "md5")


def dvc_lock_hashes(root: Path) -> dict[str, str]:
    """path -> md5 of every output recorded in dvc.lock (directories end in `.dir`)."""
    lock = root / "dvc.lock"
    if not lock.exists():
        return {}
    try:
        data = yaml.safe_load(lock.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return {}
    hashes = {}
    for stage in (data.get("stages") or {}).values():
        for entry in (stage or {}).get("outs", []) or []:
            if isinstance(entry, dict) and "path" in entry and "md5" in entry:
                hashes[entry["path"]] = entry["md5"]
    return hashes


def input_hashes(root: Path, files: list[Path]) -> list[dict[str, Any]]:
    """One row per input file: its md5 now, DVC's recorded md5, and whether they agree; then
    every other dvc.lock output (models, data, vectors) with its recorded hash."""
    recorded = dvc_lock_hashes(root)
    rows = []
    for path in sorted(set(files)):
        rel = path.relative_to(root).as_posix() if path.is_absolute() else path.as_posix()
        now = md5_file(root / rel) if (root / rel).is_file() else None
        dvc = recorded.pop(rel, None)
        status = (
            "missing"
            if now is None
            else "not in dvc.lock"
            if dvc is None
            else "matches dvc.lock"
            if dvc == now
            else "differs from dvc.lock"
        )
        rows.append({"path": rel, "md5": now or "—", "dvc_lock": dvc or "—", "status": status})
    for rel, dvc in sorted(recorded.items()):
        rows.append(
            {"path": rel, "md5": "(not rehashed)", "dvc_lock": dvc, "status": "upstream output"}
        )
    return rows


def params_yaml(params: dict[str, Any]) -> str:
    return yaml.safe_dump(params, sort_keys=False, allow_unicode=True, width=100)
