"""Shared helpers for the runner tests: null-DB specs and history invariants."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from checkers.history import NEMESIS, Op, read_jsonl
from harness.spec import TestSpec


def null_spec(tmp_path: Path, **overrides: Any) -> TestSpec:
    """A short null-DB test that stores under tmp_path."""
    fields: dict[str, Any] = {
        "db": "null",
        "workload": "kv",
        "nemesis": [],
        "nodes": 3,
        "concurrency": 6,
        "time_limit": 1.5,
        "rate": 300.0,
        "seed": 11,
        "recovery_s": 0.0,
        "store": str(tmp_path / "store"),
        "budget": 30.0,
    }
    fields.update(overrides)
    return TestSpec(**fields)


def load_ops(run_dir: Path) -> list[Op]:
    result = read_jsonl(run_dir / "history.jsonl")
    assert result.warnings == []
    return result.ops


def assert_well_formed(ops: list[Op]) -> None:
    """Global index 0..n-1, time never decreasing, each process strictly alternates
    invoke/completion with matching f, and a retired (info) process never invokes again."""
    assert [op.index for op in ops] == list(range(len(ops)))
    times = [op.time for op in ops]
    assert times == sorted(times)
    open_ops: dict[Any, Op] = {}
    retired: set[Any] = set()
    for op in ops:
        if op.type == "invoke":
            assert op.process not in open_ops, f"process {op.process} invoked twice"
            assert op.process not in retired, f"retired process {op.process} invoked"
            open_ops[op.process] = op
        else:
            invoke = open_ops.pop(op.process)
            assert invoke.f == op.f
            if op.process != NEMESIS and op.type == "info":
                retired.add(op.process)


def ops_by_process(ops: list[Op]) -> dict[Any, list[Op]]:
    out: dict[Any, list[Op]] = defaultdict(list)
    for op in ops:
        out[op.process].append(op)
    return out
