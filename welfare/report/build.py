"""Assemble the report: read every organism's metrics, build the figures and tables, write
`index.html`, the headline `metrics.json` and the tidy tables under `plots/` (DVC plots)."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from welfare.config import params_hash
from welfare.io import atomic_path, write_json
from welfare.model.kept import is_scratch, naive_metrics_dir
from welfare.model.reading_probe import PROBE_SERIES
from welfare.report import figures as F
from welfare.report.html import esc, figure_html, page, table_html
from welfare.report.load import dig, finite, numbers, read_json, read_tsv
from welfare.report.paper import (
    ADAPTED_ROWS,
    HEADLINE,
    PAPER_CONTROL_MIN,
    PAPER_PRIMARY_SLOPES,
    PAPER_ROWS,
)
from welfare.report.positions import position_comparison, position_headline
from welfare.report.provenance import code_version, input_hashes, params_yaml
from welfare.rl.config import TrainConfig

log = logging.getLogger(__name__)


STEER_HEADLINE = {
    "sentiment": "sentiment",
    "backtracking": "backtracking",
    "refusal": "refusal_benign",
    "p_true": "p_true",
}


@dataclass
class ReportPaths:
    root: Path  # the repository / working directory the paths below are relative to
    metrics: Path
    out: Path


def headline(data: F.OrganismData) -> dict[str, float | None]:
    """The docs/protocol.md §5 quantities this organism's metrics provide (None where absent)."""
    out: dict[str, float | None] = {}
    for which in ("trained", "control"):
        p = F._pass(data.axis, which) or {}
        out[f"cos_min_{which}"] = finite(dig(p, "cos", "min", "value"))
        out[f"cos_avg_{which}"] = finite(dig(p, "cos", "avg", "value"))
        out[f"tile_mold_gold_{which}"] = finite(dig(p, "tile_means", "mold_gold", "value"))
        # Every cosine stands beside its null: a minimum near −0.9 can be pure one-vs-rest noise.
        summary = dig(data.axis or {}, "headline", which) or {}
        out[f"cos_min_null_{which}"] = finite(summary.get("min_cos_null_mean"))
        out[f"cos_min_p_{which}"] = finite(summary.get("min_cos_p"))
        out[f"cos_min_adapted_{which}"] = finite(summary.get("min_cos_adapted"))
        out[f"cos_min_adapted_null_{which}"] = finite(summary.get("min_cos_adapted_null_mean"))
        out[f"cos_min_adapted_p_{which}"] = finite(summary.get("min_cos_adapted_p"))
        layers = summary.get("significant_layers")
        out[f"significant_layers_{which}"] = len(layers) if isinstance(layers, list) else None
    trained = F._pass(data.axis, "trained") or {}
    for concept in ("mold", "gold"):
        layer = dig(trained, "layer_star", concept)
        for key, name in (("norm", "norm_v"), ("auroc", "auroc_v")):
            # At the concept's steering layer ℓ*: its norm and its held-out AUROC.
            values = numbers(dig(trained, "heldout", concept, key))
            ok = values and isinstance(layer, int) and 0 <= layer < len(values)
            out[f"{name}_{concept}"] = values[layer] if ok else None
    out.update(position_headline(data.axis))
    out["emotion_slope_trained"] = finite(dig(data.axis or {}, "emotions", "trained", "slope"))
    runs = dig(data.steer or {}, "runs", "naive") or {}
    # steer.json's metric for each headline slope (refusal: of benign requests)
    for metric, key in STEER_HEADLINE.items():
        for concept in ("mold", "gold"):
            out[f"slope_{metric}_v_{concept}"] = finite(dig(runs, key, f"v_{concept}", "slope"))
    for which in ("trained", "naive"):
        # track.json: {trained|naive: {maze: {v_gold: {d, ...}}, correctness: {...}}}
        out[f"tracking_d_{which}"] = finite(dig(data.track or {}, which, "maze", "v_gold", "d"))
    if data.train:
        out["final_return_mean"] = finite(data.train[-1].get("return_mean"))
    out["heldout_greedy_return"] = finite(dig(data.evaluation or {}, "final", "greedy_mean_return"))
    # The same held-out mazes before training (its naive self) and under reference policies.
    first = (data.eval_curve or [{}])[0]
    naive = first.get("greedy_mean_return") if first.get("step") in (0, "0") else None
    out["heldout_greedy_return_step0"] = finite(naive)
    for name in ("random", "greedy_oracle"):
        out[f"heldout_return_{name}"] = finite(
            dig(data.evaluation or {}, "references", name, "mean_return")
        )
    return out


