"""`welfare axis` end to end: at each token position of `axis.positions`, two store passes
(trained → v, maze-naive → u) and their statistics; then, for the steering position, the
model-dependent geometry (logit lens, emotions, sentiment), the vectors file and metrics
(`metrics/{organism}/axis.json`, its layout: `AxisMetrics`, docs/metrics.md)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np

from welfare import __version__
from welfare.activations.store import open_activations, verify_store
from welfare.axis.corpus_probes import model_emotion_vectors, model_sentiment_vectors
from welfare.axis.emotions import emotion_pcs, pc_loadings, scatter_alignment
from welfare.axis.geometry import summarise_pass
from welfare.axis.logit_lens import logit_lens
from welfare.axis.passes import StorePass, run_store_pass
from welfare.axis.positions import AxisPositions, check_store_positions
from welfare.axis.sentiment import sentiment_cosines
from welfare.axis.vectors import CONCEPTS
from welfare.axis.vectors_file import vectors_dataset, write_vectors
from welfare.config import params_hash
from welfare.io import write_json
from welfare.model import load_model

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- axis.json (the contract)
# After `json_safe`: arrays are lists (one entry per layer), NaN/inf are None.

PerLayer = list[float | None]


class CosineSummary(TypedDict):
    """The layer average or minimum of cos(v_mold, v_gold), beside its null."""

    value: float
    ci: NotRequired[list[float]]  # bootstrap 95% (with n_bootstrap)
    null_mean: NotRequired[float]  # with n_permutations
    null_ci: NotRequired[list[float]]
    p: NotRequired[float]  # lower-tail permutation p


class AdaptedCosines(TypedDict):
    """`avg`, `min`, `argmin` over the adapted blocks only (first_layer … L−1)."""

    first_layer: int
    avg: CosineSummary
    min: CosineSummary
    argmin: int


class CosineStats(TypedDict):
    per_layer: PerLayer
    ci_low: NotRequired[PerLayer]
    ci_high: NotRequired[PerLayer]
    boot_mean: NotRequired[PerLayer]
    null_mean: NotRequired[PerLayer]
    null_low: NotRequired[PerLayer]
    null_high: NotRequired[PerLayer]
    z: NotRequired[PerLayer]
    p_raw: NotRequired[PerLayer]
    p_fwer: NotRequired[PerLayer]
    avg: CosineSummary
    min: CosineSummary
    argmin: int
    adapted: NotRequired[AdaptedCosines]  # LoRA on the top blocks only


class HeldoutStats(TypedDict):
    """Held-out separation along one concept's vector."""

    auroc: PerLayer
    abs_d: PerLayer
    overlap: PerLayer
    layer_star: int
    auroc_p: PerLayer
    auroc_p_holm: PerLayer
    norm: PerLayer
    norm_at_layer_star: float
    auroc_ci_low: NotRequired[PerLayer]  # with n_bootstrap_auroc
    auroc_ci_high: NotRequired[PerLayer]


class PassSummary(TypedDict):
    """One store's statistics (`welfare.axis.geometry.summarise_pass`): trained or control."""

    counts: dict[str, int]  # mold, gold, path (training split)
    n_heldout: int
    n_permutations: int
    n_bootstrap: int
    cos: CosineStats
    cos_other_baselines: dict[str, CosineStats]
    heldout: dict[str, HeldoutStats]  # mold, gold
    layers: dict[str, Any]  # cos_beats_null, auroc_above_chance.{mold,gold}, significant
    # layer; mold_gold, mold_path, gold_path: {value, ci, null_mean, p_lower}
    tile_means: dict[str, Any]
    layer_star: dict[str, int]


class RoleHeadline(TypedDict):
    """`headline()`: the numbers of docs/protocol.md §5 for one store, each beside its null."""

    min_cos: float
    min_cos_layer: int
    min_cos_null_mean: float | None
    min_cos_p: float | None
    avg_cos: float
    avg_cos_null_mean: float | None
    avg_cos_p: float | None
    significant_layers: list[int]
    layer_star: dict[str, int]
    norm_at_layer_star: dict[str, float]
    tile_mold_gold: float
    tile_mold_gold_p: float | None
    # LoRA on the top blocks only: min and mean over blocks adapted_from … L−1
    adapted_from: NotRequired[int]
    min_cos_adapted: NotRequired[float]
    min_cos_adapted_layer: NotRequired[int]
    min_cos_adapted_null_mean: NotRequired[float | None]
    min_cos_adapted_p: NotRequired[float | None]
    avg_cos_adapted: NotRequired[float]
    avg_cos_adapted_null_mean: NotRequired[float | None]
    avg_cos_adapted_p: NotRequired[float | None]


