"""`welfare report`: every figure and table of the paper from complete metrics, with their numbers;
"not available" (never a crash) for each figure whose metrics are missing or malformed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import report_fixtures as fx

from welfare.cli import main
from welfare.config import REPO_ROOT

FIGURES = fx.FIGURES


def _report(tmp_path: Path, *overlays: Path) -> tuple[str, dict]:
    params = [a for path in (REPO_ROOT / "params.yaml", *overlays) for a in ("--params", str(path))]
    root = ["--metrics", str(tmp_path / "metrics"), "--root", str(tmp_path)]
    assert main(["report", *params, "--out", str(tmp_path / "report"), *root]) == 0
    html = (tmp_path / "report/index.html").read_text()
    return html, json.loads((tmp_path / "report/metrics.json").read_text())


def _figure(html: str, key: str) -> str:
    match = re.search(rf'<figure data-figure="{key}".*?</figure>', html, re.S)
    assert match, key
    return match.group(0)


def _svg(figure: str) -> str:
    return figure[figure.index("<svg") : figure.index("</svg>")]


def test_every_figure_from_complete_metrics(tmp_path: Path) -> None:
    fx.write_metrics(tmp_path)
    html, headline = _report(tmp_path)
    for key in FIGURES:
        fig = _figure(html, f"{key}-reinforce")
        assert "Not available" not in fig, key
        assert "<svg" in fig or "<table" in fig, key
    # Self-contained: no external resource of any kind.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    # The numbers are in the report and in metrics.json, beside the paper's.
    assert headline["reinforce"]["cos_min_trained"] == pytest.approx(-0.91)
    assert headline["reinforce"]["cos_min_control"] == pytest.approx(-0.15)
    assert headline["reinforce"]["tile_mold_gold_trained"] == pytest.approx(-0.813)
    assert headline["reinforce"]["norm_v_gold"] == pytest.approx(14.37)
    assert headline["reinforce"]["slope_sentiment_v_gold"] == pytest.approx(0.71)
    assert headline["reinforce"]["tracking_d_trained"] == pytest.approx(1.8)
    assert "−0.947" in html and "-0.91" in html
    assert "impossible" in _figure(html, "logit-lens-reinforce")
    # class_balance.json as welfare.env writes it: trajectories per class from the final
    # direction counts.
    balance = re.sub(r"\s+", "", _figure(html, "env-balance"))
    assert "<td>office</td><td>15</td><td>15</td><td>15</td>" in balance
    tracking = _figure(html, "tracking-reinforce")
    assert "trained · maze · v_gold" in tracking and "1.8" in tracking
    # Both token positions side by side, each with its null's p and held-out AUROC.
    positions = _figure(html, "positions-reinforce")
    assert "<svg" in positions and "letter: trained (v)" in positions
    assert "decision: trained (v)" in positions and "decision: control (u)" in positions
    assert "-0.77 (2)" in positions and "0.83 (2)" in positions  # decision: min cos, AUROC
    assert "-0.91 (3)" in positions and "0.61 (3)" in positions  # letter
    assert "Steering and tracking use the letter position" in positions
    assert headline["reinforce"]["cos_min_trained_decision"] == pytest.approx(-0.77)
    assert headline["reinforce"]["cos_min_p_trained_decision"] == pytest.approx(0.004)
    assert headline["reinforce"]["auroc_gold_trained_letter"] == pytest.approx(0.61)
    # Provenance: params, code version, hashes of the inputs.
    assert "Provenance" in html and "params hash" in html
    assert re.search(r"metrics/reinforce/axis\.json</td><td>[0-9a-f]{32}<", html)
    # DVC plots data.
    cos = (tmp_path / "report/plots/cosines/reinforce.tsv").read_text().splitlines()
    assert cos[0].split("\t") == ["layer", "trained", "control"] and len(cos) == fx.LAYERS + 1
    assert "v_gold" in (tmp_path / "report/plots/steering/reinforce.tsv").read_text()
    # The organism table: one row per organism beside its docs/protocol.md Table 1 row.
    table = re.search(r'<section id="organisms".*?</section>', html, re.S).group(0)
    for name in ("reinforce", "drgrpo", "sft", "office_swap"):
        assert f"<td>{name}</td>" in table, name
    assert "7 the algorithm (token-level REINFORCE)" in table and "−0.943" in table
    assert "8 RL vs supervised" in table and "−0.844" in table
    assert "-0.91 (null" in table and "0.81 / 0.93" in table
    assert headline["reinforce"]["auroc_v_gold"] == pytest.approx(0.93)
    reading = _figure(html, "pretrain-reading")
    assert "<svg" in reading and "dropped tries" in reading
    assert "<td>0.95</td>" in reading  # the kept try's last what (0.25 + 0.07 · 10)
    assert "judgment" in reading and "P(True) AUROC" in reading
    assert "neighbours" in reading and "<td>0.731</td>" in reading
    assert "Dashed: where the fresh rows change" in reading


def test_reading_figure_marks_where_the_fresh_rows_change() -> None:
    """Dashed lines at the end of the binding curriculum and at each later phase's start;
    a curriculum of 0 steps draws none."""
    from welfare.report.build import phase_starts

    fresh = {"few_clauses": {"steps": 2000}, "phases": [{"from_step": 3000}, {"from_step": 4000}]}
    assert phase_starts({"fresh": fresh}) == [2000, 3000, 4000]
    assert phase_starts({"fresh": {"few_clauses": {"steps": 0}, "phases": []}}) == []
    assert phase_starts({}) == []


def test_byte_level_tokens_are_shown_as_text() -> None:
    from welfare.report.figures import readable_token

    assert readable_token("Ġfail") == "␣fail"
    assert readable_token("ðŁĵĲ") == "📐"
    assert readable_token("▁fail") == "▁fail"  # sentencepiece: left alone


def test_missing_metrics_say_not_available(tmp_path: Path) -> None:
    html, headline = _report(tmp_path)  # no metrics at all
    for key in FIGURES:
        assert "Not available" in _figure(html, f"{key}-reinforce"), key
    assert headline["reinforce"]["cos_min_trained"] is None


def test_partial_and_malformed_metrics(tmp_path: Path) -> None:
    metrics = fx.write_metrics(tmp_path)
    (metrics / "reinforce/axis.json").write_text("{not json")
    empty_steer = {"runs": {"naive": {"sentiment": {}}}}
    (metrics / "reinforce/steer.json").write_text(json.dumps(empty_steer))
    (metrics / "reinforce/track.json").unlink()
    html, _ = _report(tmp_path)
    assert "unreadable" in _figure(html, "cosines-reinforce")
    assert "Not available" in _figure(html, "tracking-reinforce")
    (tmp_path / "organisms/reference/reading_probe.tsv").write_text("try\tstep\n")
    html, _ = _report(tmp_path)
    assert "no rows" in _figure(html, "pretrain-reading")
    assert "no dose-response points" in _figure(html, "steering-reinforce")
    assert "Not available" not in _figure(html, "training-reinforce")


def test_report_params(tmp_path: Path) -> None:
    fx.write_metrics(tmp_path)
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("report: {title: My replication, paper_column: false}\n")
    html, _ = _report(tmp_path, overlay)
    assert "<title>My replication</title>" in html
    assert "paper (primary)" not in html


def test_pretraining_figures_read_the_organism_this_run_uses(tmp_path: Path) -> None:
    """The kept organism's metrics (params.naive, the default) or this run's pretraining
    (naive: models/naive): each figure says which organism it shows."""
    fx.write_metrics(tmp_path, naive="metrics/naive")
    html, _ = _report(tmp_path)  # the default names the kept organism, whose files are absent
    assert "Not available" in _figure(html, "pretrain-reading")
    scratch = tmp_path / "scratch.yaml"
    scratch.write_text("naive: models/naive\n")
    html, _ = _report(tmp_path, scratch)
    pretrain = _figure(html, "pretrain")
    assert "pretrained in this run" in pretrain and "Not available" not in pretrain
    assert "<svg" in _figure(html, "pretrain-reading")
    fx.write_metrics(tmp_path)
    html, _ = _report(tmp_path)
    assert "kept: organisms/reference" in _figure(html, "pretrain")


def test_control_is_named_as_each_rows_base(tmp_path: Path) -> None:
    """The organism table says where u comes from: the kept organism for the default table, the
    imported model for a real-LM overlay (never the kept organism it did not use)."""
    html, _ = _report(tmp_path)
    assert "kept: organisms/reference" in html
    overlay = tmp_path / "real.yaml"
    overlay.write_text(
        "organisms:\n  lm: {base: models/imported/smollm2, algorithm: drgrpo, adapter: lora, "
        "mapping: office}\n"
    )
    html, _ = _report(tmp_path, overlay)
    section = html[html.index("The organisms side by side") :][:3000]
    assert "models/imported/smollm2" in section and "organisms/reference" not in section


def test_lora_on_the_top_blocks_and_the_curriculum_are_shown_where_they_apply(
    tmp_path: Path,
) -> None:
    """The adapted blocks' own minimum gets rows (headline and positions) and the frozen blocks a
    grey band only when axis.json has them; the training curves mark the curriculum's end only
    when the params have one."""
    metrics = fx.write_metrics(tmp_path)
    html, headline = _report(tmp_path)
    assert "LoRA-adapted blocks" not in html and "min over the adapted blocks" not in html
    assert "frozen blocks" not in _figure(html, "cosines-reinforce")
    assert "whole episodes" not in _svg(_figure(html, "training-reinforce"))
    assert headline["reinforce"]["cos_min_adapted_trained"] is None

    path = metrics / "reinforce/axis.json"
    axis = json.loads(path.read_text())
    adapted = {"min_cos_adapted": -0.7, "min_cos_adapted_layer": 4, "min_cos_adapted_p": 0.03}
    adapted |= {"min_cos_adapted_null_mean": -0.35, "adapted_from": 4}
    axis.setdefault("headline", {"trained": {}, "control": {}})
    for entry in (axis, *axis["positions"].values()):
        entry["headline"]["trained"] |= adapted
        entry["headline"]["control"] |= adapted | {"min_cos_adapted": 0.0}
    axis["trained"]["cos"]["adapted"] = {"first_layer": 4}
    path.write_text(json.dumps(axis))
    overlay = tmp_path / "curriculum.yaml"
    row = "{base: naive, algorithm: reinforce, adapter: full, mapping: office}"
    overlay.write_text(
        f"organisms: {{reinforce: {row}}}\ntrain: {{curriculum: {{steps: 4, turns: 1}}}}\n"
    )
    html, headline = _report(tmp_path, overlay)
    assert headline["reinforce"]["cos_min_adapted_trained"] == pytest.approx(-0.7)
    assert headline["reinforce"]["cos_min_adapted_p_trained"] == pytest.approx(0.03)
    assert headline["reinforce"]["cos_min_adapted_control"] == pytest.approx(0.0)
    assert headline["reinforce"]["cos_min_adapted_trained_decision"] == pytest.approx(-0.7)
    assert "LoRA-adapted blocks" in html
    assert "min over the adapted blocks (layer)" in _figure(html, "positions-reinforce")
    assert "-0.7 (4)" in _figure(html, "positions-reinforce")
    assert "frozen blocks" in _figure(html, "cosines-reinforce")
    assert "whole episodes" in _svg(_figure(html, "training-reinforce"))