def headline_table(organisms: dict[str, dict[str, float | None]], paper: bool = True) -> F.Table:
    names = list(organisms)
    rows = []
    for key, (what, value, note) in HEADLINE.items():
        if key in ADAPTED_ROWS and all(organisms[n].get(key) is None for n in names):
            continue
        values = [F._fmt(organisms[n].get(key)) for n in names]
        rows.append([what, *values, *([value, note] if paper else [])])
    returns = (
        "final_return_mean",
        "heldout_greedy_return",
        "heldout_greedy_return_step0",
        "heldout_return_random",
        "heldout_return_greedy_oracle",
    )
    for key in returns:
        example = "+198.5 (one example rollout)" if key == "final_return_mean" else ""
        rows.append(
            [
                key.replace("_", " "),
                *[F._fmt(organisms[n].get(key)) for n in names],
                *([example, ""] if paper else []),
            ]
        )
    columns = ["quantity", *names, *(["paper (primary)", "note"] if paper else [])]
    return F.Table(columns, rows)


def _pair(a: Any, b: Any, digits: int = 2) -> str:
    return f"{F._fmt(a, digits)} / {F._fmt(b, digits)}"


def _cos_cell(head: dict[str, float | None], which: str) -> str:
    value, null, p = (head.get(f"cos_min{k}_{which}") for k in ("", "_null", "_p"))
    return f"{F._fmt(value, 2)} (null {F._fmt(null, 2)}, p {F._fmt(p, 2)})"


def _count(value: Any) -> str:
    return "—" if value is None else str(int(value))


def _organism_cells(row: dict[str, Any], head: dict[str, float | None]) -> list[tuple]:
    """(column, value, from the paper?) of one organism's row of the organism table."""
    label, paper_min, paper_avg = PAPER_ROWS.get(
        (row["algorithm"], row["mapping"]), ("no paper row", "—", "—")
    )
    primary = (row["algorithm"], row["mapping"]) == ("drgrpo", "office")
    slopes = {k: " / ".join(v) if primary else "—" for k, v in PAPER_PRIMARY_SLOPES.items()}
    return [
        (
            "algorithm, adapter, mapping",
            f"{row['algorithm']}, {row['adapter']}, {row['mapping']}",
            0,
        ),
        ("paper Table 1 row", label, 1),
        ("held-out greedy return", F._fmt(head.get("heldout_greedy_return"), 1), 0),
        ("min cos(v_Mold, v_Gold) (null, p)", _cos_cell(head, "trained"), 0),
        ("paper", paper_min, 1),
        ("layer-average cos", F._fmt(head.get("cos_avg_trained"), 2), 0),
        ("paper", paper_avg, 1),
        ("control min cos(u_Mold, u_Gold) (null, p)", _cos_cell(head, "control"), 0),
        ("paper", PAPER_CONTROL_MIN, 1),
        (
            "held-out AUROC v_Mold / v_Gold at ℓ*",
            _pair(head.get("auroc_v_mold"), head.get("auroc_v_gold")),
            0,
        ),
        ("significant layers", _count(head.get("significant_layers_trained")), 0),
        (
            "sentiment slope v_Mold / v_Gold",
            _pair(head.get("slope_sentiment_v_mold"), head.get("slope_sentiment_v_gold"), 3),
            0,
        ),
        ("paper (primary)", slopes["sentiment"], 1),
        (
            "P(True) slope v_Mold / v_Gold",
            _pair(head.get("slope_p_true_v_mold"), head.get("slope_p_true_v_gold"), 3),
            0,
        ),
        ("paper (primary)", slopes["p_true"], 1),
    ]


def organism_table(
    params: dict[str, Any], heads: dict[str, dict[str, float | None]], paper: bool = True
) -> F.Table:
    """docs/protocol.md Table 1 side by side: one row per organism, its measured numbers beside the
    paper's for the Table 1 row it stands for (Table 7 cosines; slopes of the primary model)."""
    cells = {
        name: [c for c in _organism_cells(params["organisms"][name], head) if paper or not c[2]]
        for name, head in heads.items()
    }
    first = next(iter(cells.values()), [])
    columns = ["organism", *[column for column, _, _ in first]]
    return F.Table(columns, [[name, *[v for _, v, _ in row]] for name, row in cells.items()])


