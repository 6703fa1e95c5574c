"""The three reports in headless Chromium: scripts run to the end without a console
message or page error, the counterexample view draws its ops, the screenshot is not blank."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import requires_command
from tests.report.browser import CHROMIUM, colour_stats, load
from tests.report.builders import SyntheticRun

pytestmark = requires_command(CHROMIUM, "chromium")


def _check_page(run: SyntheticRun, tmp: Path) -> str:
    page = load((run.path / "report.html").as_uri(), tmp)
    assert page.console == [], page.console
    assert page.page_errors == ""
    assert page.ready, "the report's script did not finish"
    colours, dominant = colour_stats(page.screenshot)
    assert colours > 200 and dominant < 0.95, (colours, dominant)
    return page.dom


@pytest.mark.parametrize("kind", ["valid_run", "safety_run"])
def test_report_loads_cleanly(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    dom = _check_page(request.getfixturevalue(kind), tmp_path)
    assert 'id="counterexample-view"' not in dom


def test_counterexample_view_draws_every_window_op(lin_run: SyntheticRun, tmp_path: Path) -> None:
    dom = _check_page(lin_run, tmp_path)
    window = lin_run.results["linearizability"]["details"]["counterexample"]["prefixes"][0]
    drawn = re.findall(r'<g class="ce-op ([a-z ]+)" data-id="(\d+)"', dom)
    assert sorted(int(i) for _, i in drawn) == sorted(w["id"] for w in window["window"])
    assert [int(i) for kind, i in drawn if kind.startswith("blocked")] == [window["blocked"]]
    assert 'class="ce-order"' in dom  # the linearization order line


def test_a_script_error_would_be_caught(tmp_path: Path) -> None:
    """The checks above can fail: a page whose script throws is reported."""
    page = tmp_path / "broken.html"
    source = (Path(__file__).parents[2] / "harness" / "templates" / "report.html.j2").read_text()
    head = source[: source.index("</head>")]
    page.write_text(
        head.replace("{{ title }} — {{ verdict }}", "broken").replace("{{ css | safe }}", "")
        + '</head><body><pre id="report-errors" hidden></pre>'
        + "<script>console.log('hello'); missing();</script></body></html>"
    )
    loaded = load(page.as_uri(), tmp_path, height=400)
    assert "missing is not defined" in loaded.page_errors
    assert any("hello" in line for line in loaded.console)
    assert not loaded.ready
