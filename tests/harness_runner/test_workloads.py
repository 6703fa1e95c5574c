"""Workloads: the ops they generate match interfaces.md §5, and each one, run against
the (linearizable) null DB, is judged valid by the checkers."""

from __future__ import annotations

from pathlib import Path

import pytest

import workloads
from harness.core import generators as g
from harness.runner import Runner
from tests.harness_runner.helpers import assert_well_formed, load_ops, null_spec


def sample(
    name: str,
    n: int = 400,
    processes: tuple[int, ...] = (0, 1, 2),
    options: workloads.WorkloadOptions | None = None,
) -> list[g.OpRequest]:
    w = workloads.build(name, options)
    return [op for _, _, op in g.drain(w.generator.bind(3), list(processes), max_ops=n)]


def test_unknown_workload_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown workload 'queue'"):
        workloads.build("queue")


def test_register_ops() -> None:
    ops = sample("register")
    assert {op.key for op in ops} == {"r"}
    assert {op.f for op in ops} == {"read", "write", "cas"}
    assert all(isinstance(op.value, list) and len(op.value) == 2 for op in ops if op.f == "cas")


def test_kv_uses_ten_keys_or_the_option() -> None:
    assert {op.key for op in sample("kv")} == {f"k{i}" for i in range(10)}
    three = sample("kv", options=workloads.WorkloadOptions(keys=3))
    assert {op.key for op in three} == {"k0", "k1", "k2"}


def test_set_and_append_values_are_unique() -> None:
    for name in ("set", "append"):
        values = [op.value for op in sample(name) if op.f == "append"]
        assert values and len(values) == len(set(values))
    assert {op.key for op in sample("set")} == {"s"}


def test_counter_and_bank_shapes() -> None:
    counter = sample("counter")
    assert all(op.value >= 1 for op in counter if op.f == "incr")
    bank = workloads.build("bank")
    setup = [op for _, _, op in g.drain(bank.setup, [0])]
    assert [(op.f, op.value, op.extra) for op in setup] == [("write", 100, {"setup": True})] * 5
    for op in sample("bank"):
        if op.f == "transfer":
            assert op.value["from"] != op.value["to"] and op.value["amount"] >= 1


def test_final_reads_cover_every_key() -> None:
    for name in workloads.NAMES:
        finals = [op for _, _, op in g.drain(workloads.build(name).final, [0])]
        used = {op.key for op in sample(name) if op.key is not None}
        assert {op.key for op in finals} == used and {op.f for op in finals} == {"read"}


@pytest.mark.parametrize("name", workloads.NAMES)
def test_each_workload_is_valid_on_the_null_db(tmp_path: Path, name: str) -> None:
    result = Runner(null_spec(tmp_path, workload=name, time_limit=1.0)).run()
    assert result.error is None
    ops = load_ops(result.run_dir)
    assert_well_formed(ops)
    assert result.valid is True, result.results
    assert result.results["workload"] == name
