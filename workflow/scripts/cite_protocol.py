#!/usr/bin/env python3
"""Point citations of the paper's protocol at the repository's own copy, docs/protocol.md.

    python workflow/scripts/cite_protocol.py PATH ...           # rewrite in place
    python workflow/scripts/cite_protocol.py --check PATH ...   # list, change nothing

Code comments once cited "PAPER §1.3", "PAPER App. K", "PAPER Table 1", ... in a file outside
the repository. docs/protocol.md has the same section numbers and an index of the paper's
appendices, tables and equations, so each citation becomes "docs/protocol.md §1.3" (and so on).
In Python files a line the longer citation pushes past 100 characters is wrapped: comments and
docstring prose carry their overflow into the next line of the same paragraph (or a new line),
string literals are split into two implicitly concatenated ones.

`--check` exits 1 when a file still cites PAPER, or cites a section of docs/protocol.md that
the page does not have; `--check --sections-only` only the latter (tests/test_protocol.py).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

LIMIT = 100
TARGET = "docs/protocol.md"
PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
SUFFIXES = {".py", ".yaml", ".yml", ".smk", ".md", ".tsv", ".txt", ".sh", ""}

RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bPAPER\.md §"), f"{TARGET} §"),
    (re.compile(r"\bPAPER L\.2\b"), f"{TARGET} App. L.2"),
    (re.compile(r"\bPAPER ambiguity (\d)"), rf"{TARGET} §7.\1"),
    (re.compile(r"\(PAPER: "), f"({TARGET} §4.7: "),
    (re.compile(r"\bas PAPER's site\b"), "as the paper's site"),
    (re.compile(r"\bPAPER(?:'s)? (?=§|App\. |Tables? |Figs?\. )"), f"{TARGET} "),
]
LEFTOVER = re.compile(r"\bPAPER(?:'s|\.md)?[ :]")
# A citation of a section or a range of sections, in the old form or the new one.
CITED = re.compile(
    r"(?:" + re.escape(TARGET) + r"|\bPAPER(?:'s|\.md)?) §(\d+(?:\.\d+)?)(?:[–-](\d+(?:\.\d+)?))?"
)


def rewrite_text(text: str) -> str:
    for pattern, replacement in RULES:
        text = pattern.sub(replacement, text)
    return text


def _split_at(text: str, width: int) -> tuple[str, str] | None:
    """The longest head of `text` ending before a space within `width`, and the rest."""
    cut = text.rfind(" ", 0, width + 1)
    while cut > 0 and text[cut - 1] == " ":
        cut -= 1
    if cut <= len(text) - len(text.lstrip()):
        return None
    return text[:cut], text[cut:].lstrip(" ")


_STRING_LINE = re.compile(r'^(\s*)(f?)"((?:[^"\\]|\\.)*)"(\)?,?\)?)$')
_ITEM = re.compile(r"^(\s*)([-*] |\d+\. )")


def _prose_indent(line: str) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    item = _ITEM.match(line.replace('"""', "   ", 1) if line.lstrip().startswith('"""') else line)
    return indent + " " * len(item.group(2)) if item else indent


def _continues(next_line: str, indent: str) -> bool:
    body = next_line[len(indent) :]
    return (
        next_line.startswith(indent)
        and body[:1] not in ("", " ")
        and not _ITEM.match(body)
        and not body.startswith(('"""', ">>>", "```", "|"))
    )


