"""The HTML report as a browser draws it: headless Chromium takes a screenshot, and the test
checks the verdict colour in the banner and the chart's lines in the picture.

The PNGs are kept: in $DRILL_REPORT_ARTIFACTS when set (created if needed), else in pytest's
temporary folder; each test prints where (`pytest -s` shows it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from runner.journal import files
from runner.journal.run import Run
from runner.reports import history, history_html, html
from runner.reports.page import VERDICT_COLOURS
from runner.reports.timeline_chart import LAG_COLOURS, SLI_COLOURS
from runner.reports.trend_chart import POINT_COLOURS
from tests.reports import png
from tests.reports.conftest import RUNS, fixture_dir, load_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH, HEIGHT = 1200, 1600

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs Chromium for screenshots (apt-get install -y --no-install-recommends chromium)",
)


def typed(runs: list[dict[str, Any]]) -> list[Run]:
    """The records as the journal reads them."""
    return [Run.from_json(r) for r in runs]


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DRILL_REPORT_ARTIFACTS") or tmp_path / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page: Path, out: Path) -> png.Image:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={out}",
                f"--window-size={WIDTH},{HEIGHT}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    print(f"screenshot: {out}")
    return png.read(out)


@pytest.mark.parametrize("status", list(RUNS))
def test_screenshot_shows_the_verdict_and_the_chart(status: str, artifacts: Path) -> None:
    page = artifacts / f"report-{status}.html"
    page.write_text(html.render(files.load(fixture_dir(status))))
    image = screenshot(page, artifacts / f"report-{status}.png")
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    banner = _rgb(VERDICT_COLOURS[status][0])
    for x in (60, 600, 1140):  # the banner's top padding, left to right
        assert image.pixel(x, 8) == banner, x
    height = next(y for y in range(HEIGHT) if image.pixel(60, y) != banner)
    assert 60 <= height <= 200, height  # a banner, not the page
    sli, lag = image.count(_rgb(SLI_COLOURS[0])), image.count(_rgb(LAG_COLOURS[0]))
    if status == "aborted":
        assert (sli, lag) == (0, 0)  # nothing was measured: no line is drawn
    else:
        assert sli > 150 and lag > 150, (sli, lag)


def test_screenshot_of_the_history_trend(artifacts: Path) -> None:
    runs = [load_run("passed")]
    for i, seconds in enumerate([4.0, 4.0, 5.0, 9.0], start=1):
        run = load_run("passed")
        run["runId"] = f"synthetic-{i}"
        run["startedAt"] = f"2026-11-25T0{i}:00:00+00:00"
        run["measurements"]["rto"]["seconds"] = seconds
        runs.append(run)
    page = artifacts / "history.html"
    page.write_text(history_html.render(history.build(typed(runs)), source="tests"))
    image = screenshot(page, artifacts / "history.png")
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    assert image.count(_rgb(POINT_COLOURS["met"])) > 200  # the RTO and RPO points
    assert image.count(_rgb("#cf222e")) > 200  # objective lines and the regression ring