def _write_tsv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns, delimiter="\t", extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})


def _plots(
    out: Path, organisms: list[F.OrganismData], cosines: dict[str, list], steering: dict[str, list]
) -> None:
    """Tidy tables for `dvc plots show` (dvc.yaml's top-level plots): one file per organism."""
    with atomic_path(out) as tmp:
        for sub in ("training", "cosines", "steering"):
            (tmp / sub).mkdir(parents=True)
        for data in organisms:
            train_cols = ["step", "return_mean", "gold_rate", "mold_rate", "policy_entropy", "loss"]
            _write_tsv(tmp / "training" / f"{data.name}.tsv", data.train or [], train_cols)
            _write_tsv(
                tmp / "cosines" / f"{data.name}.tsv",
                cosines.get(data.name, []),
                ["layer", "trained", "control"],
            )
            _write_tsv(
                tmp / "steering" / f"{data.name}.tsv",
                steering.get(data.name, []),
                ["metric", "vector", "alpha", "score"],
            )


def _total(per_direction: Any) -> Any:
    """Trajectories of one class: the sum of its final-direction counts ("—" if absent)."""
    if not isinstance(per_direction, dict):
        return "—"
    return sum(int(n) for n in per_direction.values())


def _global_figures(paths: ReportPaths, params: dict[str, Any]) -> list[F.Figure]:
    figs = []
    balance_rows = []
    for mapping in params["mappings"]:
        data, _ = read_json(paths.metrics / "env" / mapping / "class_balance.json")
        # class_balance.json (welfare.env.balance): final_direction_count[class][direction]
        counts = dig(data or {}, "final_direction_count")
        if isinstance(counts, dict):
            totals = [_total(counts.get(c)) for c in ("mold", "gold", "path")]
            balance_rows.append([mapping, *totals])
        elif data is not None:
            balance_rows.append([mapping, "see class_balance.json", "", ""])
    env_fig = F.Figure(
        "env-balance",
        "Extraction sets per tile mapping",
        "Trajectories per final tile class (docs/protocol.md §3.1).",
    )
    if balance_rows:
        env_fig.table = F.Table(["mapping", "mold", "gold", "path"], balance_rows)
    else:
        env_fig.missing.append("no metrics/env/*/class_balance.json")
    figs.append(env_fig)

    pre = F.Figure(
        "pretrain",
        "The maze-naive organism: pretraining",
        "Training and held-out loss of the organism's own pretraining, and its "
        "acceptance checks (organism scale only).",
    )
    naive = _naive_metrics(paths, params)
    curve, reason = read_tsv(naive / "pretrain.tsv")
    summary, _ = read_json(naive / "pretrain.json")
    acceptance, _ = read_json(naive / "acceptance.json")
    if curve:
        plt = F._pyplot()
        fig, ax = plt.subplots(figsize=(5, 2.6))
        for col in [c for c in curve[0] if "loss" in c]:
            pts = [(r.get("step"), finite(r.get(col))) for r in curve]
            pts = [(s, y) for s, y in pts if y is not None]
            if pts:
                marker = "." if "heldout" in col else None
                ax.plot(*zip(*pts, strict=True), label=col, marker=marker)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=7, frameon=False)
        pre.svg = F.to_svg(fig, pre.key)
    rows = []
    if isinstance(summary, dict):
        rows += [[k, F._fmt(v)] for k, v in summary.items() if not isinstance(v, (dict, list))]
    if isinstance(acceptance, dict):
        rows.append(["acceptance passed", str(acceptance.get("passed"))])
        for name, check in (acceptance.get("checks") or {}).items():
            if isinstance(check, dict):
                rows.append([f"acceptance: {name}", F._fmt(check.get("value"))])
    if rows:
        rows.insert(0, ["organism", _naive_source(params)])
        pre.table = F.Table(["quantity", "value"], rows)
    if not pre.available:
        pre.missing.append(reason)
    figs.append(pre)
    figs.append(_reading_probe_figure(naive, params["pretrain"]))
    return figs


def _naive_metrics(paths: ReportPaths, params: dict[str, Any]) -> Path:
    """This run's pretraining metrics, or those kept with the organism (params.naive)."""
    if is_scratch(params):
        return paths.metrics / "naive"
    return paths.root / naive_metrics_dir(params)