class PositionMetrics(TypedDict):
    headline: dict[str, RoleHeadline]  # trained, control
    trained: PassSummary
    control: PassSummary


class AxisMetrics(TypedDict):
    """`metrics/{organism}/axis.json`. `headline`, `trained`, `control` are the steering
    position's (they repeat `positions[steer_position]`); `logit_lens`, `emotions` and
    `sentiment` are `{"skipped": reason}` without the model or corpus they need."""

    organism: str
    baseline: str
    alpha: float
    n_layers: int
    d_model: int
    steer_position: str
    headline: dict[str, RoleHeadline]
    trained: PassSummary
    control: PassSummary
    positions: dict[str, PositionMetrics]
    logit_lens: dict[str, Any]  # layer; v|u: {concept: {raw|final_norm: {promoted, suppressed}}}
    emotions: dict[str, Any]  # layer, names, ...; trained|control: {cos, slope, r, ...}
    sentiment: dict[str, Any]  # methods; cos_v|cos_u: {method: {concept: per layer}}


@dataclass(frozen=True)
class AxisInputs:
    trained_store: Path
    naive_store: Path
    out_vectors: Path
    out_metrics: Path
    model: str | None = None  # trained checkpoint (logit lens of v)
    naive_model: str | None = None  # maze-naive model (u's lens, emotions, sentiment)
    corpus: Path | None = None  # directory with train.jsonl / heldout.jsonl
    organism: str = ""
    top_layers: int = 0  # LoRA on the top N blocks only (train.lora.top_layers); 0: every block


