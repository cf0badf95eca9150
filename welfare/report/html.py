"""One self-contained HTML page: inline SVG figures, tables, no external resource. A small
script marks each figure with its rendered size (`data-rendered`), which the headless-browser
test reads."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from welfare.report.figures import Figure, Table

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
figure { margin: 1.2rem 0; padding: .6rem; border: 1px solid #eee; border-radius: 6px; }
figcaption { font-size: .85rem; color: #555; margin: .3rem 0; }
figure svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: .8rem; margin: .4rem 0; }
td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.missing { color: #a05a00; font-style: italic; }
pre { background: #f7f7f7; padding: .6rem; font-size: .75rem; overflow-x: auto; }
nav a { margin-right: .8rem; }
"""

# After layout: every figure says whether its drawing has a size and marks (paths or text).
SCRIPT = """
window.addEventListener('load', function () {
  document.querySelectorAll('figure[data-figure]').forEach(function (fig) {
    var svg = fig.querySelector('svg');
    var table = fig.querySelector('table');
    if (svg) {
      var box = svg.getBoundingClientRect();
      var marks = svg.querySelectorAll('path, use, text, image').length;
      fig.setAttribute('data-rendered', Math.round(box.width) + 'x' + Math.round(box.height) +
                       ' marks=' + marks);
    } else if (table) {
      var tbox = table.getBoundingClientRect();
      fig.setAttribute('data-rendered', Math.round(tbox.width) + 'x' + Math.round(tbox.height) +
                       ' table');
    } else {
      fig.setAttribute('data-rendered', 'missing');
    }
  });
  document.body.setAttribute('data-report-ready', '1');
});
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def table_html(table: Table) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure_html(fig: Figure) -> str:
    parts = [
        f'<figure data-figure="{esc(fig.key)}" id="{esc(fig.key)}">',
        f"<h3>{esc(fig.title)}</h3>",
    ]
    if fig.svg:
        parts.append(fig.svg)
    if fig.table:
        parts.append(table_html(fig.table))
    if not fig.available:
        reasons = "; ".join(fig.missing) or "no data"
        parts.append(f'<p class="missing">Not available: {esc(reasons)}</p>')
    parts.append(f"<figcaption>{esc(fig.caption)}</figcaption></figure>")
    return "\n".join(parts)


def page(title: str, sections: Iterable[tuple[str, str, str]]) -> str:
    """sections: (anchor, heading, inner HTML)."""
    sections = list(sections)
    nav = "".join(f'<a href="#{esc(a)}">{esc(h)}</a>' for a, h, _ in sections)
    body = "\n".join(
        f'<section id="{esc(a)}"><h2>{esc(h)}</h2>\n{inner}</section>' for a, h, inner in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1><nav>{nav}</nav>\n{body}\n<script>{SCRIPT}</script></body></html>\n"
    )