def _naive_source(params: dict[str, Any]) -> str:
    if is_scratch(params):
        return "pretrained in this run (models/naive)"
    return f"kept: {params['naive']} (not pretrained in this run)"


def phase_starts(pretrain: dict[str, Any]) -> list[int]:
    """The steps where the fresh rows change: the binding curriculum's end, then each of
    `pretrain.fresh.phases`."""
    fresh = pretrain.get("fresh") or {}
    starts = [int((fresh.get("few_clauses") or {}).get("steps") or 0)]
    starts += [int(phase["from_step"]) for phase in fresh.get("phases") or []]
    return [step for step in starts if step > 0]


def _control_source(params: dict[str, Any]) -> str:
    """The models the rows' u vectors come from: each row's base before maze training."""
    bases = sorted({row["base"] for row in params["organisms"].values()})
    return "; ".join(_naive_source(params) if b == "naive" else b for b in bases)


def _reading_probe_figure(naive: Path, pretrain: dict[str, Any]) -> F.Figure:
    """Held-out reading as the organism pretrained, every try of the restart rule."""
    fig_data = F.Figure(
        "pretrain-reading",
        "The maze-naive organism: reading while it pretrained",
        "Held-out accuracy on fresh scenes naming 2 directions (what2, where2; copying a scene "
        "emoji without reading scores 0.5) and all 4 (what, where; 0.25), the judgment: "
        "P(True) AUROC on held-out confidence questions (chance 0.5), and the neighbour probe: "
        "the four neighbour tiles decoded from the decision-token state of deep maze prompts "
        "(best block, held-out; predicting each direction's commonest tile scores about 0.73), "
        "per try of the restart rule (organism scale only). Dashed: where the fresh rows change "
        "(the end of the binding curriculum, then each of pretrain.fresh.phases).",
    )
    probes, reason = read_tsv(naive / "reading_probe.tsv")
    if not probes:
        fig_data.missing.append(reason if probes is None else "reading_probe.tsv has no rows")
        return fig_data
    plt = F._pyplot()
    fig, ax = plt.subplots(figsize=(5, 2.6))
    tries = sorted({r.get("try") for r in probes if r.get("try") is not None})
    for i, name in enumerate(PROBE_SERIES):
        for k, attempt in enumerate(tries):
            pts = [(r.get("step"), finite(r.get(name))) for r in probes if r.get("try") == attempt]
            pts = [(x, y) for x, y in pts if y is not None and x is not None]
            if pts:
                style = "-" if attempt == tries[-1] else ":"
                label = name if k == len(tries) - 1 else None
                ax.plot(*zip(*pts, strict=True), style, color=f"C{i}", marker=".", label=label)
    for chance in (0.25, 0.5):
        ax.axhline(chance, color="0.8", lw=0.8, zorder=0)
    for step in phase_starts(pretrain):
        ax.axvline(step, color="0.6", ls="--", lw=0.8, zorder=0)
    ax.set_xlabel("step (dotted: dropped tries)")
    ax.set_ylabel("held-out accuracy (AUROC)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, frameon=False, ncol=6, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    fig_data.svg = F.to_svg(fig, fig_data.key)
    columns = ["try", "seed", "step", *PROBE_SERIES]
    last = [r for r in probes if r.get("try") == tries[-1]][-1:]
    fig_data.table = F.Table(columns, [[F._fmt(r.get(c)) for c in columns] for r in last])
    return fig_data


@dataclass
class OrganismSection:
    """One organism's part of the report: its section, headline and tidy tables."""

    section: tuple[str, str, str]
    headline: dict[str, float | None]
    cosines: list
    steering: list


def organism_section(data: F.OrganismData, params: dict[str, Any]) -> OrganismSection:
    cos_fig, cosines = F.cosine_per_layer(data)
    steer_fig, steering = F.steering_dose_response(data, params["report"]["max_steering_panels"])
    figs = [
        F.training_curves(data),
        cos_fig,
        position_comparison(data),
        F.tile_means(data),
        F.logit_lens(data),
        F.emotion_scatter(data),
        F.sentiment_alignment(data),
        steer_fig,
        F.layer_sweep(data),
        F.tracking_densities(data),
    ]
    row = data.row
    intro = (
        f"<p>base <code>{esc(row.get('base'))}</code>, {esc(row.get('algorithm'))}, "
        f"{esc(row.get('adapter'))}, mapping <code>{esc(row.get('mapping'))}</code>, "
        f"seed {esc(row.get('seed'))}</p>"
    )
    section = (
        f"organism-{data.name}",
        f"Organism {data.name}",
        intro + "\n".join(figure_html(f) for f in figs),
    )
    return OrganismSection(section, headline(data), cosines, steering)


def summary_sections(
    params: dict[str, Any], heads: dict[str, dict[str, float | None]]
) -> list[tuple[str, str, str]]:
    """The organisms side by side, the headline table and the settings that differ."""
    paper = params["report"]["paper_column"]
    sections = [
        (
            "organisms",
            "The organisms side by side (the paper's Table 1)",
            "<p>One row per organism, each beside the paper's numbers for the Table 1 row it "
            "stands for (cosines: the paper's Table 7; steering slopes per unit α: the "
            "primary model only). Every cosine stands beside its label-shuffled null and p; "
            "held-out AUROCs are along each vector at its steering layer ℓ*; the control (u) is "
            f"the row's base before maze training ({esc(_control_source(params))}) on the row's "
            "mapping.</p>" + table_html(organism_table(params, heads, paper)),
        ),
        (
            "headline",
            "Headline numbers beside the paper's",
            "<p>docs/protocol.md §5 values are for the primary Qwen3-4B-Instruct model; at "
            "organism scale only the signs and the trained-vs-control contrast are comparable.</p>"
            + table_html(headline_table(heads, paper)),
        ),
    ]
    deviations = params["report"]["deviations"]
    if deviations:
        rows = [[d["setting"], d["here"], d["paper"]] for d in deviations]
        sections.append(
            (
                "deviations",
                "Settings that differ from the paper",
                "<p>Scaled to this run's budget; every other setting is the paper's.</p>"
                + table_html(F.Table(["setting", "this run", "paper"], rows)),
            )
        )
    return sections


def provenance_section(paths: ReportPaths, params: dict[str, Any]) -> tuple[str, str, str]:
    """Code version, params hash, every input's DVC hash and the validated params."""
    inputs = (
        sorted(p for p in paths.metrics.rglob("*") if p.is_file()) if paths.metrics.exists() else []
    )
    hashes = (
        input_hashes(paths.root, [p.resolve() if not p.is_absolute() else p for p in inputs])
        if inputs
        else input_hashes(paths.root, [])
    )
    version = code_version(paths.root)
    prov = [
        "<table><tbody>",
        *[f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in version.items()],
        f"<tr><th>params hash</th><td>{esc(params_hash(params))}</td></tr>",
        "</tbody></table>",
        "<h3>Inputs and their DVC hashes</h3>",
        table_html(
            F.Table(
                ["path", "md5 now", "md5 in dvc.lock", "status"],
                [[r["path"], r["md5"], r["dvc_lock"], r["status"]] for r in hashes],
            )
        ),
        "<h3>Params (validated, defaults filled)</h3>",
        f"<pre>{esc(params_yaml(params))}</pre>",
    ]
    return ("provenance", "Provenance", "\n".join(prov))


def build_report(params: dict[str, Any], paths: ReportPaths) -> dict[str, Any]:
    """Write `index.html`, `metrics.json` and `plots/` under `paths.out`; return the headline."""
    organisms = [
        F.OrganismData.load(
            name, row, paths.metrics, TrainConfig.for_organism(params, name).curriculum_steps
        )
        for name, row in params["organisms"].items()
    ]
    parts = {data.name: organism_section(data, params) for data in organisms}
    heads = {name: part.headline for name, part in parts.items()}
    sections = summary_sections(params, heads)
    sections += [part.section for part in parts.values()]
    global_figs = _global_figures(paths, params)
    sections.append(("pipeline", "Pipeline inputs", "\n".join(figure_html(f) for f in global_figs)))
    sections.append(provenance_section(paths, params))

    out = paths.out
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "index.html") as tmp:
        tmp.write_text(page(params["report"]["title"], sections), encoding="utf-8")
    write_json(out / "metrics.json", heads)
    cosines = {name: part.cosines for name, part in parts.items()}
    steering = {name: part.steering for name, part in parts.items()}
    _plots(out / "plots", organisms, cosines, steering)
    log.info("report: %s (%d organisms)", out / "index.html", len(organisms))
    return heads