def wrap_python(lines: list[str], changed: set[int]) -> list[str]:
    """Wrap the changed lines that now exceed LIMIT (see the module docstring)."""
    out = list(lines)
    in_doc = False
    doc_state: list[bool] = []
    for line in out:
        doc_state.append(in_doc)
        if line.count('"""') % 2:
            in_doc = not in_doc
    i = 0
    pending = set(changed)
    while i < len(out):
        line = out[i]
        if i not in pending or len(line) <= LIMIT:
            i += 1
            continue
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        string = _STRING_LINE.match(line)
        if stripped.startswith("#"):
            split = _split_at(line, LIMIT)
            if split:
                head, tail = split
                out[i] = head
                prefix = indent + "# "
                nxt = out[i + 1] if i + 1 < len(out) else ""
                if nxt.startswith(prefix) and nxt[len(prefix) :].strip():
                    out[i + 1] = prefix + tail + " " + nxt[len(prefix) :]
                else:
                    out.insert(i + 1, prefix + tail)
                    doc_state.insert(i + 1, doc_state[i])
                    pending = {p + 1 if p > i else p for p in pending}
                pending.add(i + 1)
        elif string and not doc_state[i] and '"""' not in line:
            lead, f, body, close = string.groups()
            split = _split_at(body, LIMIT - len(lead) - len(f) - 3)
            if split and split[1]:
                head, tail = split
                out[i] = f'{lead}{f}"{head} "'
                nxt = _STRING_LINE.match(out[i + 1]) if i + 1 < len(out) else None
                if not close and nxt and nxt.group(1) == lead and nxt.group(2) == f:
                    out[i + 1] = f'{lead}{f}"{tail}{nxt.group(3)}"{nxt.group(4)}'
                else:
                    out.insert(i + 1, f'{lead}{f}"{tail}"{close}')
                    doc_state.insert(i + 1, False)
                    pending = {p + 1 if p > i else p for p in pending}
                pending.add(i + 1)
        elif "  # " in line and not doc_state[i] and len(line.split("  # ", 1)[0]) <= LIMIT:
            code, comment = line.split("  # ", 1)
            out[i] = code
            out.insert(i, f"{indent}# {comment}")
            doc_state.insert(i, False)
            pending = {p + 1 if p >= i else p for p in pending}
            pending.add(i)
            continue
        elif doc_state[i] or stripped.startswith('"""'):
            split = _split_at(line, LIMIT)
            if split:
                head, tail = split
                out[i] = head
                cont = _prose_indent(line)
                nxt = out[i + 1] if i + 1 < len(out) else ""
                ends = head.rstrip().endswith('"""') or '"""' in tail
                if not ends and _continues(nxt, cont):
                    out[i + 1] = cont + tail + " " + nxt[len(cont) :]
                else:
                    out.insert(i + 1, cont + tail)
                    doc_state.insert(i + 1, True)
                    pending = {p + 1 if p > i else p for p in pending}
                pending.add(i + 1)
        i += 1
    return out


def rewrite_file(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    new_lines = [rewrite_text(line) for line in lines]
    changed = {i for i, (a, b) in enumerate(zip(lines, new_lines, strict=True)) if a != b}
    if not changed:
        return False
    if path.suffix == ".py":
        new_lines = wrap_python(new_lines, changed)
    path.write_text("\n".join(new_lines), encoding="utf-8")
    return True


def sections() -> set[str]:
    heads = re.findall(r"^#+ (\d+(?:\.\d+)?)[ .]", PROTOCOL.read_text(encoding="utf-8"), re.M)
    rows = re.findall(r"^\| (\d+\.\d+) \|", PROTOCOL.read_text(encoding="utf-8"), re.M)
    return set(heads) | set(rows)


def check_file(path: Path, known: set[str], sections_only: bool = False) -> list[str]:
    problems = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not sections_only and LEFTOVER.search(line):
            problems.append(f"{path}:{n}: still cites PAPER: {line.strip()}")
        for match in CITED.finditer(line):
            for number in filter(None, match.groups()):
                if number not in known:
                    problems.append(f"{path}:{n}: §{number} is not a section of {TARGET}")
    return problems


def files(paths: list[str]) -> list[Path]:
    found = []
    for name in paths:
        path = Path(name)
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        found += [
            p
            for p in candidates
            if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts
        ]
    itself = Path(__file__).resolve()
    return [p for p in found if p.resolve() != itself]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--check", action="store_true", help="list problems, change nothing")
    parser.add_argument(
        "--sections-only", action="store_true", help="with --check: only unknown sections"
    )
    args = parser.parse_args(argv)
    targets = files(args.paths)
    if args.check:
        known = sections()
        problems = [p for t in targets for p in check_file(t, known, args.sections_only)]
        print("\n".join(problems) or f"{len(targets)} files: every citation resolves")
        return 1 if problems else 0
    rewritten = [path for path in targets if rewrite_file(path)]
    print("\n".join(str(p) for p in rewritten) or "nothing to rewrite")
    return 0


if __name__ == "__main__":
    sys.exit(main())
