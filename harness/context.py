"""TestContext: what every nemesis method (and the runner's phases) gets as ``ctx``.

One object instead of many arguments so that faults can reach the cluster, the DB, the
node names, a seeded rng and the test's logger without knowing about the runner
(interfaces.md §6).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.protocols import DB
from harness.spec import TestSpec


@dataclass
class TestContext:
    """The running test: ``leader()`` probes every node and returns the name of the one
    that says it is leader (or that most nodes name as leader), None if none is known."""

    __test__ = False  # not a pytest test class

    spec: TestSpec
    cluster: Any
    db: DB
    nodes: list[str]
    rng: random.Random
    store_dir: Path
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("splitbrain"))
    probe_timeout: float = 1.0

    def leader(self) -> str | None:
        votes: dict[str, int] = {}
        for node in self.nodes:
            try:
                probe = self.db.probe(node, timeout=self.probe_timeout)
            except Exception:  # noqa: BLE001 - an unreachable node simply does not vote
                continue
            if not probe.reachable:
                continue
            if probe.role == "leader":
                return node
            if probe.leader:
                votes[probe.leader] = votes.get(probe.leader, 0) + 1
        if not votes:
            return None
        return max(votes, key=lambda n: votes[n])
