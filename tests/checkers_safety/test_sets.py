"""Set checker: stable / lost / stale / unexpected / recovered / never-read elements."""

from __future__ import annotations

from checkers import sets
from tests.checkers_safety.builders import History


def _counts(result) -> dict:
    return result.details["counts"]


def test_all_stable():
    h = (
        History()
        .op(0, "add", 1)
        .op(1, "add", 2)
        .op(0, "read", result=[1, 2])
        .op(1, "read", result=[2, 1])
    )
    result = sets.check(h.ops)
    assert result.valid is True
    assert _counts(result) == {"stable": 2} and result.details["acknowledged"] == 2
    assert result.summary == "2 elements attempted, 2 acknowledged: 2 stable"


def test_lost_element():
    h = (
        History()
        .op(0, "add", 1)
        .op(1, "add", 2)
        .op(0, "read", result=[1, 2])
        .op(1, "read", result=[2])
    )
    result = sets.check(h.ops)
    assert result.valid is False and _counts(result)["lost"] == 1
    assert result.violations[0]["kind"] == "lost" and result.violations[0]["element"] == 1


def test_acknowledged_but_never_seen_is_lost():
    h = History().op(0, "add", 1).op(1, "read", result=[])
    result = sets.check(h.ops)
    assert result.valid is False and result.details["examples"]["lost"] == [1]


def test_stale_element_flickers():
    h = History().op(0, "add", 1).op(0, "read", result=[]).op(1, "read", result=[1])
    result = sets.check(h.ops)
    assert _counts(result) == {"stale": 1} and result.valid is False
    # it names the read that missed it (op 1), so time-to-detection can place it
    assert [v["read"] for v in result.violations] == [1]
    assert sets.check(h.ops, linearizable=False).valid is True


def test_unexpected_elements():
    h = History().op(0, "add", 1).op(0, "read", result=[1, 7])
    result = sets.check(h.ops)
    assert result.valid is False and [v["element"] for v in result.violations] == [7]
    h = History().op(0, "add", 1, status="fail").op(0, "read", result=[1])
    assert "failed" in sets.check(h.ops).violations[0]["message"]
    h = History().op(1, "read", result=[3]).op(0, "add", 3)
    assert "before its add was invoked" in sets.check(h.ops).violations[0]["message"]


def test_recovered_info_add():
    h = (
        History()
        .invoke(0, "add", 5)
        .complete("info", 0, "add", 5)
        .op(1, "read", result=[5])
        .op(1, "read", result=[5])
    )
    result = sets.check(h.ops)
    assert result.valid is True and _counts(result) == {"recovered": 1, "stable": 1}


def test_info_add_never_seen_is_not_lost():
    h = History().invoke(0, "add", 5).complete("info", 0, "add", 5).op(1, "read", result=[])
    result = sets.check(h.ops)
    assert result.valid is True and _counts(result) == {"not-known": 1}


def test_never_read():
    h = History().op(1, "read", result=[]).op(0, "add", 1)
    result = sets.check(h.ops)
    assert result.valid is True and _counts(result) == {"never-read": 1}


def test_concurrent_read_may_miss_element():
    h = (
        History()
        .invoke(1, "read")
        .op(0, "add", 1)
        .complete("ok", 1, "read", [])
        .op(1, "read", result=[1])
    )
    assert sets.check(h.ops).valid is True


def test_keyed_append_sets_are_separate():
    h = History().op(0, "append", 1, key="a").op(0, "append", 1, key="b")
    h.op(1, "read", result=[1], key="a").op(1, "read", result=[], key="b")
    result = sets.check(h.ops)
    assert result.valid is False and result.details["keys"] == 2
    assert result.violations[0]["key"] == "b"


def test_no_reads_is_unknown():
    assert sets.check(History().op(0, "add", 1).ops).valid == "unknown"


def test_duplicated_element_in_a_read():
    h = History().op(0, "append", 1, key="s").op(0, "append", 2, key="s")
    h.op(1, "read", result=[1, 2, 1], key="s").op(1, "read", result=[1, 2, 1], key="s")
    result = sets.check(h.ops)
    assert result.valid is False and _counts(result)["duplicated"] == 1
    assert [v["kind"] for v in result.violations] == ["duplicated"]


def test_messages_stay_short_for_big_reads():
    h = History()
    for i in range(500):
        h.op(0, "add", i)
    h.op(1, "read", result=list(range(1, 500)))
    result = sets.check(h.ops)
    assert result.violations[0]["element"] == 0 and len(result.violations[0]["message"]) < 300
