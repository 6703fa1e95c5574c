"""Synthetic run directories for the report's tests and benchmark.

Why synthetic: a report is a function of a run directory (history, results, node events,
clock anchor, test.yaml), so building one in milliseconds lets every report path be
exercised without a cluster. The history comes from `checkers.lin_gen` (linearizable by
construction; one corrupted read makes it invalid), spread over `duration_s` with ops
slowing down inside fault windows; the node events tell a plausible Raft story (one
leader per term, an election after each partition and kill) unless `two_leaders` plants
an election-safety violation; results.json is written by the real checkers.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checkers.composite import check_store
from checkers.history import NEMESIS, Op, write_jsonl
from checkers.lin_gen import corrupt_one_read, generate
from harness.recorder import CLOCK_FILE
from harness.spec import TestSpec

T0_WALL_NS = 1_796_000_000_000_000_000
NODES = ("n1", "n2", "n3")
# (fault, start s, end s, nemesis value at start)
FAULTS: tuple[tuple[str, float, float, Any], ...] = (
    ("partition", 0.25, 0.45, {"topology": "leader", "grudge": {"n1": ["n2", "n3"]}}),
    ("kill", 0.6, 0.75, {"nodes": ["n2"]}),
)


@dataclass
class SyntheticRun:
    path: Path
    spec: TestSpec
    ops: list[Op]
    results: dict[str, Any]


def _in_fault(t: float, windows: list[tuple[str, float, float, Any]]) -> bool:
    return any(start <= t < end for _, start, end, _ in windows)


def synthetic_history(
    n_ops: int,
    *,
    duration_s: float,
    seed: int,
    stale_read: bool = False,
    concurrency: int = 5,
) -> list[Op]:
    """Client ops of a register workload on key "r" plus the nemesis ops of FAULTS
    (fractions of duration_s), in time order with fresh indexes."""
    rng = random.Random(seed)
    client = generate(
        "cas-register", n_ops=n_ops, concurrency=concurrency, info_rate=0.004, seed=seed
    )
    if stale_read:
        client = corrupt_one_read("cas-register", client, random.Random(seed + 1)) or client
    windows = [(f, a * duration_s, b * duration_s, v) for f, a, b, v in FAULTS]
    gaps, t = [], 0.0
    for _ in client:  # ops slow down (bigger gaps) while a fault is active
        gap = rng.expovariate(1.0) * (5.0 if _in_fault(t, windows) else 1.0)
        gaps.append(gap)
        t += gap * duration_s / (len(client) * 1.6)
    scale = duration_s * 1e9 / sum(gaps)
    now = 0.0
    timed: list[Op] = []
    for op, gap in zip(client, gaps, strict=True):
        now += gap * scale
        timed.append(Op(op.type, op.f, op.process, op.value, "r", time=int(now), error=op.error))
    for fault, start, end, value in windows:
        for at, f, val in ((start, f"start-{fault}", value), (end, f"stop-{fault}", None)):
            ns = int(at * 1e9)
            timed.append(Op("invoke", f, NEMESIS, None, time=ns))
            timed.append(Op("info", f, NEMESIS, val, time=ns + 1_000_000))
    timed.sort(key=lambda op: op.time)
    # As the runner ends a run: heal, then a final read (marked, so the durability checker
    # reads only it). A fresh process writes a fresh value first, so the read is correct.
    end = timed[-1].time
    last = max(op.process for op in client) + 1
    for offset, (type_, f, value, extra) in enumerate(
        [("invoke", "write", 10**6, {}), ("ok", "write", 10**6, {}),
         ("invoke", "read", None, {"final": True}), ("ok", "read", 10**6, {"final": True})]
    ):  # fmt: skip
        timed.append(Op(type_, f, last, value, "r", time=end + (offset + 1) * 1_000_000,
                        extra=extra))  # fmt: skip
    for index, op in enumerate(timed):
        op.index = index
    return timed


def _event(node: str, t_s: float, term: int, ev: str, **fields: Any) -> tuple[int, str]:
    t = T0_WALL_NS + int(t_s * 1e9)
    line = {"t": t, "node": node, "term": term, "ev": ev, **fields}
    return t, json.dumps(line, separators=(",", ":"))


def synthetic_events(
    duration_s: float, *, writes: int = 0, two_leaders: bool = False
) -> dict[str, list[str]]:
    """Per node event lines: n1 leads term 1, n3 wins term 2 during the partition, n2 is
    killed and restarts; with `two_leaders`, n1 also claims term 2 (election-safety).
    `writes` append/commit/apply triples per node make the files as long as a real run's."""
    lines = {n: [_event(n, -0.5, 0, "start", last_index=0, commit=0)] for n in NODES}
    lines["n1"] += [
        _event("n1", -0.3, 0, "role", role="pre-candidate"),
        _event("n1", -0.29, 1, "role", role="candidate"),
        _event("n1", -0.28, 1, "role", role="leader"),
    ]
    for n in ("n2", "n3"):
        lines[n] += [_event(n, -0.29, 1, "vote", **{"for": "n1"}),
                     _event(n, -0.28, 1, "role", role="follower")]  # fmt: skip
    for i in range(writes):  # the bulk a long run has: never decoded by the timeline
        t = duration_s * i / max(writes, 1)
        for n in NODES:
            digest = f"{i:016x}"
            lines[n].append(_event(n, t, 1, "append", index=i + 1, entry_term=1, digest=digest))
            lines[n].append(_event(n, t, 1, "commit", index=i + 1))
            lines[n].append(_event(n, t, 1, "apply", index=i + 1, entry_term=1, digest=digest))
    elect = (FAULTS[0][1] + 0.03) * duration_s
    lines["n3"] += [
        _event("n3", elect, 1, "role", role="pre-candidate"),
        _event("n3", elect + 0.01, 2, "role", role="candidate"),
        _event("n3", elect + 0.02, 2, "role", role="leader"),
    ]
    lines["n2"] += [_event("n2", elect + 0.015, 2, "vote", **{"for": "n3"}),
                    _event("n2", elect + 0.016, 2, "role", role="follower")]  # fmt: skip
    if two_leaders:
        lines["n1"].append(_event("n1", elect + 0.05, 2, "role", role="leader"))
    healed = FAULTS[0][2] * duration_s
    lines["n1"].append(_event("n1", healed + 0.01, 2, "role", role="follower"))
    restart = FAULTS[1][2] * duration_s
    lines["n2"] += [_event("n2", restart, 0, "start", last_index=writes, commit=writes),
                    _event("n2", restart + 0.05, 2, "role", role="follower")]  # fmt: skip
    return {node: [line for _, line in sorted(events)] for node, events in lines.items()}


