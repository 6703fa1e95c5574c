"""The three reports in headless Chromium: scripts run to the end without a console
message or page error, the counterexample view draws its ops, the screenshot is not blank."""

from __future__ import annotations

import html as html_lib
import json
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


INTERACT = """<script>
(function () {
  const view = window.splitbrainCounterexample;
  const svg = document.querySelector("svg.ce-plot");
  const span = () => view.domain[1] - view.domain[0];
  const out = { initial: span() };
  const box = svg.getBoundingClientRect();
  const at = { clientX: box.left + box.width / 2, clientY: box.top + 40, bubbles: true };
  svg.dispatchEvent(new WheelEvent("wheel", { ...at, deltaY: -400, cancelable: true }));
  out.zoomed = span();
  const left = view.domain[0];
  svg.dispatchEvent(new PointerEvent("pointerdown", { ...at, pointerId: 1 }));
  svg.dispatchEvent(new PointerEvent("pointermove", { ...at, clientX: at.clientX + 200, pointerId: 1 }));
  svg.dispatchEvent(new PointerEvent("pointerup", { ...at, pointerId: 1 }));
  out.panned_left = view.domain[0] < left;
  document.querySelector('[data-action="blocked"]').click();
  document.querySelector("g.ce-op.blocked").dispatchEvent(new MouseEvent("click", { bubbles: true }));
  out.detail = document.querySelector(".ce-detail").textContent;
  document.querySelector('[data-action="fit"]').click();
  out.fit = span();
  document.body.setAttribute("data-interaction", JSON.stringify(out));
})();
</script>"""


def test_counterexample_view_zooms_pans_and_explains(lin_run: SyntheticRun, tmp_path: Path) -> None:
    html = (lin_run.path / "report.html").read_text()
    page = tmp_path / "interact.html"
    page.write_text(html.replace("</body>", INTERACT + "</body>"))
    loaded = load(page.as_uri(), tmp_path, height=1600)
    assert loaded.page_errors == "" and loaded.console == []
    found = re.search(r"data-interaction=\"([^\"]*)\"", loaded.dom)
    assert found, "the interaction script did not run"
    out = json.loads(html_lib.unescape(found.group(1)))
    assert out["zoomed"] < out["initial"]  # wheel up zooms in
    assert out["panned_left"]  # dragging right shows earlier times
    assert "could not be linearized" in out["detail"] and "state before it" in out["detail"]
    assert out["fit"] >= out["initial"]


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
