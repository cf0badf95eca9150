"""The axis at each recorded token position, side by side (axis.json `positions`).

The paper records the final direction letter (docs/protocol.md §3.1); the decision token (the
template token before it) is where the move is chosen. Each position has its own vectors,
permutation null, held-out AUROC and significant layers; this figure puts them next to each other.
"""

from __future__ import annotations

from typing import Any

from welfare.report.figures import Figure, OrganismData, Table, _fmt, _pyplot, to_svg
from welfare.report.load import dig, finite, numbers

ROLES = (("trained", "v"), ("control", "u"))
POSITION_COLOURS = ("#2166ac", "#d6604d", "#4d9221", "#8073ac")


def _best(values: list[float] | None) -> tuple[float | None, int | None]:
    if not values:
        return None, None
    layer = max(range(len(values)), key=lambda i: values[i])
    return values[layer], layer


def position_rows(axis: dict[str, Any], names: list[str]) -> list[list[Any]]:
    """One row per quantity; per position a trained (v) and a control (u) column."""
    quantities = [
        ("min cos(Mold, Gold) (layer)", lambda h, s: _with_layer(h, "min_cos", "min_cos_layer")),
        ("  its null mean", lambda h, s: _fmt(h.get("min_cos_null_mean"))),
        ("  its p (permutation)", lambda h, s: _fmt(h.get("min_cos_p"))),
        ("mean cos over layers", lambda h, s: _fmt(h.get("avg_cos"))),
        ("  its p (permutation)", lambda h, s: _fmt(h.get("avg_cos_p"))),
        ("significant layers", lambda h, s: _layers(h.get("significant_layers"))),
        ("best held-out AUROC, Gold (layer)", lambda h, s: _auroc(s, "gold")),
        ("best held-out AUROC, Mold (layer)", lambda h, s: _auroc(s, "mold")),
        ("ℓ* Mold / Gold", lambda h, s: _star(h)),
    ]
    heads = [dig(axis, "positions", n, "headline", r) or {} for n in names for r, _ in ROLES]
    if any("min_cos_adapted" in head for head in heads):  # LoRA on the top blocks only
        quantities[3:3] = [
            (
                "min over the adapted blocks (layer)",
                lambda h, s: _with_layer(h, "min_cos_adapted", "min_cos_adapted_layer"),
            ),
            ("  its p (permutation)", lambda h, s: _fmt(h.get("min_cos_adapted_p"))),
        ]
    rows = []
    for label, cell in quantities:
        row: list[Any] = [label]
        for name in names:
            entry = dig(axis, "positions", name) or {}
            for role, _ in ROLES:
                head = dig(entry, "headline", role) or {}
                row.append(cell(head, entry.get(role) or {}))
        rows.append(row)
    return rows


def _with_layer(head: dict, value: str, layer: str) -> str:
    number = _fmt(head.get(value))
    return f"{number} ({head[layer]})" if head.get(layer) is not None else str(number)


def _layers(layers: Any) -> str:
    if not isinstance(layers, list):
        return "—"
    return ", ".join(str(x) for x in layers) if layers else "none"


def _auroc(summary: dict, concept: str) -> str:
    value, layer = _best(numbers(dig(summary, "heldout", concept, "auroc")))
    return "—" if value is None else f"{_fmt(value)} ({layer})"


def _star(head: dict) -> str:
    star = head.get("layer_star") or {}
    return f"{star.get('mold', '—')} / {star.get('gold', '—')}"


def position_comparison(data: OrganismData) -> Figure:
    axis = data.axis or {}
    steer = dig(axis, "steer_position")
    uses = f" Steering and tracking use the {steer} position's vectors." if steer else ""
    fig_ = Figure(
        f"positions-{data.name}",
        f"The axis at each token position — {data.name}",
        "Left: cos(v_Mold, v_Gold) per layer at each recorded position (trained v solid with "
        "its permutation null's 95% band, maze-naive u dashed). Right: held-out AUROC of v_Gold "
        "(solid) and v_Mold (dotted) per layer; 0.5 is chance. letter = token −1, the final "
        "direction letter (docs/protocol.md §3.1); decision = the chat-template token before it, "
        "where the "
        "move is chosen." + uses,
    )
    positions = axis.get("positions")
    if not isinstance(positions, dict) or not positions:
        fig_.missing.append(
            data.reasons.get("axis") or "axis.json has no per-position analysis (axis.positions)"
        )
        return fig_
    names = list(positions)
    fig_.table = Table(
        ["quantity", *[f"{n}: {role} ({vec})" for n in names for role, vec in ROLES]],
        position_rows(axis, names),
    )
    svg = _position_plot(positions, names, fig_.key)
    if svg:
        fig_.svg = svg
    return fig_


def _position_plot(positions: dict[str, Any], names: list[str], key: str) -> str | None:
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
    drawn = False
    for i, name in enumerate(names):
        colour = POSITION_COLOURS[i % len(POSITION_COLOURS)]
        for role, style in (("trained", "-"), ("control", "--")):
            cos = dig(positions, name, role, "cos") or {}
            ys = numbers(cos.get("per_layer"))
            if not ys:
                continue
            drawn = True
            layers = list(range(len(ys)))
            label = f"{name}: {'v' if role == 'trained' else 'u'}"
            left.plot(layers, ys, style, marker="o", ms=3, color=colour, label=label)
            low, high = numbers(cos.get("null_low")), numbers(cos.get("null_high"))
            if role == "trained" and low and high and len(low) == len(ys):
                left.fill_between(layers, low, high, color=colour, alpha=0.12)
        for concept, style in (("gold", "-"), ("mold", ":")):
            auroc = numbers(dig(positions, name, "trained", "heldout", concept, "auroc"))
            if auroc:
                drawn = True
                label = f"{name}: v_{concept.capitalize()}"
                right.plot(range(len(auroc)), auroc, style, marker=".", color=colour, label=label)
    if not drawn:
        plt.close(fig)
        return None
    left.axhline(0, color="black", lw=0.5)
    left.set_ylim(-1.05, 1.05)
    left.set_xlabel("layer (block output)")
    left.set_ylabel("cos(Mold, Gold)")
    right.axhline(0.5, color="0.6", lw=0.8)
    right.set_xlabel("layer (block output)")
    right.set_ylabel("held-out AUROC")
    for ax in (left, right):
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return to_svg(fig, key)


def position_headline(axis: dict[str, Any] | None) -> dict[str, float | None]:
    """Min cos and its p, and the best held-out Gold AUROC, per position (report metrics)."""
    out: dict[str, float | None] = {}
    for name, entry in (dig(axis or {}, "positions") or {}).items():
        head = dig(entry, "headline", "trained") or {}
        out[f"cos_min_trained_{name}"] = finite(head.get("min_cos"))
        out[f"cos_min_p_trained_{name}"] = finite(head.get("min_cos_p"))
        if "min_cos_adapted" in head:
            out[f"cos_min_adapted_trained_{name}"] = finite(head.get("min_cos_adapted"))
            out[f"cos_min_adapted_p_trained_{name}"] = finite(head.get("min_cos_adapted_p"))
        best, _ = _best(numbers(dig(entry, "trained", "heldout", "gold", "auroc")))
        out[f"auroc_gold_trained_{name}"] = best
    return out
