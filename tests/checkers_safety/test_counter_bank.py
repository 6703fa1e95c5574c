"""Counter bounds and bank totals on hand-built histories."""

from __future__ import annotations

from checkers import bank, counter
from tests.checkers_safety.builders import History


def test_counter_reads_within_bounds():
    h = History().op(0, "incr", 1).op(0, "incr", 2).op(1, "read", result=3)
    result = counter.check(h.ops)
    assert result.valid is True and result.details["reads_checked"] == 1


def test_counter_read_too_low_and_too_high():
    h = History().op(0, "incr", 1).op(0, "incr", 2).op(1, "read", result=2)
    result = counter.check(h.ops)
    assert result.valid is False
    assert (result.violations[0]["lower"], result.violations[0]["upper"]) == (3, 3)
    h = History().op(0, "incr", 1).op(1, "read", result=5)
    assert counter.check(h.ops).violations[0]["kind"] == "out-of-bounds"


def test_counter_info_and_concurrent_increments_widen_bounds():
    h = History().op(0, "incr", 1).invoke(2, "incr", 10).complete("info", 2, "incr", 10)
    h.invoke(3, "incr", 5).invoke(1, "read")
    h.complete("ok", 1, "read", 16).complete("ok", 3, "incr", 5)
    result = counter.check(h.ops)
    assert result.valid is True and result.details["widest_bound"] == 15
    h.op(1, "read", result=17)
    assert counter.check(h.ops).valid is False


def test_counter_failed_increment_excluded_and_negative_deltas():
    h = History().op(0, "incr", 4, status="fail").op(1, "read", result=4)
    assert counter.check(h.ops).valid is False
    h = (
        History()
        .op(0, "add", 5)
        .invoke(0, "add", -3)
        .invoke(1, "read")
        .complete("ok", 1, "read", 2)
    )
    h.complete("ok", 0, "add", -3)
    assert counter.check(h.ops).valid is True
    assert counter.check(h.ops, initial=10).valid is False


def test_counter_non_integer_read():
    h = History().op(0, "incr", 1).op(1, "read", result="one")
    assert counter.check(h.ops).violations[0]["kind"] == "bad-value"


def test_bank_total_conserved():
    h = History().op(0, "transfer", {"from": "a", "to": "b", "amount": 5})
    h.op(1, "read", result={"a": 5, "b": 15}).op(1, "read", result={"a": 10, "b": 10})
    result = bank.check(h.ops, total=20)
    assert result.valid is True and result.details["reads"] == 2


def test_bank_wrong_total_and_negative():
    h = History().op(1, "read", result={"a": 5, "b": 10})
    result = bank.check(h.ops, total=20)
    assert result.valid is False and result.violations[0]["kind"] == "wrong-total"
    h = History().op(1, "read", result={"a": -5, "b": 25})
    result = bank.check(h.ops, total=20)
    assert [v["kind"] for v in result.violations] == ["negative"]
    assert bank.check(h.ops, total=20, allow_negative=True).valid is True


def test_bank_total_inferred_or_declared():
    h = (
        History()
        .op(1, "read", result=[10, 10])
        .op(1, "read", result=[10, 10])
        .op(1, "read", result=[10, 11])
    )
    result = bank.check(h.ops)
    assert result.details["total"] == 20 and result.details["wrong_total"] == 1 and result.warnings
    h = History().op(0, "read", result=[5, 5], total=12)
    assert bank.check(h.ops).valid is False


def test_bank_bad_read_and_no_reads():
    assert (
        bank.check(History().op(1, "read", result="lots").ops).violations[0]["kind"] == "bad-read"
    )
    assert bank.check(History().op(0, "transfer", [0, 1, 3]).ops).valid == "unknown"


def _per_account_bank(final_a: int, final_b: int) -> History:
    """The shape our bank workload records: setup writes, transfers, per-account reads."""
    h = History().op(0, "write", 10, key="a", setup=True).op(0, "write", 10, key="b", setup=True)
    h.op(1, "transfer", {"from": "a", "to": "b", "amount": 3})
    h.op(2, "read", result=7, key="a").op(2, "read", result=10, key="b")  # not a cut: fine
    return h.op(3, "read", result=final_a, key="a", final=True).op(
        3, "read", result=final_b, key="b", final=True
    )


def test_bank_per_account_final_total():
    result = bank.check(_per_account_bank(7, 13).ops)
    assert (
        result.valid is True
        and result.details["total"] == 20
        and result.details["final_total"] == 20
    )
    result = bank.check(_per_account_bank(7, 10).ops)
    assert result.valid is False and result.violations[0]["kind"] == "wrong-total"
    assert result.violations[0]["total"] == 17


def test_bank_per_account_negative_and_missing_final():
    h = _per_account_bank(7, 13).op(2, "read", result=-1, key="a")
    assert [v["kind"] for v in bank.check(h.ops).violations] == ["negative"]
    h = History().op(0, "write", 10, key="a").op(0, "write", 10, key="b")
    h.op(3, "read", result=10, key="a", final=True)
    result = bank.check(h.ops)
    assert result.valid is True and result.details["final_total"] is None
    assert any("no final read of b" in w for w in result.warnings)
