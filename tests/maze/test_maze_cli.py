"""`welfare maze show`: a window around the start and the first user message."""

from __future__ import annotations

import re

import pytest

from welfare.cli import main


def test_show_prints_window_and_first_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["maze", "show", "--seed", "0", "--radius", "3"]) == 0
    out = capsys.readouterr().out
    assert "start (50, 50)" in out
    assert "🙂" in out
    lines = out.splitlines()
    assert lines[-1].startswith("You are in a maze. Currently, you’re at location (50, 50).")
    # 7 rows of 7 cells, each row labelled with its y coordinate.
    rows = [line for line in lines if re.match(r"^ {0,3}\d+  \S", line)]
    assert len(rows) == 7 and all(len(row.split()) == 8 for row in rows)
    assert sum(row.count("🙂") for row in rows) == 1


def test_show_size_and_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["maze", "show", "--seed", "3", "--size", "30", "--mapping", "office_swap"]) == 0
    out = capsys.readouterr().out
    assert "size 30" in out and "📐 mold" in out


def test_show_unknown_mapping_fails_with_message() -> None:
    with pytest.raises(SystemExit, match="unknown tile mapping 'nope'"):
        main(["maze", "show", "--seed", "1", "--mapping", "nope"])
