"""report.html: verdict, checkers, timeline bars and shaded nemesis windows."""

from __future__ import annotations

from pathlib import Path

import pytest

from checkers.history import Op
from harness.report import fault_windows, find_counterexamples, timeline, write_report
from harness.spec import TestSpec


def history() -> list[Op]:
    ops = [
        Op("invoke", "write", 0, 1, "r", time=0),
        Op("invoke", "start-partition", "nemesis", None, time=100),
        Op("info", "start-partition", "nemesis", {"n1": ["n2"]}, time=200),
        Op("ok", "write", 0, 1, "r", time=300),
        Op("invoke", "read", 1, None, "r", time=400),
        Op("info", "read", 1, None, "r", time=500, error="timeout"),
        Op("invoke", "stop-partition", "nemesis", None, time=600),
        Op("info", "stop-partition", "nemesis", None, time=700),
        Op("invoke", "start-kill", "nemesis", None, time=800),
        Op("info", "start-kill", "nemesis", ["n3"], time=900),
        Op("invoke", "read", 0, None, "r", time=950),
    ]
    for i, op in enumerate(ops):
        op.index = i
    return ops


def test_windows() -> None:
    assert fault_windows(history(), 1000) == [("partition", 200, 700), ("kill", 900, 1000)]


def test_timeline_geometry() -> None:
    shape = timeline(history())
    assert shape["lanes"] == 2 and len(shape["bars"]) == 3
    write, timed_out, still_open = shape["bars"]
    assert write.color != timed_out.color != still_open.color
    assert write.x == 0 and write.w > 0
    # the info op's bar ends where it timed out (time 500 of 950)
    assert timed_out.x + timed_out.w == pytest.approx(500 * shape["width"] / 950)
    assert "→ ok 1" in write.title and "→ info" in timed_out.title
    assert [w.label for w in shape["windows"]] == ["partition", "kill"]
    assert shape["windows"][0].x < shape["windows"][1].x


def test_counterexample_is_found() -> None:
    blocked = {"process": 3, "f": "read", "key": "r", "value": None, "result": 4}
    blocked |= {"status": "ok", "start_index": 4, "lines": [5, 6]}
    results = {
        "checkers": ["stats", "linearizability"],
        "stats": {"valid": True},
        "linearizability": {"valid": False, "details": {"counterexample": {"blocked": [blocked]}}},
    }
    (found,) = find_counterexamples(results)
    assert found.checker == "linearizability"
    assert found.blocked == ["p3 read r null -> ok 4 (lines 5-6)"]
    assert found.indices == {4}
    assert '"result": 4' in found.raw


def test_report_renders(tmp_path: Path) -> None:
    results = {
        "valid": False,
        "checkers": ["linearizability"],
        "linearizability": {
            "valid": False,
            "summary": "not linearizable",
            "violations": [{"message": "read of 3 <script>"}],
            "details": {
                "counterexample": {
                    "blocked": [
                        {"process": 1, "f": "read", "key": "r", "status": "info", "start_index": 4}
                    ]
                }
            },
        },
    }
    path = write_report(tmp_path, TestSpec(name="demo", seed=5), results, history())
    html = path.read_text()
    assert "INVALID" in html and "not linearizable" in html and "p1 read r null -&gt; info" in html
    assert html.count('stroke="#000"') == 1  # the blocked op is outlined in the timeline
    assert "&lt;script&gt;" in html and "<script>" not in html  # escaped
    assert html.count("<rect") >= 5  # 3 op bars + 2 nemesis windows
    assert ">partition<" in html and ">kill<" in html
