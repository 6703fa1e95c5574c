"""The report's parts on hand-made input: fault windows, availability, the Raft timeline,
cited safety evidence, and the counterexample's per-op states from checkers.lin_report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checkers.history import NEMESIS, Op
from checkers.linearizability import check
from harness.report.availability import availability
from harness.report.raft_timeline import load_timeline
from harness.report.rundata import build_run_data, fault_windows
from harness.report.safety import resolve, safety_violations
from tests.report.builders import T0_WALL_NS, SyntheticRun


def _ops(*events: tuple[str, str, object, object, float]) -> list[Op]:
    """(type, f, process, value, seconds) → Ops with key "r" for client ops."""
    out = []
    for i, (type_, f, process, value, at) in enumerate(events):
        key = None if process == NEMESIS else "r"
        out.append(Op(type_, f, process, value, key, time=int(at * 1e9), index=i))
    return out


HISTORY = _ops(
    ("invoke", "write", 0, 1, 0.0),
    ("ok", "write", 0, 1, 0.5),
    ("invoke", "start-partition", NEMESIS, None, 1.0),
    ("info", "start-partition", NEMESIS, {"topology": "halves"}, 1.1),
    ("invoke", "read", 1, None, 1.5),
    ("fail", "read", 1, None, 1.6),
    ("invoke", "start-kill", NEMESIS, None, 1.7),
    ("info", "start-kill", NEMESIS, ["n2"], 1.8),
    ("invoke", "read", 0, None, 2.0),
    ("info", "read", 0, None, 3.0),
    ("invoke", "stop-partition", NEMESIS, None, 3.0),
    ("info", "stop-partition", NEMESIS, None, 3.1),
    ("invoke", "start-pause", NEMESIS, None, 3.2),
    ("info", "start-pause", NEMESIS, None, 3.3),  # no stop: open until the end
    ("invoke", "write", 2, 2, 3.5),
    ("ok", "write", 2, 2, 3.6),
    ("invoke", "stop-kill", NEMESIS, None, 4.0),
    ("info", "stop-kill", NEMESIS, None, 4.1),
    ("invoke", "read", 2, None, 4.5),
    ("ok", "read", 2, 2, 5.0),
)


def test_fault_windows_are_labelled_and_a_failed_fault_opens_none() -> None:
    failed = Op("info", "start-clock", NEMESIS, None, time=2_000_000_000, error="no faketime")
    windows = fault_windows([*HISTORY, failed], end_ns=5_000_000_000)
    assert [(w.label, round(w.start_s, 3), round(w.end_s, 3)) for w in windows] == [
        ("partition halves", 1.1, 3.1),
        ("kill n2", 1.8, 4.1),
        ("pause", 3.3, 5.0),
    ]
    assert windows[1].nodes == ("n2",)


def test_info_ops_keep_their_completion_time_for_the_latency_plot() -> None:
    data = build_run_data(HISTORY)
    info = [op for op in data.operations if op.status == "info"]
    assert len(info) == 1 and info[0].ret_time is None and info[0].completion_time == 3_000_000_000


def test_availability_per_fault_against_no_fault() -> None:
    rows = {r.period: r for r in availability(build_run_data(HISTORY))}
    assert list(rows) == ["no fault", "partition", "kill", "pause", "any fault"]
    assert (rows["no fault"].ops, rows["no fault"].ok) == (1, 1)  # the write at 0 s
    assert rows["no fault"].seconds == pytest.approx(1.1)
    assert (rows["partition"].ops, rows["partition"].ok) == (2, 0)  # failed + info read
    assert rows["partition"].ok_fraction == 0.0 and rows["partition"].seconds_without_ok == 1
    assert (rows["kill"].ops, rows["kill"].ok) == (2, 1)  # info read 2.0, write 3.5
    assert (rows["pause"].ops, rows["pause"].ok) == (2, 2)  # write 3.5, read 4.5
    assert rows["any fault"].ops == 4 and rows["any fault"].windows == 3


def test_no_faults_no_availability_table() -> None:
    assert availability(build_run_data(HISTORY[:2])) == []


def test_raft_timeline_roles_terms_elections_restarts(safety_run: SyntheticRun) -> None:
    data = build_run_data(safety_run.ops)
    timeline = load_timeline(safety_run.path, data, T0_WALL_NS)
    assert timeline is not None and timeline.aligned
    nodes = {n.node: n for n in timeline.nodes}
    assert [(ld.term, ld.node) for ld in timeline.leaders] == [(1, "n1"), (2, "n3"), (2, "n1")]
    assert len(nodes["n3"].elections) == 1 and nodes["n3"].terms[-1][1] == 2
    assert len(nodes["n2"].restarts) == 2  # the first start and the one after the kill
    n1 = nodes["n1"].segments
    assert all(a.end_s == b.start_s for a, b in zip(n1, n1[1:], strict=False))
    assert n1[-1].end_s == pytest.approx(data.end_s)


def test_raft_timeline_without_clock_anchor_is_not_aligned(safety_run: SyntheticRun) -> None:
    timeline = load_timeline(safety_run.path, build_run_data(safety_run.ops), None)
    assert timeline is not None and not timeline.aligned
    assert min(s.start_s for n in timeline.nodes for s in n.segments) == 0.0


def test_cited_files_resolve_inside_the_run_only(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "nodes" / "n1").mkdir(parents=True)
    (run / "nodes" / "n1" / "events.jsonl").write_text("{}\n")
    (tmp_path / "secret").write_text("x")
    assert resolve(run, "/elsewhere/store/t/1/nodes/n1/events.jsonl") == (
        run / "nodes/n1/events.jsonl"
    )
    assert resolve(run, "n1/events.jsonl") == run / "nodes/n1/events.jsonl"
    assert resolve(run, "/x/nodes/../../secret") is None
    assert resolve(run, "/etc/passwd") is None


def test_safety_evidence_shows_context_and_the_cited_line(tmp_path: Path) -> None:
    lines = [
        {"t": T0_WALL_NS + i * 10**9, "node": "n1", "term": 1, "ev": "commit", "index": i}
        for i in range(1, 8)
    ]
    (tmp_path / "nodes" / "n1").mkdir(parents=True)
    (tmp_path / "nodes" / "n1" / "events.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in lines)
    )
    violation = {"property": "p", "message": "m", "events": ["/old/nodes/n1/events.jsonl:4"]}
    results = {"raft-safety": {"violations": [violation]}}
    (shown,) = safety_violations(tmp_path, results, T0_WALL_NS)
    (column,) = shown.columns
    (block,) = column.blocks
    assert block.where == "nodes/n1/events.jsonl:4"
    assert [(line.number, line.cited) for line in block.lines] == [
        (2, False), (3, False), (4, True), (5, False), (6, False)
    ]  # fmt: skip
    assert block.lines[2].text.split() == ["4.000", "s", "commit", "term=1", "index=4"]


def test_counterexample_window_carries_the_state_after_each_linearized_op() -> None:
    ops = _ops(
        ("invoke", "write", 0, 1, 0.0),
        ("ok", "write", 0, 1, 0.1),
        ("invoke", "write", 1, 2, 0.2),
        ("ok", "write", 1, 2, 0.3),
        ("invoke", "read", 0, None, 0.4),
        ("ok", "read", 0, 1, 0.5),  # stale: 2 was written before it began
    )
    result = check(ops, "cas-register", budget_s=10)
    assert result.valid is False
    (prefix, *_) = result.counterexample["prefixes"]
    states = {w["f"] + str(w["value"]): w["state_after"] for w in prefix["window"]}
    assert states == {"write1": "1", "write2": "2", "readNone": None}
    assert prefix["state"] == "2"
