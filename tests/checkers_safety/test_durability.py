"""Durability: acknowledged writes must be visible in the final reads."""

from __future__ import annotations

from checkers import durability
from tests.checkers_safety.builders import History


def _kinds(result) -> list[str]:
    return [v["kind"] for v in result.violations]


def test_final_read_sees_last_write():
    h = History().op(0, "write", 1, key="a").op(1, "write", 2, key="a")
    h.op(0, "read", result=2, key="a", final=True)
    result = durability.check(h.ops)
    assert result.valid is True, result.violations
    assert result.details["final_reads"] == 1 and result.details["acknowledged_writes_checked"] == 2


def test_lost_write_detected():
    h = History().op(0, "write", 1, key="a").op(1, "write", 2, key="a")
    h.op(0, "read", result=1, key="a", final=True)
    result = durability.check(h.ops)
    assert result.valid is False and _kinds(result) == ["lost"]
    assert result.violations[0]["write"] == 1  # the write of 2


def test_concurrent_writes_either_may_win():
    h = History().invoke(0, "write", 1, key="a").invoke(1, "write", 2, key="a")
    h.complete("ok", 0, "write", 1, key="a").complete("ok", 1, "write", 2, key="a")
    for final in (1, 2):
        ops = h.ops + History().op(2, "read", result=final, key="a", final=True).ops
        for i, op in enumerate(ops):
            op.index = i
        assert durability.check(ops).valid is True


def test_info_write_may_explain_final_value():
    h = History().op(0, "write", 1, key="a").invoke(1, "write", 5, key="a")
    h.complete("info", 1, "write", 5, key="a").op(0, "write", 2, key="a")
    h.op(2, "read", result=5, key="a", final=True)
    assert durability.check(h.ops).valid is True


def test_unexpected_final_value_and_missing_key():
    h = History().op(0, "write", 1, key="a").op(0, "read", result=9, key="a", final=True)
    assert _kinds(durability.check(h.ops)) == ["unexpected"]
    h = History().op(0, "write", 1, key="a").op(0, "read", result=None, key="a", final=True)
    assert _kinds(durability.check(h.ops)) == ["lost"]


def test_cas_counts_as_write():
    h = History().op(0, "write", 1).op(0, "cas", [1, 3]).op(1, "read", result=1, final=True)
    assert _kinds(durability.check(h.ops)) == ["lost"]
    h = History().op(0, "write", 1).op(0, "cas", [1, 3]).op(1, "read", result=3, final=True)
    assert durability.check(h.ops).valid is True


def test_failed_write_is_not_required():
    h = (
        History()
        .op(0, "write", 1)
        .op(1, "write", 2, status="fail")
        .op(0, "read", result=1, final=True)
    )
    assert durability.check(h.ops).valid is True


def test_append_lost_element():
    h = History().op(0, "append", 1, key="x").op(1, "append", 2, key="x")
    h.op(0, "read", result=[1, 2], key="x", final=True)
    assert durability.check(h.ops).valid is True
    h = History().op(0, "append", 1, key="x").op(1, "append", 2, key="x")
    h.op(0, "read", result=[2], key="x", final=True)
    result = durability.check(h.ops)
    assert (
        result.valid is False and _kinds(result) == ["lost"] and result.violations[0]["write"] == 0
    )


def test_string_append_like_porcupine():
    h = (
        History()
        .op(0, "append", "x 0 0 y", key="1")
        .op(0, "get", result="x 0 0 yx 1 0 y", key="1", final=True)
    )
    assert durability.check(h.ops).valid is True


def test_reads_after_last_nemesis_are_final_when_none_marked():
    h = History().op(0, "write", 1).nemesis("start-partition").op(0, "write", 2)
    h.op(1, "read", result=1)  # not final: before the heal
    h.nemesis("stop-partition").op(1, "read", result=1)
    result = durability.check(h.ops)
    assert result.valid is False and result.details["final_reads"] == 1
    assert result.details["final_reads_marked"] is False


def test_no_final_reads_is_unknown():
    h = History().op(0, "write", 1).op(1, "read", result=1)
    result = durability.check(h.ops)
    assert result.valid == "unknown" and not durability.has_final_reads(h.ops)


def test_write_concurrent_with_final_read_not_required():
    h = History().op(0, "write", 1).invoke(1, "read", final=True).invoke(0, "write", 2)
    h.complete("ok", 0, "write", 2).complete("ok", 1, "read", 1, final=True)
    assert durability.check(h.ops).valid is True


def test_keys_changed_by_other_ops_are_not_judged():
    """A bank account written at setup then moved by transfers, a counter, a key with
    both puts and appends: their final values are not a register's."""
    h = History().op(0, "write", 100, key="a").op(0, "write", 100, key="b")
    h.op(1, "transfer", {"from": "a", "to": "b", "amount": 3})
    h.op(0, "write", 5, key="r").op(2, "incr", 1, key="c")
    h.op(0, "put", "x", key="s").op(0, "append", "y", key="s")
    for key, value in (("a", 97), ("b", 103), ("c", 1), ("s", "xy"), ("r", 5)):
        h.op(3, "read", result=value, key=key, final=True)
    result = durability.check(h.ops)
    assert result.valid is True, result.violations
    assert result.details["keys_not_judged"] == ["a", "b", "c", "s"]
    assert result.details["acknowledged_writes_checked"] == 1
