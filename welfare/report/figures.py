"""The report's figures (matplotlib, inline SVG) and tables, one builder per figure of the paper.

Each builder takes what the stages wrote for one organism and returns a `Figure`: an SVG and/or a
table of the plotted numbers, or the reasons it is not available (a missing metrics file, a
stage that did not compute that quantity). Builders never raise on missing data.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from welfare.report.load import dig, finite, numbers, read_json, read_tsv

CONCEPT_COLOURS = {"mold": "#b2182b", "gold": "#1a9850", "path": "#7f7f7f"}


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Figure:
    key: str
    title: str
    caption: str = ""
    svg: str | None = None
    table: Table | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.svg is not None or self.table is not None


@dataclass
class OrganismData:
    """Everything the stages wrote for one organism (None where a file is absent)."""

    name: str
    row: dict[str, Any]
    train: list[dict[str, Any]] | None = None
    eval_curve: list[dict[str, Any]] | None = None
    evaluation: dict[str, Any] | None = None
    axis: dict[str, Any] | None = None
    steer: dict[str, Any] | None = None
    track: dict[str, Any] | None = None
    reasons: dict[str, str] = field(default_factory=dict)
    curriculum_steps: int = 0  # train.curriculum.steps: first turns only before this step

    @classmethod
    def load(
        cls, name: str, row: dict[str, Any], metrics: Path, curriculum_steps: int = 0
    ) -> OrganismData:
        data = cls(name=name, row=row, curriculum_steps=curriculum_steps)
        base = metrics / name
        data.train, data.reasons["train"] = read_tsv(base / "train.tsv")
        data.eval_curve, data.reasons["eval_curve"] = read_tsv(base / "eval.tsv")
        data.evaluation, data.reasons["evaluation"] = read_json(base / "eval.json")
        for key in ("axis", "steer", "track"):
            value, reason = read_json(base / f"{key}.json")
            setattr(data, key, value if isinstance(value, dict) else None)
            if not reason and not isinstance(value, dict):
                reason = f"{key}.json: not a mapping"
            data.reasons[key] = reason
        return data


# --- rendering helpers --------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",  # text stays text: searchable, small
            "svg.hashsalt": "welfare",  # stable ids: the same data give the same file
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return plt


def to_svg(fig: Any, figure_id: str) -> str:
    """The figure as an inline <svg> element (no XML prolog), ids prefixed so that several
    figures in one page never share a clip-path id."""
    plt = _pyplot()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'id="([^"]+)"', rf'id="{figure_id}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{figure_id}-\1)", svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{figure_id}-\1"', svg)
    return svg


def _fmt(value: Any, digits: int = 3) -> Any:
    number = finite(value)
    if number is None:
        return value if isinstance(value, str) else "—"
    return round(number, digits)


# --- training ----------------------------------------------------------------------------------

TRAIN_PANELS = [
    ("return", ["return_mean"], "episode return"),
    ("tiles", ["gold_rate", "mold_rate", "path_rate"], "fraction of tiles entered"),
    ("entropy", ["policy_entropy", "equalized_entropy"], "entropy (nats)"),
    ("loss", ["loss", "accuracy"], "loss / accuracy"),
]


def training_curves(data: OrganismData) -> Figure:
    fig_ = Figure(
        f"training-{data.name}",
        f"Training curves — {data.name}",
        "Per RL step: mean return (± s.d. band), Gold/Mold/Path rates, policy and equalized "
        "entropy; SFT runs show loss and token accuracy. Dots: held-out greedy return. A dotted "
        "line: the curriculum's end (first turns only before it, whole episodes after).",
    )
    rows = data.train
    if not rows:
        fig_.missing.append(data.reasons.get("train") or "no training rows")
        return fig_
    steps = [r.get("step") for r in rows]
    panels = [(k, [c for c in cols if c in rows[0]], label) for k, cols, label in TRAIN_PANELS]
    panels = [p for p in panels if p[1]]
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.6), squeeze=False)
    for ax, (key, cols, label) in zip(axes[0], panels, strict=True):
        for col in cols:
            ys = [finite(r.get(col)) for r in rows]
            ys = [math.nan if y is None else y for y in ys]
            colour = CONCEPT_COLOURS.get(col.split("_")[0])
            ax.plot(steps, ys, label=col, color=colour, lw=1.3)
            if col == "return_mean" and "return_std" in rows[0]:
                sd = [finite(r.get("return_std")) or 0.0 for r in rows]
                ax.fill_between(
                    steps,
                    [y - s for y, s in zip(ys, sd, strict=True)],
                    [y + s for y, s in zip(ys, sd, strict=True)],
                    alpha=0.15,
                )
        if key == "return" and data.eval_curve:
            greedy = [(r.get("step"), finite(r.get("greedy_mean_return"))) for r in data.eval_curve]
            greedy = [(s, y) for s, y in greedy if y is not None]
            if greedy:
                ax.plot(
                    *zip(*greedy, strict=True), "o", ms=3, color="black", label="held-out greedy"
                )
        if 0 < data.curriculum_steps < (steps[-1] or 0):
            ax.axvline(data.curriculum_steps, color="0.4", ls=":", lw=1, label="whole episodes")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig_.svg = to_svg(fig, fig_.key)
    last = rows[-1]
    cols = [c for _, cs, _ in panels for c in cs]
    fig_.table = Table(
        ["step", *cols], [[_fmt(last.get("step"), 0), *[_fmt(last.get(c)) for c in cols]]]
    )
    return fig_


# --- axis geometry -----------------------------------------------------------------------------


def _pass(axis: dict[str, Any] | None, which: str) -> Any:
    """The axis stage's summary of one store (at the steering position): `trained` (v) or
    `control` (u, maze-naive)."""
    return dig(axis or {}, which)


def cosine_per_layer(data: OrganismData) -> tuple[Figure, list[dict[str, Any]]]:
    fig_ = Figure(
        f"cosines-{data.name}",
        f"cos(v_Mold, v_Gold) per layer — {data.name}",
        "Trained v vectors vs the maze-naive control u, per block output; bands: bootstrap 95% "
        "CI (trained) and the permutation null's 95% range, where the axis stage computed them. "
        "Grey: blocks below the LoRA adapters (RL cannot move them; there v = u).",
    )
    series = {}
    for which in ("trained", "control"):
        values = numbers(dig(_pass(data.axis, which) or {}, "cos", "per_layer"))
        if values:
            series[which] = values
    if not series:
        fig_.missing.append(data.reasons.get("axis") or "axis.json has no per-layer cosines")
        return fig_, []
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3))
    for which, colour in (("trained", "#2166ac"), ("control", "#999999")):
        if which not in series:
            continue
        ys = series[which]
        layers = list(range(len(ys)))
        ax.plot(
            layers,
            ys,
            marker="o",
            ms=3,
            color=colour,
            label="v (trained)" if which == "trained" else "u (maze-naive control)",
        )
        cos = dig(_pass(data.axis, which) or {}, "cos") or {}
        low, high = numbers(cos.get("ci_low")), numbers(cos.get("ci_high"))
        if low and high and len(low) == len(ys):
            ax.fill_between(layers, low, high, color=colour, alpha=0.2)
        nlow, nhigh = numbers(cos.get("null_low")), numbers(cos.get("null_high"))
        if which == "trained" and nlow and nhigh and len(nlow) == len(ys):
            ax.fill_between(layers, nlow, nhigh, color="orange", alpha=0.15, label="null 95%")
    first = dig(_pass(data.axis, "trained") or {}, "cos", "adapted", "first_layer")
    if isinstance(first, int):  # LoRA on the top blocks: below them v and u are the same vectors
        ax.axvspan(-0.5, first - 0.5, color="0.5", alpha=0.12, lw=0, label="frozen blocks")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xlabel("layer (block output)")
    ax.set_ylabel("cos(Mold, Gold)")
    ax.set_ylim(-1.05, 1.05)
    ax.legend(fontsize=7, frameon=False)
    fig_.svg = to_svg(fig, fig_.key)
    n = max(len(v) for v in series.values())
    rows = [
        {"layer": layer, **{k: (v[layer] if layer < len(v) else None) for k, v in series.items()}}
        for layer in range(n)
    ]
    fig_.table = Table(
        ["layer", "trained", "control"],
        [[r["layer"], _fmt(r.get("trained")), _fmt(r.get("control"))] for r in rows],
    )
    return fig_, rows


def tile_means(data: OrganismData) -> Figure:
    fig_ = Figure(
        f"tile-means-{data.name}",
        f"Centred tile-mean cosines — {data.name}",
        "Cosine between the centred mean activations of trajectories ending on each pair of tile "
        "classes, trained vs maze-naive, at the axis stage's tile layer.",
    )
    pairs: dict[str, dict[str, float]] = {}
    layer = None
    for which in ("trained", "control"):
        tm = dig(_pass(data.axis, which) or {}, "tile_means") or {}
        layer = layer if layer is not None else tm.get("layer")
        for key, entry in tm.items():
            value = finite(dig(entry, "value"))  # every pair's entry; `layer` is a number
            if value is not None:
                pairs.setdefault(key, {})[which] = value
    if not pairs:
        fig_.missing.append(data.reasons.get("axis") or "axis.json has no tile means")
        return fig_
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 2.6))
    names = sorted(pairs)
    for i, which in enumerate(("trained", "control")):
        ax.bar(
            [j + 0.38 * i for j in range(len(names))],
            [pairs[n].get(which, math.nan) for n in names],
            width=0.36,
            color="#2166ac" if which == "trained" else "#bbbbbb",
            label=which,
        )
    ax.set_xticks([j + 0.19 for j in range(len(names))], [n.replace("_", "–") for n in names])
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel(f"centred cos (layer {layer})")
    ax.legend(fontsize=7, frameon=False)
    fig_.svg = to_svg(fig, fig_.key)
    fig_.table = Table(
        ["pair", "trained", "control"],
        [[n, _fmt(pairs[n].get("trained")), _fmt(pairs[n].get("control"))] for n in names],
    )
    return fig_


def logit_lens(data: OrganismData) -> Figure:
    fig_ = Figure(
        f"logit-lens-{data.name}",
        f"Logit lens — {data.name}",
        "Tokens each reward vector promotes most (top) and least (bottom) through the unembedding.",
    )
    # axis.json: logit_lens = {layer, v|u: {concept: {raw|final_norm: {promoted, suppressed}}}},
    # each list of [token, logit] pairs.
    lens = dig(data.axis or {}, "logit_lens")
    rows = []
    if isinstance(lens, dict):
        layer = lens.get("layer", "—")
        for vectors in ("v", "u"):
            for concept, variants in sorted((lens.get(vectors) or {}).items()):
                if not isinstance(variants, dict):
                    continue
                for variant, entry in sorted(variants.items()):
                    for direction in ("promoted", "suppressed"):
                        tokens = (entry or {}).get(direction) if isinstance(entry, dict) else None
                        if isinstance(tokens, list) and tokens:
                            shown = [t[0] for t in tokens[:12]]  # [token, logit] pairs
                            rows.append(
                                [
                                    f"{vectors}_{concept}",
                                    variant,
                                    layer,
                                    direction,
                                    "  ".join(readable_token(str(t)) for t in shown),
                                ]
                            )
    if not rows:
        fig_.missing.append(data.reasons.get("axis") or "axis.json has no logit-lens tables")
        return fig_
    fig_.table = Table(["vector", "W_U after", "layer", "direction", "tokens"], rows)
    return fig_


def emotion_scatter(data: OrganismData) -> Figure:
    fig_ = Figure(
        f"emotions-{data.name}",
        f"Emotion alignment — {data.name}",
        "Each point is an emotion vector: its cosine with v_Gold (x) and with v_Mold (y). After "
        "training the paper finds a line of slope ≈ −1; before, an unstructured cloud.",
    )
    panels = {}
    for which in ("trained", "control"):
        em = dig(data.axis or {}, "emotions", which)
        cos = dig(em or {}, "cos")
        if (
            isinstance(cos, dict)
            and isinstance(cos.get("mold"), dict)
            and isinstance(cos.get("gold"), dict)
        ):
            names = sorted(set(cos["mold"]) & set(cos["gold"]))
            panels[which] = (
                names,
                [cos["gold"][n] for n in names],
                [cos["mold"][n] for n in names],
                em.get("slope"),
                em.get("r"),
            )
    if not panels:
        fig_.missing.append(data.reasons.get("axis") or "axis.json has no emotion cosines")
        return fig_
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3), squeeze=False)
    rows = []
    for ax, (which, (names, xs, ys, slope, r)) in zip(axes[0], panels.items(), strict=True):
        ax.scatter(xs, ys, s=10, color="#2166ac" if which == "trained" else "#999999")
        ax.axhline(0, color="black", lw=0.4)
        ax.axvline(0, color="black", lw=0.4)
        ax.set_xlabel("cos(emotion, v_Gold)")
        ax.set_ylabel("cos(emotion, v_Mold)")
        ax.set_title(f"{which}: slope {_fmt(slope, 2)}, r {_fmt(r, 2)}", fontsize=8)
        rows.append([which, len(names), _fmt(slope), _fmt(r)])
    fig.tight_layout()
    fig_.svg = to_svg(fig, fig_.key)
    fig_.table = Table(["vectors", "emotions", "slope", "r"], rows)
    return fig_


def sentiment_alignment(data: OrganismData) -> Figure:
    fig_ = Figure(
        f"sentiment-{data.name}",
        f"Sentiment-vector alignment — {data.name}",
        "Cosine of each sentiment vector (prompt-contrast and counterfactual) with v_Mold / v_Gold "
        "(solid) and the maze-naive u (dashed), per layer (docs/protocol.md §4.5: about 0.2 at "
        "most).",
    )
    sentiment = dig(data.axis or {}, "sentiment") or {}
    series = []
    for vectors, style in (("cos_v", "-"), ("cos_u", "--")):
        for method, per_concept in sorted((sentiment.get(vectors) or {}).items()):
            for concept, values in sorted((per_concept or {}).items()):
                values = numbers(values)
                if values:
                    series.append((f"{method} · {vectors[-1]}_{concept}", concept, style, values))
    if not series:
        fig_.missing.append(data.reasons.get("axis") or "axis.json has no sentiment cosines")
        return fig_
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3))
    for label, concept, style, values in series:
        ax.plot(
            range(len(values)),
            values,
            ls=style,
            color=CONCEPT_COLOURS.get(concept),
            marker="o",
            ms=2,
            label=label,
        )
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xlabel("layer")
    ax.set_ylabel("cos(sentiment, vector)")
    ax.legend(fontsize=6, frameon=False)
    fig_.svg = to_svg(fig, fig_.key)
    n = max(len(v) for *_, v in series)
    fig_.table = Table(
        ["vector", *[f"L{i}" for i in range(n)]],
        [[label, *[_fmt(x) for x in values]] for label, _, _, values in series],
    )
    return fig_


def _byte_level_decoder() -> dict[str, int]:
    """GPT-2 byte-level BPE's printable stand-ins for bytes (Ġ = space, ...), inverted."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, codes, strict=True)}


