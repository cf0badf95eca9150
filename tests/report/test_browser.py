"""The report renders in a real browser: headless Chromium loads report/index.html and every
figure has a drawing (or table) with a non-zero size; a figure whose metrics are missing shows
its "not available" note instead."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import report_fixtures as fx

from welfare.cli import main
from welfare.config import REPO_ROOT, load_params

BROWSER = next(
    (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
)


@pytest.fixture
def browser() -> str:
    if BROWSER is None:
        if os.environ.get("WELFARE_REQUIRE_CHROMIUM") == "1":
            pytest.fail("no chromium: apt-get install chromium")
        pytest.skip("no chromium (apt-get install chromium)")
    return BROWSER


def _render(browser: str, html: Path, tmp_path: Path) -> str:
    """The DOM after the page's load handler ran (it stamps each figure with its size)."""
    out = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert 'data-report-ready="1"' in out.stdout, out.stderr[-2000:]
    return out.stdout


def test_every_figure_renders_in_chromium(browser: str, tmp_path: Path) -> None:
    fx.write_metrics(tmp_path)
    (tmp_path / "metrics/reinforce/track.json").unlink()  # one figure without its metrics
    assert (
        main(
            [
                "report",
                "--params",
                str(REPO_ROOT / "params.yaml"),
                "--out",
                str(tmp_path / "report"),
                "--metrics",
                str(tmp_path / "metrics"),
                "--root",
                str(tmp_path),
            ]
        )
        == 0
    )
    dom = _render(browser, tmp_path / "report/index.html", tmp_path)
    figures = dict(re.findall(r'<figure data-figure="([^"]+)"[^>]*data-rendered="([^"]+)"', dom))
    expected = {f"{k}-reinforce" for k in fx.FIGURES}
    rows = load_params([REPO_ROOT / "params.yaml"])["organisms"]
    unwritten = tuple(f"-{name}" for name in rows if name != "reinforce")
    assert expected <= set(figures), figures
    for key, rendered in figures.items():
        # The fixtures write one organism's metrics (reinforce) into params.yaml's table: the
        # other rows' figures, and reinforce's tracking (deleted above), show their note.
        if key == "tracking-reinforce" or key.endswith(unwritten):
            assert rendered == "missing", (key, rendered)
            continue
        size = re.match(r"(\d+)x(\d+) (marks=(\d+)|table)", rendered)
        assert size, (key, rendered)
        width, height = int(size.group(1)), int(size.group(2))
        assert width > 50 and height > 20, (key, rendered)
        if size.group(4) is not None:
            assert int(size.group(4)) > 10, (key, rendered)  # axes, lines, labels were drawn
