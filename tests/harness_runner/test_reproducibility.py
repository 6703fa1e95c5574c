"""The whole main-phase generator (workload + real nemesis schedule), as the runner
builds it: the same seed gives the same ops per process and the same fault schedule."""

from __future__ import annotations

import random
from pathlib import Path

import nemeses
import workloads
from harness.core import generators as g
from harness.runner import Runner
from tests.harness_runner.helpers import null_spec

PROCESSES: list[object] = [0, 1, 2, 3, "nemesis"]


def schedule(tmp_path: Path, seed: int, workload: str = "kv") -> list[tuple[object, g.OpRequest]]:
    spec = null_spec(tmp_path, workload=workload, seed=seed, time_limit=60.0, rate=50.0)
    names = ["n1", "n2", "n3"]
    package = nemeses.build(
        ["partition", "kill", "pause"],
        interval_s=5.0,
        targets=None,
        schedule=None,
        rng=random.Random(f"nemesis:{seed}"),
        nodes=names,
    )
    root = Runner(spec).build_generator(workloads.build(workload), package)
    return [(p, op) for p, _, op in g.drain(root, PROCESSES, max_ops=5000)]


def fault_ops(items: list[tuple[object, g.OpRequest]]) -> list[g.OpRequest]:
    return [op for p, op in items if p == "nemesis"]


def test_same_seed_same_ops_and_faults(tmp_path: Path) -> None:
    one, two = schedule(tmp_path, 7), schedule(tmp_path, 7)
    assert one == two
    faults = fault_ops(one)
    assert len(faults) >= 6  # ~60 s at one fault every ~5-10 s
    assert {op.f for op in faults} & {"start-partition", "start-kill", "start-pause"}


def test_different_seed_different_schedule(tmp_path: Path) -> None:
    one, other = schedule(tmp_path, 7), schedule(tmp_path, 8)
    assert [op for p, op in one if p == 0] != [op for p, op in other if p == 0]
    assert fault_ops(one) != fault_ops(other)


def test_bank_setup_phase_comes_first(tmp_path: Path) -> None:
    items = schedule(tmp_path, 3, "bank")
    client_ops = [op for p, op in items if p != "nemesis"]
    assert [op.extra.get("setup") for op in client_ops[:5]] == [True] * 5
    assert not any(op.extra.get("setup") for op in client_ops[5:])
