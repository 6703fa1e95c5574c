"""The kv+append workload, the append and bank checks it relies on, the per-part
composite check, the worker's same-request-id retry, and the default-workload fallback."""

from __future__ import annotations

import pytest

from checkers import appends, bank
from checkers.composite import check_history, infer_workload
from harness.core import generators as g
from harness.spec import SpecError, TestSpec, build_spec, validate_spec
from tests.checkers_safety.builders import History
from workloads import build

APPEND = {"part": "append"}
KV = {"part": "kv"}


def test_mix_tags_every_op_and_reads_every_key_at_the_end() -> None:
    workload = build("kv+append")
    ops = [op for _, _, op in g.drain(g.limit(400, workload.generator).bind(3), [0, 1, 2])]
    parts = {op.extra["part"] for op in ops}
    assert parts == {"kv", "append"}
    for op in ops:
        expected_prefix = "k" if op.extra["part"] == "kv" else "a"
        assert op.key.startswith(expected_prefix)
    assert {op.f for op in ops if op.extra["part"] == "kv"} == {"read", "write", "cas"}
    final = [op for _, _, op in g.drain(workload.final.bind(3), [0])]
    assert [op.key for op in final] == [f"k{i}" for i in range(5)] + [f"a{i}" for i in range(5)]
    assert all(op.f == "read" for op in final)


def test_append_checker_names_duplicates_and_divergence() -> None:
    h = (
        History()
        .op(1, "append", 1, key="a")
        .op(1, "append", 2, key="a")
        .op(2, "read", None, result=[1, 2, 1], key="a")
    )
    result = appends.check(h.ops)
    assert result.valid is False
    assert {v["kind"] for v in result.violations} == {"duplicated"}
    h = (
        History()
        .op(1, "append", 1, key="a")
        .op(1, "append", 2, key="a")
        .op(2, "read", None, result=[1, 2], key="a")
        .op(2, "read", None, result=[2, 1], key="a")
    )
    kinds = {v["kind"] for v in appends.check(h.ops).violations}
    assert "divergent" in kinds


def test_append_checker_names_a_lost_append_and_accepts_a_clean_history() -> None:
    h = History().op(1, "append", 1, key="a").op(1, "append", 2, key="a")
    clean = h.ops + History().op(2, "read", None, result=[1, 2], key="a").ops
    assert appends.check(clean).valid is True
    h.op(2, "read", None, result=[1], key="a", final=True)
    result = appends.check(h.ops)
    assert result.valid is False and {v["kind"] for v in result.violations} == {"lost"}


def _mixed_history(append_read: list[int]) -> History:
    return (
        History()
        .op(0, "write", 1, key="k0", **KV)
        .op(0, "read", None, result=1, key="k0", **KV)
        .op(1, "append", 7, key="a0", **APPEND)
        .op(1, "read", None, result=append_read, key="a0", final=True, **APPEND)
    )


def test_composite_checks_each_part_on_its_own_ops() -> None:
    good = _mixed_history([7])
    assert infer_workload(good.ops) == "kv+append"
    results = check_history(good.ops, workload="kv+append")
    assert results["valid"] is True
    for name in ("linearizability:kv", "append:append", "durability:append"):
        assert name in results["checkers"], results["checkers"]
        assert results[name]["valid"] is True
    assert "linearizability:append" not in results["checkers"]  # PARTS_WITHOUT_SEARCH
    assert results["linearizability:kv"]["details"]["ops"] == 2  # only the kv part's ops
    bad = check_history(_mixed_history([7, 7]).ops, workload="kv+append")
    assert bad["valid"] is False
    assert bad["append:append"]["valid"] is False
    assert bad["linearizability:kv"]["valid"] is True
    # violations name ops by their id in the whole history (the read is its 4th op)
    assert {v["read"] for v in bad["append:append"]["violations"]} == {3}


def test_bank_final_balance_no_acknowledged_transfers_explain() -> None:
    h = History()
    for account in ("x", "y"):
        h.op(0, "write", 10, key=account, setup=True)
    h.op(1, "transfer", {"from": "x", "to": "y", "amount": 3})
    h.op(2, "read", None, result=10, key="x", final=True)  # the transfer was lost
    h.op(2, "read", None, result=10, key="y", final=True)
    result = bank.check(h.ops)
    assert result.valid is False
    assert {v["kind"] for v in result.violations} == {"impossible-final"}
    ok = History()
    for account in ("x", "y"):
        ok.op(0, "write", 10, key=account, setup=True)
    ok.op(1, "transfer", {"from": "x", "to": "y", "amount": 3}, status="info", result=None)
    ok.op(2, "read", None, result=10, key="x", final=True)  # the unknown one did not happen
    ok.op(2, "read", None, result=10, key="y", final=True)
    assert bank.check(ok.ops).valid is True


def test_bank_balance_above_the_total_is_impossible() -> None:
    h = History().op(0, "write", 10, key="x").op(0, "write", 10, key="y")
    h.op(1, "read", None, result=21, key="x")
    result = bank.check(h.ops)
    assert result.valid is False and "impossible" in {v["kind"] for v in result.violations}


def test_maelstrom_falls_back_to_its_own_workload_unless_one_was_named() -> None:
    data = {"db": "maelstrom", "db_options": {"bin": "/bin/true"}}
    spec = validate_spec(build_spec(data, "cli"), "cli")
    assert spec.workload == "register"
    named = build_spec({**data, "workload": "kv+append"}, "cli")
    with pytest.raises(SpecError, match="not supported by the Maelstrom"):
        validate_spec(named, "cli")
    overlaid = build_spec({"nodes": 3}, "cli", named)  # a YAML file named it, flags overlay
    with pytest.raises(SpecError, match="not supported by the Maelstrom"):
        validate_spec(overlaid, "cli")
    assert validate_spec(TestSpec(), "cli").workload == "kv+append"  # raftnode runs it
