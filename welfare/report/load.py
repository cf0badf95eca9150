"""Tolerant readers: a missing, empty or malformed metrics file is `None` (and a reason), never
an exception, so one absent stage output costs one figure, not the report."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def read_json(path: Path) -> tuple[Any | None, str]:
    if not path.exists():
        return None, f"{_show(path)} not found"
    try:
        return json.loads(path.read_text(encoding="utf-8")), ""
    except (OSError, ValueError) as exc:
        return None, f"{_show(path)} unreadable: {exc}"


def read_tsv(path: Path) -> tuple[list[dict[str, Any]] | None, str]:
    """Rows with numeric cells as floats (blank / 'nan' -> nan)."""
    if not path.exists():
        return None, f"{_show(path)} not found"
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [
                {k: to_number(v) for k, v in row.items()}
                for row in csv.DictReader(fh, delimiter="\t")
            ]
    except (OSError, csv.Error) as exc:
        return None, f"{_show(path)} unreadable: {exc}"
    if not rows:
        return None, f"{_show(path)} has no rows"
    return rows, ""


def to_number(value: Any) -> Any:
    if value is None:
        return math.nan
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def dig(data: Any, *path: str | int) -> Any:
    """The value at the key path `path` in `data` (None where the path does not exist): one
    path per value, the layout its writer declares (docs/metrics.md)."""
    value = data
    for key in path:
        in_dict = isinstance(value, dict) and key in value
        in_list = (
            isinstance(value, list) and isinstance(key, int) and (-len(value) <= key < len(value))
        )
        if not (in_dict or in_list):
            return None
        value = value[key]
    return value


def numbers(values: Any) -> list[float] | None:
    """A list of floats, or None if `values` is not a non-empty sequence of numbers."""
    if not isinstance(values, Iterable) or isinstance(values, (str, dict)):
        return None
    out = []
    for v in values:
        v = to_number(v)
        if not isinstance(v, (int, float)):
            return None
        out.append(float(v))
    return out or None


def finite(value: Any) -> float | None:
    value = to_number(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _show(path: Path) -> str:
    """A path as the reader knows it: relative to the working directory when inside it."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