def json_safe(value: Any) -> Any:
    """Arrays to lists and NaN/inf to None, so the metrics file is strict JSON (DVC, browsers)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def auto_layer(value: int, n_layers: int, numerator: int, denominator: int) -> int:
    """`value`, or ⌊numerator·L/denominator⌋ when value is −1."""
    return (numerator * n_layers) // denominator if value < 0 else min(value, n_layers - 1)


def store_passes(
    inputs: AxisInputs, axis: Mapping[str, Any], workers: int | None, position: str = "letter"
) -> dict:
    """Both stores read once at `position` (`run_axis` verifies them beforehand)."""
    passes: dict[str, StorePass] = {}
    for role, store in (("trained", inputs.trained_store), ("control", inputs.naive_store)):
        log.info("%s store %s at the %s position", role, store, position)
        passes[role] = run_store_pass(
            open_activations(store, verify=False),
            baseline=axis["baseline"],
            n_permutations=axis["n_permutations"],
            n_bootstrap=axis["n_bootstrap"],
            seed=axis["seed"],
            tile_layer=None if axis["tile_layer"] < 0 else axis["tile_layer"],
            num_workers=workers,
            position=position,
        )
    return passes


@dataclass(frozen=True)
class PositionAnalysis:
    """The two store passes at one token position and their summaries (Geometry 1)."""

    passes: dict[str, StorePass]
    summaries: dict[str, dict[str, Any]]

    def metrics(self) -> dict[str, Any]:
        return {"headline": headline(self.summaries), **self.summaries}


def analyse_position(
    inputs: AxisInputs, axis: Mapping[str, Any], workers: int | None, position: str
) -> PositionAnalysis:
    """Vectors, cosines with their null and CI, held-out AUROC and significance at `position`."""
    passes = store_passes(inputs, axis, workers, position)
    n_layers = passes["trained"].vectors.shape[1]
    first_adapted = max(0, n_layers - inputs.top_layers) if inputs.top_layers else 0
    summaries = {
        role: summarise_pass(
            p,
            baseline=axis["baseline"],
            alpha=axis["alpha"],
            n_bootstrap_auroc=axis["n_bootstrap_auroc"],
            seed=axis["seed"],
            bins=axis["histogram_bins"],
            first_adapted=first_adapted,
        )
        for role, p in passes.items()
    }
    return PositionAnalysis(passes, summaries)


def headline(summaries: Mapping[str, dict]) -> dict[str, Any]:
    """The numbers of docs/protocol.md §5 items 1–3 and 5, each next to its null / significance."""
    out: dict[str, Any] = {}
    for role, s in summaries.items():
        cos = s["cos"]
        out[role] = {
            **_cos_headline(cos, ""),
            "significant_layers": s["layers"]["significant"],
            "layer_star": s["layer_star"],
            "norm_at_layer_star": {c: s["heldout"][c]["norm_at_layer_star"] for c in CONCEPTS},
            "tile_mold_gold": s["tile_means"]["mold_gold"]["value"],
            "tile_mold_gold_p": s["tile_means"]["mold_gold"].get("p_lower"),
        }
        if "adapted" in cos:  # the same numbers over the blocks RL could move
            out[role]["adapted_from"] = cos["adapted"]["first_layer"]
            out[role] |= _cos_headline(cos["adapted"], "_adapted")
    return out


def _cos_headline(cos: Mapping[str, Any], suffix: str) -> dict[str, Any]:
    """min_cos{suffix}, its layer, null mean and p; avg_cos{suffix}, its null mean and p."""
    out = {f"min_cos{suffix}_layer": cos["argmin"]}
    for name in ("min", "avg"):
        out[f"{name}_cos{suffix}"] = cos[name]["value"]
        out[f"{name}_cos{suffix}_null_mean"] = cos[name].get("null_mean")
        out[f"{name}_cos{suffix}_p"] = cos[name].get("p")
    return out


def lens_metrics(
    model: Any, tokenizer: Any, vectors: np.ndarray, layer: int, axis: Mapping
) -> dict:
    lens = axis["logit_lens"]
    out: dict[str, Any] = {}
    for i, concept in enumerate(CONCEPTS):
        out[concept] = {}
        for variant in lens["norm"]:
            readout = logit_lens(
                model,
                tokenizer,
                vectors[i, layer],
                lens["top_k"],
                apply_norm=variant == "final_norm",
            )
            out[concept][variant] = {"promoted": readout.promoted, "suppressed": readout.suppressed}
    return out


def run_axis(inputs: AxisInputs, params: Mapping[str, Any]) -> dict[str, Any]:
    """Write the vectors file and axis.json (`AxisMetrics`); return the metrics (before
    `json_safe`)."""
    axis = params["axis"]
    positions = AxisPositions.from_params(axis)
    stores = {"trained": inputs.trained_store, "control": inputs.naive_store}
    # Both stores verified once and checked for the positions: errors before any work.
    for store in stores.values():
        verify_store(store)
    check_store_positions(stores, positions)
    workers = params["runtime"]["threads"] or None
    analyses = {p: analyse_position(inputs, axis, workers, p) for p in positions.positions}
    main = analyses[positions.steer]
    summaries = main.summaries
    v, u = main.passes["trained"].vectors, main.passes["control"].vectors
    metrics: dict[str, Any] = {
        "organism": inputs.organism,
        "baseline": axis["baseline"],
        "alpha": axis["alpha"],
        "n_layers": v.shape[1],
        "d_model": int(v.shape[2]),
        "steer_position": positions.steer,
        **main.metrics(),
        "positions": {p: a.metrics() for p, a in analyses.items()},
    }
    geometry, sentiment_vectors = model_geometry(inputs, params, v, u, summaries)
    metrics.update(geometry)
    dataset = vectors_dataset(
        v,
        u,
        summaries["trained"]["layer_star"],
        summaries["control"]["layer_star"],
        summaries["trained"]["heldout"],
        summaries["control"]["heldout"],
        vectors_attrs(inputs, params, main, positions.steer),
        sentiment=sentiment_vectors or None,
        by_position={
            p: (a.passes["trained"].vectors, a.passes["control"].vectors)
            for p, a in analyses.items()
        },
        layer_star_by_position={
            p: (a.summaries["trained"]["layer_star"], a.summaries["control"]["layer_star"])
            for p, a in analyses.items()
        },
    )
    write_vectors(inputs.out_vectors, dataset)
    write_json(inputs.out_metrics, json_safe(metrics))
    return metrics


def model_geometry(
    inputs: AxisInputs,
    params: Mapping[str, Any],
    v: np.ndarray,
    u: np.ndarray,
    summaries: Mapping[str, dict],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Logit lens, emotion and sentiment geometry of the steering position's v and u; each
    analysis says why when it is skipped."""
    axis = params["axis"]
    n_layers = v.shape[1]
    lens_layer = auto_layer(axis["logit_lens"]["layer"], n_layers, 5, 6)
    mean_auroc = (
        np.asarray(summaries["trained"]["heldout"]["mold"]["auroc"])
        + np.asarray(summaries["trained"]["heldout"]["gold"]["auroc"])
    ) / 2
    emotion_layer = (
        int(np.argmax(mean_auroc))
        if axis["emotion"]["layer"] < 0
        else min(axis["emotion"]["layer"], n_layers - 1)
    )
    sentiment_vectors: dict[str, np.ndarray] = {}
    out: dict[str, Any] = {"logit_lens": {"layer": lens_layer}}
    runtime = params["runtime"]
    batch = {
        "batch_size": params["activations"]["batch_size"],
        "max_batch_tokens": params["activations"]["max_batch_tokens"],
    }
    if inputs.model:
        model, tokenizer = load_model(inputs.model, runtime)
        out["logit_lens"]["v"] = lens_metrics(model, tokenizer, v, lens_layer, axis)
        del model
    else:
        out["logit_lens"]["v"] = {"skipped": "no --model"}
    if inputs.naive_model:
        naive, tokenizer = load_model(inputs.naive_model, runtime)
        out["logit_lens"]["u"] = lens_metrics(naive, tokenizer, u, lens_layer, axis)
        out["emotions"], out["sentiment"], sentiment_vectors = _corpus_geometry(
            naive, tokenizer, inputs, axis, batch, v, u, emotion_layer
        )
    else:
        out["logit_lens"]["u"] = {"skipped": "no --naive-model"}
        out["emotions"] = out["sentiment"] = {"skipped": "no --naive-model"}
    return out, sentiment_vectors


