"""Every workload proven: on a correct raftnode it is valid, and with the planted bug it
is meant to catch it is invalid, under the same explicit fault schedule (so the invalid
verdict is the bug's doing, not luck in a random nemesis, and the valid one shows the
schedule itself breaks nothing).

| workload  | bug               | schedule                          | caught by |
|-----------|-------------------|-----------------------------------|-----------|
| register  | follower-read     | partition the leader away 3 s     | linearizability (stale read at the cut-off node) |
| kv        | stale-read        | partition the leader away 3 s     | linearizability (the deposed leader reads locally) |
| set       | no-fsync          | kill every node at once, twice    | set: acknowledged adds lost |
| append    | dup-apply         | pause every node 3 s              | append: an element twice (a resent append applied twice) |
| counter   | dup-apply         | pause every node 3 s              | counter: a read above every attempted increment |
| bank      | ack-before-commit | partition the leader away 3 × 1 s | bank: final balances no acknowledged transfers explain |
| kv+append | dup-apply         | pause every node 3 s              | append:append duplicate |

The kv+append default on a correct node is tests/e2e (test_correct_raftnode_on_loopback_is_valid
runs the default workload). Why pausing everything finds dup-apply: with every node
stopped, an append or increment times out, the client resends it to another node with
the same request id (its fail-over, docs/nemeses.md "Clients"), and the copies sit in the
nodes' socket buffers; on resume each is proposed, and only client dedup keeps the later
ones from applying. 3 nodes, a few seconds each, runs in-process on loopback (``cluster: local``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from checkers.history import read_jsonl
from harness.runner import run_test
from harness.spec import build_spec, validate_spec
from tests.e2e.conftest import requires_raftnode

pytestmark = [requires_raftnode, pytest.mark.process]

ISOLATE_LEADER = [
    {"at": 1.5, "f": "start-partition", "value": {"topology": "leader"}},
    {"at": 4.5, "f": "stop-partition"},
]
# no-fsync loses only what no node has flushed yet (its lazy flush runs every 0.2 s):
# kill the whole cluster twice, under more clients and a higher rate.
KILL_ALL_2X = [
    entry
    for at in (2.0, 4.0)
    for entry in (
        {"at": at, "f": "start-kill", "value": {"target": "all"}},
        {"at": at + 0.5, "f": "stop-kill"},
    )
]
# ack-before-commit only loses what the cut-off leader acknowledges before it steps down
# (an election timeout later); a worker whose next op there is a read blocks on it for
# that whole window, so the leader needs several workers (5 per node) and several cuts.
ISOLATE_LEADER_3X = [
    entry
    for at in (1.0, 2.5, 4.0)
    for entry in (
        {"at": at, "f": "start-partition", "value": {"topology": "leader"}},
        {"at": at + 1.0, "f": "stop-partition"},
    )
]
BUSY = {"concurrency": 9, "rate": 300}
PAUSE_ALL = [
    {"at": 1.5, "f": "start-pause", "value": {"target": "all"}},
    {"at": 4.5, "f": "stop-pause"},
]

# workload -> (bug, schedule, the checker that must catch it, the violation kind or None)
# One seed in CI; BUGZOO_PROOF_SEED=2 (3, ...) reruns the proofs on others, which is how
# each invalid outcome was checked to be the schedule's doing (docs/workloads.md).
SEED = int(os.environ.get("BUGZOO_PROOF_SEED", "1"))

PROOFS: dict[str, tuple[str, list[dict[str, Any]], str, str | None]] = {
    "register": ("follower-read", ISOLATE_LEADER, "linearizability", None),
    "kv": ("stale-read", ISOLATE_LEADER, "linearizability", None),
    "set": ("no-fsync", KILL_ALL_2X, "set", "lost"),
    "append": ("dup-apply", PAUSE_ALL, "append", "duplicated"),
    "counter": ("dup-apply", PAUSE_ALL, "counter", None),
    "bank": ("ack-before-commit", ISOLATE_LEADER_3X, "bank", "impossible-final"),
    "kv+append": ("dup-apply", PAUSE_ALL, "append:append", "duplicated"),
}
# More clients (and fewer keys) where the bug's window is short: the deposed leader's
# stale reads must hit keys the others wrote meanwhile.
OVERRIDES: dict[str, dict[str, Any]] = {
    "bank": {**BUSY, "concurrency": 15},
    "set": BUSY,
    "kv": {**BUSY, "keys": 3},
}
CORRECT_TOO = [w for w in PROOFS if w != "kv+append"]  # kv+append: tests/e2e


def run(store: Path, workload: str, schedule: list[dict[str, Any]], bugs: list[str]) -> Any:
    data = {
        "workload": workload,
        "nodes": 3,
        "cluster": "local",
        "time_limit": 6,
        "recovery_s": 1,
        "op_timeout": 1,
        "seed": SEED,
        "store": str(store),
        "bugs": bugs,
        "nemesis": {"faults": [], "schedule": schedule},
        **OVERRIDES.get(workload, {}),
    }
    spec = validate_spec(build_spec(data, "test"), "test")
    result = run_test(spec)
    assert result.error is None, result.error
    applied = faults_applied(result.run_dir)
    assert applied[: len(schedule)] == [e["f"] for e in schedule], applied
    return result


def violations(results: dict[str, Any], checker: str) -> list[dict[str, Any]]:
    return results.get(checker, {}).get("violations", [])


@pytest.mark.parametrize("workload", list(PROOFS))
def test_the_planted_bug_is_caught(tmp_path: Path, workload: str) -> None:
    bug, schedule, checker, kind = PROOFS[workload]
    result = run(tmp_path / "store", workload, schedule, [bug])
    results = result.results
    assert result.valid is False, f"{bug} not caught by {workload}: {results}"
    assert results[checker]["valid"] is False, {n: results[n]["valid"] for n in results["checkers"]}
    if kind is not None:
        assert kind in {v.get("kind") for v in violations(results, checker)}


@pytest.mark.parametrize("workload", CORRECT_TOO)
def test_the_correct_node_survives_the_same_schedule(tmp_path: Path, workload: str) -> None:
    _, schedule, checker, _ = PROOFS[workload]
    result = run(tmp_path / "store", workload, schedule, [])
    assert result.valid is True, result.results
    assert checker in result.results["checkers"]


def faults_applied(run_dir: Path) -> list[str]:
    """The schedule's fault ops that completed without an error (the faults happened)."""
    ops = read_jsonl(run_dir / "history.jsonl").ops
    return [op.f for op in ops if op.process == "nemesis" and op.type == "info" and not op.error]
