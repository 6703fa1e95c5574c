"""Which nodes a fault hits: target specs like Jepsen's node targets.

A target spec is one of the names in TARGETS, a node name, or a list of node names.
Specs are what the schedule records (so the schedule is independent of timing); they
are resolved to concrete nodes only when the fault is applied, because "the leader" is
whoever leads at that moment.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nemeses.base import NemesisError

# "primaries" (Jepsen's word) is the leader in Raft; "minority-third" is < n/3 nodes;
# "follower" is one node that is not the leader.
TARGETS = (
    "one",
    "minority",
    "minority-third",
    "majority",
    "leader",
    "primaries",
    "follower",
    "all",
)
# How long a fault aimed at the leader waits for an election when no leader is known
# right now (just after a kill or a heal): hitting a random node instead misses the bug.
LEADER_WAIT_S = 3.0


def waiting_leader(
    leader: Callable[[], str | None], timeout: float = LEADER_WAIT_S, interval: float = 0.1
) -> Callable[[], str | None]:
    """`leader`, but when it knows none, polled until one is elected or `timeout` passes."""

    def wait() -> str | None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                who = leader()
            except Exception:  # noqa: BLE001 - a failing probe is "no leader yet"
                who = None
            if who is not None or time.monotonic() >= deadline:
                return who
            time.sleep(interval)

    return wait


def minority_size(n: int) -> int:
    return max(1, (n - 1) // 2)


def minority_third_size(n: int) -> int:
    return max(1, (n - 1) // 3)


def majority_size(n: int) -> int:
    return n // 2 + 1


@dataclass
class Resolved:
    """The nodes a spec picked, and a note when it had to improvise (e.g. no leader)."""

    nodes: list[str]
    note: str | None = None


def _is_node(name: str, nodes: Sequence[str] | None) -> bool:
    """A known node, or (nodes not known yet) a name shaped like the spec's n1..nN."""
    return name in nodes if nodes is not None else re.fullmatch(r"n\d+", name) is not None


def validate_target(spec: Any, nodes: Sequence[str] | None, where: str) -> None:
    """Raise NemesisError naming `where` unless `spec` is a valid target for `nodes`."""
    if isinstance(spec, str):
        if spec in TARGETS or _is_node(spec, nodes):
            return
        raise NemesisError(
            f"unknown target {spec!r} (expected one of {', '.join(TARGETS)}, "
            f"a node name or a list of node names)",
            where=where,
        )
    if isinstance(spec, list) and spec and all(isinstance(n, str) for n in spec):
        unknown = [n for n in spec if not _is_node(n, nodes)]
        if unknown:
            raise NemesisError(f"unknown node(s) {', '.join(unknown)}", where=where)
        return
    raise NemesisError(
        f"a target must be a name or a non-empty list of node names, not {spec!r}", where=where
    )


def resolve(
    spec: Any,
    nodes: Sequence[str],
    rng: random.Random,
    leader: Callable[[], str | None],
    *,
    available: Sequence[str] | None = None,
) -> Resolved:
    """Concrete nodes for `spec`, drawn with `rng` from `available` (default: all nodes).

    Sizes (minority, majority) are relative to the whole cluster, so "majority" still
    means a quorum's worth of nodes even when some are unavailable; if fewer are
    available, all available ones are taken and the note says so."""
    pool = sorted(available if available is not None else nodes)
    n = len(nodes)
    if isinstance(spec, list):
        chosen = [x for x in spec if x in pool]
        note = (
            None
            if len(chosen) == len(spec)
            else f"skipped unavailable {sorted(set(spec) - set(chosen))}"
        )
        return Resolved(sorted(chosen), note)
    if spec in nodes:
        return Resolved(
            [spec] if spec in pool else [], None if spec in pool else f"{spec} unavailable"
        )
    if spec in ("leader", "primaries"):
        who = leader()
        if who is not None and who in pool:
            return Resolved([who])
        if not pool:
            return Resolved([], "no node available")
        pick = rng.choice(pool)
        return Resolved(
            [pick], f"leader {'unknown' if who is None else who + ' unavailable'}; chose {pick}"
        )
    if spec == "follower":
        who = leader()
        followers = [n for n in pool if n != who]
        if not followers:
            return Resolved([], "no follower available")
        return Resolved([rng.choice(followers)], None if who else "leader unknown")
    sizes = {"one": 1, "minority": minority_size(n), "minority-third": minority_third_size(n)}
    size = {**sizes, "majority": majority_size(n), "all": n}.get(spec)
    if size is None:
        raise NemesisError(f"unknown target {spec!r}")
    if size >= len(pool):
        note = None if size == len(pool) else f"wanted {size} nodes, only {len(pool)} available"
        return Resolved(list(pool), note)
    return Resolved(sorted(rng.sample(pool, size)))