def vectors_attrs(
    inputs: AxisInputs, params: Mapping[str, Any], main: PositionAnalysis, position: str
) -> dict[str, Any]:
    passes = main.passes
    attrs = {
        "baseline": params["axis"]["baseline"],
        "model": str(inputs.model or passes["trained"].attrs.get("model", "")),
        "naive_model": str(inputs.naive_model or passes["control"].attrs.get("model", "")),
        "params_hash": params_hash(params, ["axis", "activations", "env", "maze", "mappings"]),
        "welfare_version": __version__,
        "organism": inputs.organism,
        "trained_store": str(inputs.trained_store),
        "naive_store": str(inputs.naive_store),
        "position": position,
    }
    for role, s in (("", main.summaries["trained"]), ("naive_", main.summaries["control"])):
        for cls, n in s["counts"].items():
            attrs[f"n_{role}{cls}"] = int(n)
    return attrs


def _corpus_geometry(naive, tokenizer, inputs, axis, batch, v, u, emotion_layer):
    corpus_file = None
    if inputs.corpus is not None:
        corpus_file = Path(inputs.corpus) / f"{axis['emotion']['corpus_split']}.jsonl"
        if not corpus_file.exists():
            corpus_file = None
    emotions: dict[str, Any]
    if corpus_file is None:
        emotions = {"skipped": f"no corpus file under {inputs.corpus}"}
    else:
        try:
            ev = model_emotion_vectors(naive, tokenizer, corpus_file, axis["emotion"], batch)
        except ValueError as exc:
            emotions = {"skipped": str(exc)}
        else:
            pcs, ratios = emotion_pcs(ev)
            loadings = {"v": pc_loadings(pcs, v), "u": pc_loadings(pcs, u)}
            strength = np.abs(loadings["v"]["pc1"]["mold"]) + np.abs(loadings["v"]["pc1"]["gold"])
            emotions = {
                "layer": emotion_layer,
                "names": ev.names,
                "valence": ev.valence,
                "arousal": ev.arousal,
                "n_stories": ev.n_stories,
                "n_pcs_removed": ev.n_pcs_removed,
                "trained": scatter_alignment(ev, v, emotion_layer),
                "control": scatter_alignment(ev, u, emotion_layer),
                "pc_loadings": loadings,
                "pc_variance_ratio": ratios,
                "best_pc1_layer": int(np.argmax(strength)),
            }
    sentiment_vectors = model_sentiment_vectors(
        naive, tokenizer, corpus_file, axis["sentiment"], batch
    )
    sentiment = {
        "methods": sorted(sentiment_vectors),
        "cos_v": sentiment_cosines(sentiment_vectors, v),
        "cos_u": sentiment_cosines(sentiment_vectors, u),
    }
    return emotions, sentiment, sentiment_vectors
