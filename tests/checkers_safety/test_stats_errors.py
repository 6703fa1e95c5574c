"""Stats and unhandled-error reporting."""

from __future__ import annotations

from checkers import errors, stats
from checkers.result import Result, merge_valid
from tests.checkers_safety.builders import History


def test_stats_counts_rates_and_latency():
    h = (
        History()
        .op(0, "read", result=1)
        .op(0, "write", 2)
        .op(1, "write", 3, status="fail", error="unavailable")
    )
    h.invoke(2, "write", 4).complete("info", 2, "write", 4, error="timeout")
    h.nemesis("start-kill")
    result = stats.check(h.ops)
    details = result.details
    assert result.valid is True
    assert details["overall"]["count"] == 4 and details["overall"]["ok"] == 2
    write = details["by_f"]["write"]
    assert (write["count"], write["ok"], write["fail"], write["info"]) == (3, 1, 1, 1)
    assert details["by_f"]["write"]["info_rate"] == round(1 / 3, 4)
    assert details["by_f"]["read"]["latency_ms"]["p50"] == 1.0  # invoke/complete are 1 ms apart
    assert details["nemesis_ops"] == 1 and details["duration_s"] > 0


def test_stats_percentiles():
    assert stats.percentile(list(range(1, 101)), 0.5) == 50
    assert stats.percentile(list(range(1, 101)), 0.99) == 99
    assert stats.percentile([7], 0.99) == 7 and stats.percentile([], 0.5) is None


def test_stats_nothing_succeeded_is_unknown():
    h = History().op(0, "write", 1, status="fail", error="unavailable")
    result = stats.check(h.ops)
    assert result.valid == "unknown" and result.details["fs_without_ok"] == ["write"]


def test_errors_known_and_unhandled():
    h = History().op(0, "write", 1, status="fail", error="not-leader")
    h.op(0, "write", 1, status="fail", error="KeyError: 'value'")
    h.op(1, "write", 2, status="fail", error={"error": "weird-thing", "message": "x"})
    result = errors.check(h.ops)
    assert result.valid is True
    assert set(result.details["unhandled"]) == {"keyerror", "weird-thing"}
    assert result.details["by_code"]["not-leader"] == 1 and result.warnings
    assert errors.check(h.ops, known={"not-leader", "keyerror", "weird-thing"}).warnings == []


def test_error_code_normalisation():
    assert errors.error_code("timeout: no answer in 5s") == "timeout"
    assert errors.error_code(":timed-out") == "timed-out"
    assert errors.error_code(["precondition-failed", "msg"]) == "precondition-failed"
    assert errors.error_code(None) is None


def test_merge_rule():
    assert merge_valid([True, True]) is True
    assert merge_valid([True, "unknown"]) == "unknown"
    assert merge_valid(["unknown", False, True]) is False
    assert merge_valid([]) is True
    r = Result(name="x", valid=True)
    for i in range(60):
        r.add_violation(f"v{i}")
    assert r.valid is False and r.violation_count == 60 and len(r.to_json()["violations"]) == 50
