"""Geometry 1 (docs/protocol.md §4.2) with its uncertainty: per-layer cos(v_mold, v_gold), its
bootstrap CI and permutation null, held-out AUROC along each vector, the layers that beat the null,
ℓ*, norms and the centred tile-mean cosines. Input: one `StorePass` (trained or control)."""

from __future__ import annotations

from typing import Any

import numpy as np

from welfare.axis.passes import TILE_PAIRS, StorePass
from welfare.axis.selection import layer_scores
from welfare.axis.significance import (
    auroc_above_chance,
    bootstrap_auroc,
    holm,
    percentile_ci,
    permutation_test_lower,
)
from welfare.axis.vectors import CONCEPTS


def _lower_p(observed: float, null: np.ndarray) -> float:
    return float((1 + np.sum(null <= observed)) / (len(null) + 1))


def cosine_statistics(
    resample_cos: np.ndarray, store_pass: StorePass, first_adapted: int = 0
) -> dict[str, Any]:
    """Per-layer cosine, CI, null and p values, plus the layer average and minimum. With
    `first_adapted` > 0 (LoRA on the top blocks only), `adapted` repeats the average and minimum
    over the blocks from `first_adapted` on, the only ones where RL can have moved v away from u:
    below them the trained and the naive model compute the same activations."""
    plan = store_pass.plan
    observed = resample_cos[0]
    null = resample_cos[plan.permutations]
    boot = resample_cos[plan.bootstraps]
    out: dict[str, Any] = {"per_layer": observed}
    if len(boot):
        out["ci_low"], out["ci_high"] = percentile_ci(boot)
        # Resampling adds noise to the class means, which pulls cosines towards the noise null:
        # the bootstrap mean shows that bias (significance never rests on the CI).
        out["boot_mean"] = boot.mean(axis=0)
    if len(null):
        test = permutation_test_lower(observed, null)
        out.update(
            null_mean=test.null_mean,
            null_low=test.null_low,
            null_high=test.null_high,
            z=test.z,
            p_raw=test.p_raw,
            p_fwer=test.p_fwer,
        )
    out.update(_layer_summaries(observed, null, boot))
    if 0 < first_adapted < len(observed):
        top = slice(first_adapted, None)
        adapted = _layer_summaries(observed[top], null[:, top], boot[:, top])
        adapted["argmin"] += first_adapted
        out["adapted"] = {"first_layer": first_adapted, **adapted}
    return out


def _layer_summaries(observed: np.ndarray, null: np.ndarray, boot: np.ndarray) -> dict[str, Any]:
    """The average and the minimum over layers, each with its bootstrap CI and permutation null
    (the same reduction applied to every resample), and the layer of the minimum."""
    out: dict[str, Any] = {}
    for name, reduce in (("avg", np.mean), ("min", np.min)):
        summary: dict[str, Any] = {"value": float(reduce(observed))}
        if len(boot):
            low, high = percentile_ci(reduce(boot, axis=1))
            summary["ci"] = [float(low), float(high)]
        if len(null):
            null_summary = reduce(null, axis=1)
            summary["null_mean"] = float(null_summary.mean())
            summary["null_ci"] = [float(q) for q in np.quantile(null_summary, [0.025, 0.975])]
            summary["p"] = _lower_p(summary["value"], null_summary)
        out[name] = summary
    out["argmin"] = int(np.argmin(observed))
    return out


def heldout_statistics(
    store_pass: StorePass, n_bootstrap: int, seed: int, bins: int
) -> dict[str, Any]:
    """Per concept: selection scores, ℓ*, AUROC with CI and one-sided test, norms."""
    out: dict[str, Any] = {}
    for c, concept in enumerate(CONCEPTS):
        positive = store_pass.heldout_labels == c
        proj = store_pass.heldout_projection[:, c, :]
        scores = layer_scores(proj, store_pass.heldout_cosine[:, c, :], positive, bins)
        p = auroc_above_chance(proj, positive)
        entry: dict[str, Any] = {
            "auroc": scores.auroc,
            "abs_d": scores.abs_d,
            "overlap": scores.overlap,
            "layer_star": scores.layer_star,
            "auroc_p": p,
            "auroc_p_holm": holm(p),
            "norm": np.linalg.norm(store_pass.vectors[c], axis=-1),
        }
        entry["norm_at_layer_star"] = float(entry["norm"][scores.layer_star])
        if n_bootstrap:
            boot = bootstrap_auroc(proj, positive, n_bootstrap, seed + c)
            entry["auroc_ci_low"], entry["auroc_ci_high"] = percentile_ci(boot)
        out[concept] = entry
    return out


def significant_layers(cos_stats: dict[str, Any], heldout: dict[str, Any], alpha: float) -> dict:
    """Which layers beat the null: the cosine (max-T, lower tail) and both AUROCs (Holm)."""
    cos_beats = np.asarray(cos_stats.get("p_fwer", np.ones_like(cos_stats["per_layer"]))) < alpha
    auroc_ok = {c: np.asarray(heldout[c]["auroc_p_holm"]) < alpha for c in CONCEPTS}
    both = cos_beats & auroc_ok["mold"] & auroc_ok["gold"]
    return {
        "cos_beats_null": np.flatnonzero(cos_beats).tolist(),
        "auroc_above_chance": {c: np.flatnonzero(v).tolist() for c, v in auroc_ok.items()},
        "significant": np.flatnonzero(both).tolist(),
    }


def tile_mean_statistics(store_pass: StorePass) -> dict[str, Any]:
    plan = store_pass.plan
    out: dict[str, Any] = {"layer": store_pass.tile_layer}
    for j, (a, b) in enumerate(TILE_PAIRS):
        values = store_pass.tile_cos[:, j]
        entry: dict[str, Any] = {"value": float(values[0])}
        boot, null = values[plan.bootstraps], values[plan.permutations]
        if len(boot):
            entry["ci"] = [float(q) for q in np.quantile(boot, [0.025, 0.975])]
        if len(null):
            entry["null_mean"] = float(null.mean())
            entry["p_lower"] = _lower_p(entry["value"], null)
        out[f"{a}_{b}"] = entry
    return out


def summarise_pass(
    store_pass: StorePass,
    *,
    baseline: str,
    alpha: float,
    n_bootstrap_auroc: int,
    seed: int,
    bins: int,
    first_adapted: int = 0,
) -> dict[str, Any]:
    """Everything Geometry 1 and layer selection report for one store (trained or control);
    `first_adapted`: `cosine_statistics`."""
    cos_stats = cosine_statistics(store_pass.resample_cos[baseline], store_pass, first_adapted)
    heldout = heldout_statistics(store_pass, n_bootstrap_auroc, seed, bins)
    other = {
        b: cosine_statistics(values, store_pass, first_adapted)
        for b, values in store_pass.resample_cos.items()
        if b != baseline
    }
    return {
        "counts": dict(
            zip(("mold", "gold", "path"), store_pass.counts.astype(int).tolist(), strict=True)
        ),
        "n_heldout": int(len(store_pass.heldout_labels)),
        "n_permutations": store_pass.plan.n_permutations,
        "n_bootstrap": store_pass.plan.n_bootstrap,
        "cos": cos_stats,
        "cos_other_baselines": other,
        "heldout": heldout,
        "layers": significant_layers(cos_stats, heldout, alpha),
        "tile_means": tile_mean_statistics(store_pass),
        "layer_star": {c: heldout[c]["layer_star"] for c in CONCEPTS},
    }