_BYTE_DECODER = _byte_level_decoder()


def readable_token(token: str) -> str:
    """A byte-level BPE token as text (`Ġfail` -> `␣fail`); other tokenizers' tokens unchanged."""
    if not token or any(ch not in _BYTE_DECODER for ch in token):
        return token
    text = bytes(_BYTE_DECODER[ch] for ch in token).decode("utf-8", errors="replace")
    return text.replace(" ", "␣").replace("\n", "⏎")


# --- steering and tracking ---------------------------------------------------------------------

STEER_METRICS = [
    "sentiment",
    "backtracking",
    "p_true",
    "refusal_benign",
    "refusal_harmful",
    "maze_return",
]


def _vector_style(name: str) -> dict[str, Any]:
    concept = "mold" if "mold" in name else "gold" if "gold" in name else "path"
    control = not name.startswith("v_")
    return {
        "color": CONCEPT_COLOURS[concept],
        "ls": "--" if control else "-",
        "alpha": 0.6 if control else 1.0,
    }


def steering_dose_response(
    data: OrganismData, max_panels: int = 8
) -> tuple[Figure, list[dict[str, Any]]]:
    fig_ = Figure(
        f"steering-{data.name}",
        f"Steering dose-response — {data.name}",
        "The maze-naive model steered with v (solid) and the norm-matched controls (dashed) over "
        "α; mean ± s.e. per α. The paper's signature is an X: v_Mold and v_Gold move each score in "
        "opposite directions while the controls stay flat.",
    )
    runs = dig(data.steer or {}, "runs", "naive")
    if not isinstance(runs, dict) or not runs:
        fig_.missing.append(data.reasons.get("steer") or "steer.json has no naive run")
        return fig_, []
    metrics = [m for m in STEER_METRICS if m in runs] + sorted(
        m for m in runs if m not in STEER_METRICS and not m.startswith(("sentiment_", "p_true_"))
    )
    table_only = metrics[max_panels:]
    metrics = metrics[:max_panels]
    plt = _pyplot()
    cols = min(4, len(metrics))
    nrows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3 * cols, 2.5 * nrows), squeeze=False)
    tidy, table = [], []
    for ax, metric in zip(axes.flat, metrics, strict=False):
        for vector, summary in sorted(runs[metric].items()):
            points = [p for p in summary.get("points", []) if finite(p.get("alpha")) is not None]
            if not points:
                continue
            xs = [p["alpha"] for p in points]
            ys = [finite(p.get("mean")) for p in points]
            ys = [math.nan if y is None else y for y in ys]
            se = [finite(p.get("se")) or 0.0 for p in points]
            ax.errorbar(xs, ys, yerr=se, label=vector, lw=1.2, capsize=2, **_vector_style(vector))
            tidy += [
                {"metric": metric, "vector": vector, "alpha": x, "score": y}
                for x, y in zip(xs, ys, strict=True)
            ]
            table.append(
                [
                    metric,
                    vector,
                    summary.get("layer", "—"),
                    _fmt(summary.get("slope")),
                    _fmt(summary.get("se")),
                ]
            )
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("α")
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    if not tidy:
        plt.close(fig)
        fig_.missing.append("steer.json has no dose-response points")
        return fig_, []
    axes.flat[0].legend(fontsize=6, frameon=False)
    fig.tight_layout()
    fig_.svg = to_svg(fig, fig_.key)
    for metric in table_only:
        for vector, summary in sorted(runs[metric].items()):
            table.append(
                [
                    metric,
                    vector,
                    summary.get("layer", "—"),
                    _fmt(summary.get("slope")),
                    _fmt(summary.get("se")),
                ]
            )
    fig_.table = Table(["score", "vector", "layer", "slope per α", "s.e."], table)
    return fig_, tidy


