"""Atomic outputs, and inputs that fail in one line.

Outputs: write to a temporary sibling, rename into place when complete. A killed job leaves at
worst a `.<name>.tmp-*` sibling, never a half-written output under the final name, so Snakemake,
DVC and `resume` logic can trust that an existing output is complete.

Inputs: `InputError` is a failure the user can fix (a missing, corrupt or mismatched file, an
unknown name); `welfare` prints its message, one line that names the file, and exits 1
(`-v` keeps the traceback). `reading(path)` turns any failure to read `path` into one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class InputError(Exception):
    """Bad input the user can fix; the message is one line naming the file (or key) and the
    problem. `welfare.cli.main` prints it instead of a traceback."""


def one_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, or its type's name."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


@contextmanager
def reading(path: str | Path, what: str = "") -> Iterator[None]:
    """Turn a failure while reading `path` into an InputError naming it (and `what` it is)."""
    try:
        yield
    except InputError:
        raise
    except Exception as exc:  # whatever the reader raises for a damaged file
        kind = f"{what}: " if what else ""
        if isinstance(exc, FileNotFoundError):
            raise InputError(f"{path}: {kind}file not found") from exc
        if isinstance(exc, UnicodeDecodeError):
            raise InputError(f"{path}: {kind}not UTF-8 text ({exc.reason})") from exc
        raise InputError(f"{path}: {kind}{type(exc).__name__}: {one_line(exc)}") from exc


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """The rows of a JSONL file; a missing file, non-UTF-8 text or a line that is not a JSON
    object is an InputError naming the file (and the line)."""
    with reading(path, "JSONL"), open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}: line {number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}: line {number}: expected a JSON object")
            yield row


def read_table(
    path: str | Path, required: tuple[str, ...] = (), columns: list[str] | None = None
) -> Any:
    """A Parquet table as a DataFrame, refused in one line naming the file when it is missing,
    unreadable, empty or lacks a `required` column."""
    import pandas as pd

    with reading(path, "Parquet"):
        table = pd.read_parquet(path, columns=columns)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    if len(table) == 0:
        raise InputError(f"{path}: no rows")
    return table


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def temporary_sibling(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp-{os.getpid()}")


@contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path (file or directory) that replaces `final` when the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(final)
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if final.exists() or final.is_symlink():
        # Directories cannot be replaced atomically; move the old one aside first.
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        _remove(old)
        os.replace(final, old)
        os.replace(tmp, final)
        _remove(old)
    else:
        os.replace(tmp, final)


def remove_leftovers(directory: str | Path, prefix: str = "") -> list[Path]:
    """Remove what killed writers left in `directory`: `atomic_path`'s temporary and set-aside
    siblings `.<prefix>*.tmp-*` / `.old-*`. Only while holding `exclusive` on what they belong
    to: no writer of theirs is alive then."""
    removed = []
    directory = Path(directory)
    found = [*directory.glob(f".{prefix}*.tmp-*"), *directory.glob(f".{prefix}*.old-*")]
    for leftover in found:
        _remove(leftover)
        removed.append(leftover)
    return removed


@contextmanager
def exclusive(output: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on an output (file or directory) for the block: a second writer
    of the same output fails at once with an InputError naming it, instead of both writing.
    The lock is `.<name>.lock` beside the output (flock: released when the process dies)."""
    import fcntl

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    lock = output.with_name(f".{output.name}.lock")
    while True:
        fh = open(lock, "a+")  # noqa: SIM115 (held open for the block: the lock lives on it)
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            fh.close()
            raise InputError(
                f"{output}: another process (pid {holder}) is writing it; wait for it or stop it"
            ) from None
        # The lock file may have been removed by the holder between open and flock: retry.
        if lock.exists() and os.stat(lock).st_ino == os.fstat(fh.fileno()).st_ino:
            break
        fh.close()
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield output
    finally:
        lock.unlink(missing_ok=True)
        fh.close()


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