def make_run(
    root: Path,
    kind: str = "valid",
    *,
    n_ops: int = 400,
    duration_s: float = 10.0,
    seed: int = 1,
    writes: int = 0,
) -> SyntheticRun:
    """A run directory under root: kind "valid", "linearizability" (a stale read) or
    "safety" (two leaders in term 2); results.json by the real checkers."""
    path = root / f"synthetic-{kind}" / "20261201T120000"
    (path / "nodes").mkdir(parents=True)
    spec = TestSpec(
        name=f"synthetic-{kind}",
        nodes=len(NODES),
        nemesis=["partition", "kill"],
        time_limit=duration_s,
        seed=seed,
        cluster="local",
        bugs=["stale-read"] if kind == "linearizability" else [],
        store=str(root),
    )
    (path / "test.yaml").write_text(spec.to_yaml(), encoding="utf-8")
    (path / CLOCK_FILE).write_text(json.dumps({"t0_wall_ns": T0_WALL_NS}), encoding="utf-8")
    ops = synthetic_history(
        n_ops, duration_s=duration_s, seed=seed, stale_read=kind == "linearizability"
    )
    write_jsonl(path / "history.jsonl", ops)
    events = synthetic_events(duration_s, writes=writes, two_leaders=kind == "safety")
    for node, node_lines in events.items():
        (path / "nodes" / node).mkdir()
        (path / "nodes" / node / "events.jsonl").write_text("\n".join(node_lines) + "\n")
    results = check_store(
        path, workload="register", model="cas-register", budget_s=60, events_dir=path / "nodes"
    )
    return SyntheticRun(path, spec, ops, results)
