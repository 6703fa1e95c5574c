"""TestContext: what every nemesis method (and the runner's phases) gets as ``ctx``.

One object instead of many arguments so that faults can reach the cluster, the DB, the
node names, a seeded rng and the test's logger without knowing about the runner
(interfaces.md §6). It is the real ``harness.core.protocols.RunContext``: nemeses type
``ctx`` with that protocol, so they need not import this layer.
"""

from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.protocols import DB, ClusterView, Probe
from harness.spec import TestSpec


@dataclass
class TestContext:
    """The running test: ``leader()`` probes every node and returns the name of the one
    that says it is leader (or that most nodes name as leader), None if none is known."""

    __test__ = False  # not a pytest test class

    spec: TestSpec
    cluster: ClusterView | None  # None for a Hostless DB
    db: DB
    nodes: list[str]
    rng: random.Random
    store_dir: Path
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("splitbrain"))
    probe_timeout: float = 1.0

    def leader(self) -> str | None:
        """Probe all nodes in parallel. A node that says it is leader wins (the highest
        term if several do); otherwise the node most of them name as leader. Returns as
        soon as a majority has answered and agrees, so one paused or partitioned node
        (a probe that only times out) does not delay a nemesis that targets the leader.
        """
        probes: list[Probe] = []
        majority = len(self.nodes) // 2 + 1
        pool = ThreadPoolExecutor(max_workers=max(len(self.nodes), 1), thread_name_prefix="probe")
        try:
            futures = [pool.submit(self._probe, node) for node in self.nodes]
            try:
                for future in as_completed(futures, timeout=self.probe_timeout + 1.0):
                    probes.append(future.result())
                    if len(probes) >= majority and _decided(probes, majority):
                        break
            except FuturesTimeout:
                pass
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return _choose_leader(probes)

    def _probe(self, node: str) -> Probe:
        try:
            return self.db.probe(node, timeout=self.probe_timeout)
        except Exception:  # noqa: BLE001 - an unreachable node simply does not vote
            return Probe(node, reachable=False)


def _claimed(probes: list[Probe]) -> list[Probe]:
    return [p for p in probes if p.reachable and p.role == "leader"]


def _votes(probes: list[Probe]) -> dict[str, int]:
    votes: dict[str, int] = {}
    for probe in probes:
        if probe.reachable and probe.leader:
            votes[probe.leader] = votes.get(probe.leader, 0) + 1
    return votes


def _decided(probes: list[Probe], majority: int) -> bool:
    """Enough to answer: someone claims leadership, or a majority names the same node."""
    return bool(_claimed(probes)) or any(v >= majority for v in _votes(probes).values())


def _choose_leader(probes: list[Probe]) -> str | None:
    claimed = _claimed(probes)
    if claimed:
        return max(claimed, key=lambda p: (p.term or 0, p.node)).node
    votes = _votes(probes)
    if not votes:
        return None
    return max(sorted(votes), key=lambda n: votes[n])