def layer_sweep(data: OrganismData) -> Figure:
    fig_ = Figure(
        f"layer-sweep-{data.name}",
        f"Layer sweep — {data.name}",
        "Steering slope per unit α when v is taken and added at each layer (docs/protocol.md "
        "§4.13).",
    )
    sweep = dig(data.steer or {}, "layer_sweep", "naive")
    grid: dict[str, dict[int, float]] = {}
    if isinstance(sweep, dict):
        for metric, per_vector in sweep.items():
            for vector, entries in (per_vector or {}).items():
                for e in entries or []:
                    slope, layer = finite(e.get("slope")), e.get("layer")
                    if slope is not None and isinstance(layer, int):
                        grid.setdefault(f"{metric} · {vector}", {})[layer] = slope
    if not grid:
        fig_.missing.append(data.reasons.get("steer") or "steer.json has no layer sweep")
        return fig_
    labels = sorted(grid)
    layers = sorted({layer for row in grid.values() for layer in row})
    values = np.array([[grid[r].get(layer, np.nan) for layer in layers] for r in labels])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4, 0.45 * len(layers) + 2.5), 0.3 * len(labels) + 1.2))
    bound = float(np.nanmax(np.abs(values))) or 1.0
    image = ax.imshow(values, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto")
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xticks(range(len(layers)), layers, fontsize=7)
    ax.set_xlabel("layer")
    fig.colorbar(image, ax=ax, label="slope per α")
    fig_.svg = to_svg(fig, fig_.key)
    fig_.table = Table(
        ["score · vector", *[f"L{layer}" for layer in layers]],
        [[r, *[_fmt(v) for v in row]] for r, row in zip(labels, values, strict=True)],
    )
    return fig_


def tracking_densities(data: OrganismData) -> Figure:
    fig_ = Figure(
        f"tracking-{data.name}",
        f"Goal-achievement tracking — {data.name}",
        "Projection onto the axis of goal-achieved vs goal-failed contexts, trained vs maze-naive "
        "(docs/protocol.md §4.11); d is the standardised difference of means.",
    )
    # track.json: {trained|naive: {maze: {vector: {d, projection_sd: {mold, gold}}},
    # correctness: {vector: {d, ...}}}} (welfare.steering.track_stage.TrackMetrics)
    track = data.track or {}
    groups: dict[str, dict[str, list[float]]] = {}
    effects = []
    for model in ("trained", "naive"):
        for goal in ("maze", "correctness"):
            cells = dig(track, model, goal)
            for vector, cell in (cells if isinstance(cells, dict) else {}).items():
                label = f"{model} · {goal} · {vector}"
                d = finite(dig(cell, "d"))
                if d is not None:
                    effects.append([label, _fmt(d)])
                projections = dig(cell, "projection_sd")
                for tile, values in (projections if isinstance(projections, dict) else {}).items():
                    values = numbers(values)
                    if values and len(values) > 2:
                        groups.setdefault(f"{label} · projection_sd", {})[tile] = values
    if not groups and not effects:
        fig_.missing.append(data.reasons.get("track") or "track.json has no projections")
        return fig_
    if groups:
        plt = _pyplot()
        shown = list(groups.items())[:6]
        fig, axes = plt.subplots(1, len(shown), figsize=(3 * len(shown), 2.5), squeeze=False)
        for ax, (name, by_label) in zip(axes[0], shown, strict=True):
            for label, values in sorted(by_label.items()):
                ax.hist(np.asarray(values), bins=30, density=True, histtype="step", label=label)
            ax.set_title(name, fontsize=8)
            ax.set_xlabel("projection")
            ax.legend(fontsize=6, frameon=False)
        fig.tight_layout()
        fig_.svg = to_svg(fig, fig_.key)
    if effects:
        fig_.table = Table(["comparison", "d"], effects)
    return fig_
