"""Figures of steer.json and track.json (docs/protocol.md Figs. 4–7, App. D, §5), for `--plots DIR`.

One PNG per metric: mean ± SE against nominal α, trained vectors solid, controls dashed, points
whose incoherent share exceeds the threshold hidden (they stay in the JSON); one per metric for
the layer sweep (slope ± SE against layer, ℓ* marked); one histogram panel per tracked vector.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from welfare.io import atomic_path

COLORS = {"mold": "#8c564b", "gold": "#d4a017"}
STYLES = {"trained": "-", "control": "--", "random": ":", "extra": "-."}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return path


def dose_response(steer: Mapping[str, Any], out_dir: str | Path, run: str = "naive") -> list[Path]:
    plt = _pyplot()
    out_dir = Path(out_dir)
    paths = []
    for metric, per_vector in steer["runs"][run].items():
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        for name, cell in per_vector.items():
            shown = [p for p in cell["points"] if not p["masked"] and p["mean"] is not None]
            if not shown:
                continue
            concept = steer["vectors"][name]["concept"]
            slope = "" if cell["slope"] is None else f" ({cell['slope']:+.3f}/α)"
            ax.errorbar(
                [p["alpha"] for p in shown],
                [p["mean"] for p in shown],
                yerr=[p["se"] or 0 for p in shown],
                color=COLORS.get(concept, "grey"),
                linestyle=STYLES.get(cell["kind"], "-"),
                marker="o",
                markersize=3,
                capsize=2,
                label=f"{name}{slope}",
            )
        ax.set_xlabel("α (nominal)")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} — {run} model", fontsize=9)
        if ax.get_legend_handles_labels()[0]:  # every point masked: an empty panel, no legend
            ax.legend(fontsize=6)
        paths.append(_save(fig, out_dir / f"steer_{run}_{metric}.png"))
        plt.close(fig)
    return paths


def layer_sweep(steer: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    if "layer_sweep" not in steer:
        return []
    plt = _pyplot()
    paths = []
    for metric, per_vector in steer["layer_sweep"]["naive"].items():
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        for name, rows in per_vector.items():
            concept = name.split("_", 1)[1]
            rows = [r for r in rows if r["slope"] is not None]
            ax.errorbar(
                [r["layer"] for r in rows],
                [r["slope"] for r in rows],
                yerr=[r["se"] or 0 for r in rows],
                color=COLORS.get(concept, "grey"),
                marker="o",
                markersize=3,
                capsize=2,
                label=name,
            )
            star = steer["vectors"].get(name, {}).get("layer")
            if star is not None:
                ax.axvline(star, color=COLORS.get(concept, "grey"), alpha=0.3)
        ax.axhline(0, color="black", linewidth=0.5)
        ax.set_xlabel("layer")
        ax.set_ylabel(f"slope of {metric} per α")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
        paths.append(_save(fig, Path(out_dir) / f"sweep_{metric}.png"))
        plt.close(fig)
    return paths


def tracking(track: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    plt = _pyplot()
    paths = []
    for model in ("trained", "naive"):
        cells = track[model]["maze"]
        fig, axes = plt.subplots(1, len(cells), figsize=(3.2 * len(cells), 2.8), squeeze=False)
        for ax, (name, cell) in zip(axes[0], cells.items(), strict=True):
            for tile, values in cell["projection_sd"].items():
                ax.hist(values, bins=20, alpha=0.6, color=COLORS.get(tile, "grey"), label=tile)
            d = cell["d"]
            ax.set_title(
                f"{name} L{cell['layer']}  d={d:.2f}" if d is not None else name, fontsize=8
            )
            ax.set_xlabel("projection (SD)")
            ax.legend(fontsize=6)
        fig.suptitle(f"maze goals — {model} model", fontsize=9)
        paths.append(_save(fig, Path(out_dir) / f"track_maze_{model}.png"))
        plt.close(fig)
    return paths
